"""`ganhub evaluate` and `ganhub stats`. TensorFlow is imported only inside the commands."""
import json
import sys

from ganhub import settings
from ganhub.cli.sample import add_load_options, positive_int, seed_int


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="score a generator (FID, KID, IS, MS-SSIM) against reference statistics")
    p.add_argument("handle", help="catalog name, module path or URL")
    p.add_argument("--reference", "-r",
                   help="reference .npz from `ganhub stats`, or a data name such as fashion_mnist-test")
    p.add_argument("-n", "--num-samples", type=positive_int, default=settings.EVAL_NUM_SAMPLES,
                   help=f"generated images (default {settings.EVAL_NUM_SAMPLES}, the study's N)")
    p.add_argument("--metrics", default="fid",
                   help="comma-separated: fid,kid,is,ms_ssim (default fid; is needs "
                        "--extractor tfgan_inception)")
    p.add_argument("--seed", type=seed_int, default=settings.EVAL_SEED,
                   help=f"latent seed (default {settings.EVAL_SEED})")
    add_load_options(p)
    _add_protocol_args(p)
    p.add_argument("--json", action="store_true", help="print the result and protocol as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("stats", help="compute reference statistics of real images")
    p.add_argument("data", nargs="?",
                   help="data set name (fashion_mnist), image folder, or .npz of images")
    p.add_argument("--split", default="test", help="data set split (default test, as the study)")
    p.add_argument("-n", "--num-samples", type=positive_int, default=settings.EVAL_NUM_SAMPLES,
                   help=f"first N images in data set order (default {settings.EVAL_NUM_SAMPLES})")
    p.add_argument("-o", "--output",
                   help="write the reference here, .npz appended if missing (default: the ganhub "
                        "cache, where `--reference DATA-SPLIT` finds it)")
    _add_protocol_args(p)
    p.add_argument("--download-weights", action="store_true",
                   help="only fetch and convert the offline Inception weights, then exit")
    p.add_argument("--json", action="store_true", help="print the provenance as JSON")
    p.set_defaults(func=cmd_stats)


def _add_protocol_args(p):
    p.add_argument("--extractor", default=settings.DEFAULT_EXTRACTOR,
                   help="fid_inception_offline (default), tfgan_inception, or a SavedModel path/URL")
    p.add_argument("--resize", default=settings.DEFAULT_RESIZE, choices=("legacy", "clean"),
                   help="legacy = the study's TF1 bilinear; clean = antialiased bicubic")
    p.add_argument("--batch-size", type=positive_int, default=settings.EXTRACTOR_BATCH_SIZE,
                   help=f"images per extractor call (default {settings.EXTRACTOR_BATCH_SIZE})")


# Score names used by catalogs and module metadata → the metric names of `--metrics`.
_SCORE_ALIASES = {"inception_score": "is", "ms-ssim": "ms_ssim"}


def _reported(metadata, entry=None):
    """Published scores → ({"fid": 12.3}, {"fid": protocol}), from the catalog entry (where the
    compare_gan modules, which carry no metadata, have theirs) and the module's metadata (which
    wins). A score is a number or {"value": ..., "protocol": dict or text}."""
    values, protocols = {}, {}
    for source in (entry or {}, metadata or {}):
        for key, score in (source.get("scores") or {}).items():
            protocol = None
            if isinstance(score, dict):
                score, protocol = score.get("value"), score.get("protocol")
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                key = _SCORE_ALIASES.get(key.lower(), key.lower())
                values[key], protocols[key] = float(score), protocol
    return values, protocols


def _json_safe(value):
    """NaN (KID's std with one block) → null, so the output is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def cmd_evaluate(args):
    from ganhub.metrics.evaluation import evaluate, protocol_differences
    from ganhub.metrics.extractors import load_extractor

    from ganhub import load

    generator = load(args.handle, offline=args.offline, trust=args.trust)
    metadata = getattr(generator, "metadata", {}) or {}
    metrics = [m for m in args.metrics.split(",") if m.strip()]
    result = evaluate(generator, reference=args.reference, metrics=metrics,
                      num_samples=args.num_samples, seed=args.seed,
                      extractor=load_extractor(args.extractor), resize=args.resize,
                      batch_size=args.batch_size)
    reported, reported_protocols = _reported(metadata, getattr(generator, "entry", None))
    notes = {key: protocol_differences(reported_protocols.get(key), result["protocol"])
             for key in reported if key in result}
    notes = {key: lines for key, lines in notes.items() if lines}
    if args.json:
        print(json.dumps(_json_safe({**result, "reported": reported, "reported_protocol_notes": notes}),
                         indent=2, sort_keys=True, default=str, allow_nan=False))
        return 0
    protocol = result["protocol"]
    print(f"{args.handle}: {protocol['num_samples']} samples, seed {protocol['seed']}, "
          f"extractor {protocol.get('extractor_id', '-')}, resize {protocol.get('resize', '-')}")
    print(f"{'metric':<10}{'measured':>14}{'reported':>14}")
    for key in ("fid", "kid", "is", "ms_ssim"):
        if key in result:
            measured = f"{result[key]:.4f}"
            std = result.get(f"{key}_std")
            if std is not None and std == std:  # NaN: a single KID block has no spread
                measured += f" ±{std:.4f}"
            ref = f"{reported[key]:.4f}" if key in reported else "-"
            print(f"{key:<10}{measured:>14}{ref:>14}")
    for key, lines in notes.items():
        print(f"note: {key} was reported under another protocol, so the two numbers are not "
              f"directly comparable:")
        for line in lines:
            print(f"  {line}")
    for key in reported:
        if key in result and isinstance(reported_protocols.get(key), str):
            print(f"note: {key} reported under: {reported_protocols[key]}")
    return 0


def cmd_stats(args):
    from ganhub.metrics.evaluation import reference_from_data
    from ganhub.metrics.extractors import load_extractor

    if args.download_weights:
        from ganhub.metrics.inception import load_offline_extractor
        extractor = load_offline_extractor()
        print(f"{extractor.id} ready (sha256 {extractor.sha256[:12]}…)")
        return 0
    if not args.data:
        print("ganhub stats: error: give DATA (or --download-weights)", file=sys.stderr)
        return 2
    if args.output:
        from ganhub.metrics.stats import check_writable
        check_writable(args.output if args.output.endswith(".npz") else args.output + ".npz")
    extractor = load_extractor(args.extractor)
    reference = reference_from_data(args.data, args.split, args.num_samples, extractor, args.resize,
                                    cache=args.output is None)
    if args.output:
        path = reference.save(args.output)
    else:
        path = settings.cache_dir() / "references" / f"{reference.provenance.get('content_key')}.npz"
    if args.json:
        print(json.dumps({"path": str(path), **reference.provenance}, indent=2, sort_keys=True))
    else:
        p = reference.provenance
        print(f"{path}: {p['num_samples']} images of {p.get('dataset')} ({p.get('split')}), "
              f"extractor {p['extractor_id']}, resize {p['resize']}")
    return 0
