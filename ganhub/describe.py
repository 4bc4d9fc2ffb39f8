"""How module metadata reads as text: the same phrase for z, the penalty, the generator weights
and a score's protocol in `ganhub info`, `ganhub list`, the served page, evaluation notes and model
cards (core: the exporter and every reader use it)."""


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_z(z):
    """One phrase for an entry's ``z`` {dim, distribution, batch_size}, the same in `ganhub info`,
    `ganhub list`, the served page and the model card: '128-d uniform(-1, 1), any batch size'."""
    if not isinstance(z, dict) or not z:
        return "-"
    dist = z.get("distribution")
    if isinstance(dist, dict):
        name = dist.get("name", "uniform")
        if name == "uniform":
            args = (dist.get("low", -1.0), dist.get("high", 1.0))
        elif name == "normal":
            args = (dist.get("mean", 0.0), dist.get("stddev", 1.0))
        else:
            args = tuple(v for k, v in sorted(dist.items()) if k != "name")
        dist = f"{name}({', '.join(_number(a) for a in args)})"
    text = f"{z.get('dim', '?')}-d {dist or 'uniform(-1, 1)'}"
    batch = z.get("batch_size")
    return text + (f", batch of exactly {batch}" if batch else ", any batch size")


def format_penalty(penalty):
    """'none', or 'wgan_gp (λ=10)', for a penalty {type, lambda} or a bare type string."""
    if isinstance(penalty, dict):
        kind, lam = penalty.get("type") or "?", penalty.get("lambda")
    else:
        kind, lam = penalty, None
    if kind is None:
        return "-"
    if kind == "none" or lam is None:
        return str(kind)
    return f"{kind} (λ={_number(float(lam))})"


def describe_weights(weights):
    """One line on which generator weights a module holds (metadata training.generator_weights);
    None when the metadata does not say (modules exported before ganhub recorded it)."""
    if not isinstance(weights, dict):
        return None
    if weights.get("kind") != "ema":
        return "G as trained (no weight averaging; BN moving averages from training)"
    bn = weights.get("bn_statistics") or {}
    return (f"exponential moving average of G (decay {weights.get('decay')}, from step "
            f"{weights.get('start')}); BN statistics recomputed for it ({bn.get('batches')} "
            f"batches of {bn.get('batch_size')})")


def protocol_reference(protocol):
    """A score protocol's reference as a dict: a ganhub evaluation records the reference file's
    provenance {dataset, split, num_samples, …}; a study trial records its name, "DATA-SPLIT"
    ({dataset, split}) or a file path ({name})."""
    ref = protocol.get("reference") if isinstance(protocol, dict) else None
    if isinstance(ref, dict):
        return ref
    if isinstance(ref, str) and ref:
        dataset, dash, split = ref.rpartition("-")
        if dash and dataset and split.isalpha() and "/" not in ref and not ref.endswith(".npz"):
            out = {"dataset": dataset, "split": split}
            count = protocol.get("num_samples")
            if "study" in protocol and isinstance(count, int) and not isinstance(count, bool):
                # a study scores against the first num_samples images of a named data set
                # (ganhub.study.evaluators: resolve_reference(reference, num_samples, ...))
                out["num_samples"] = count
            return out
        return {"name": ref}
    return {}


def protocol_extractor(protocol):
    """The feature extractor's id (an evaluation's "extractor_id", a study trial's "extractor")."""
    return protocol.get("extractor_id") or protocol.get("extractor")


def reference_words(ref):
    """'10,000 fashion_mnist_32 test images' (count when known), or a reference's name."""
    if "name" in ref and "dataset" not in ref:
        return str(ref["name"])
    count = ref.get("num_samples")
    words = (count_words(count) if count else None, ref.get("dataset", "?"), ref.get("split"),
             "images")
    return " ".join(str(w) for w in words if w)


def count_words(value):
    """10000 -> '10,000'; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def protocol_facts(protocol):
    """What a score's protocol dict says, in display order, from either shape (a ganhub
    evaluation's, or a study trial's: reference name, "extractor"); facts it does not record are
    absent. The one reader behind `summarize_protocol` (CLI, model cards) and the served page."""
    ref = protocol_reference(protocol)
    facts = {"generated": count_words(protocol.get("num_samples", "?"))}
    if ref:
        facts["reference"] = reference_words(ref)
    if protocol_extractor(protocol):
        facts["extractor"] = str(protocol_extractor(protocol))
    if protocol.get("extractor_sha256"):
        facts["extractor_sha256"] = str(protocol["extractor_sha256"])[:12]
    if "resize" in protocol:
        facts["resize"] = protocol["resize"]
    facts["seed"] = protocol.get("seed", "?")
    if "kid_blocks" in protocol:
        facts["kid_blocks"] = protocol["kid_blocks"]
    if ref.get("source_sha256"):
        facts["reference_sha256"] = str(ref["source_sha256"])[:12]
    generator = protocol.get("generator")
    generator = generator if isinstance(generator, dict) else {}   # metadata is untrusted
    if "training_steps" in generator:
        weights = generator.get("generator_weights")
        kind = weights.get("kind") if isinstance(weights, dict) else None
        which = {"ema": "EMA weights", "raw": "raw weights"}.get(kind, "weights")
        facts["scored"] = f"{which} at step {count_words(generator['training_steps'])}"
    if protocol.get("ganhub_version"):
        facts["ganhub_version"] = protocol["ganhub_version"]
    return facts


def summarize_protocol(protocol):
    """One line for a score's protocol: a ganhub evaluation's or a study trial's dict, or a
    catalog's free text."""
    if not isinstance(protocol, dict):
        return str(protocol) if protocol else "protocol not given"
    f = protocol_facts(protocol)
    parts = [f"{f['generated']} generated" + (f" vs {f['reference']}" if "reference" in f else "")]
    if "extractor" in f:
        parts.append(f["extractor"] + (f" ({f['extractor_sha256']})" if "extractor_sha256" in f
                                       else ""))
    if "resize" in f:
        parts.append(f"resize {f['resize']}")
    parts.append(f"seed {f['seed']}")
    if "kid_blocks" in f:
        parts.append(f"KID blocks {f['kid_blocks']}")
    return ", ".join(parts)
