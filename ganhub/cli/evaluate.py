"""`ganhub evaluate` and `ganhub stats`. TensorFlow is imported only inside the commands."""
import json
import sys

from ganhub import settings
from ganhub.cli.args import positive_int, seed_int
from ganhub.cli.sample import add_load_options, check_model_handle
from ganhub.errors import BadInputError

# Data set names (read by ganhub.training.data) and their splits: a reference such as
# fashion_mnist-tset is refused before TensorFlow is imported, naming the split.
from ganhub.metrics.data import DATA_NAMES  # noqa: E402
from ganhub.metrics.evaluation import parse_metrics  # noqa: E402,F401  (TF-free)

_COST_NOTE = ("Cost: every image goes through Inception at 299×299; on a 2-core laptop CPU that is "
              "about {rate:g} images/s, so the default -n 10000 takes about {minutes} min, and as "
              "long again the first time a reference is computed from a data set (cached "
              "afterwards). Smaller -n is quicker but biases FID upwards (compare FIDs only at "
              "equal -n); KID is unbiased at any -n.")
# Measured with the offline FID Inception on a shared 2-core CPU, 32×32 grey images, legacy
# resize (README, "Evaluation", Cost).
CPU_IMAGES_PER_SECOND = 6.5


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="score a generator (FID, KID, IS, MS-SSIM) against reference statistics",
        description="Score a generator against reference statistics. " + _COST_NOTE.format(
            rate=CPU_IMAGES_PER_SECOND,
            minutes=round(settings.EVAL_NUM_SAMPLES / CPU_IMAGES_PER_SECOND / 60)))
    p.add_argument("handle", nargs="?", help="catalog name, module path or URL (with --table: "
                                             "only this catalog model)")
    p.add_argument("--reference", "-r",
                   help="reference .npz from `ganhub stats`, a data name such as cifar10-test, a "
                        "catalog reference (`ganhub list --kind reference`) or its URL; default: "
                        "the one the catalog entry of HANDLE names")
    p.add_argument("--reference-protocol", metavar="KEY=VALUE,...",
                   help="for TTUR / pytorch-fid / clean-fid .npz statistics: how they were made, "
                        "e.g. extractor=fid_inception_offline,resize=legacy,dataset=cifar10,"
                        "split=train,num_samples=50000 (extractor and resize are checked)")
    p.add_argument("--data-dir", help="where a data-name reference's files are (as a training "
                                      "config's data_dir; default: the data set's usual place)")
    p.add_argument("-n", "--num-samples", type=positive_int, default=settings.EVAL_NUM_SAMPLES,
                   help=f"generated images (default {settings.EVAL_NUM_SAMPLES}, the study's N)")
    p.add_argument("--metrics", default="fid",
                   help="comma-separated: fid,kid,is,ms_ssim,precision,recall,density,coverage,ppl "
                        "(default fid; is needs --extractor tfgan_inception)")
    p.add_argument("--ppl-samples", type=positive_int, default=None,
                   help="perceptual path length samples, two images each (default 1,000 on a CPU, "
                        "10,000 with a GPU; Karras et al. used 100,000)")
    p.add_argument("--seed", type=seed_int, default=settings.EVAL_SEED,
                   help=f"latent seed (default {settings.EVAL_SEED})")
    add_load_options(p)
    _add_protocol_args(p)
    p.add_argument("--json", action="store_true", help="print the result and protocol as JSON")
    from ganhub.metrics.reevaluate import add_arguments as add_table_arguments
    add_table_arguments(p)  # --table OUT.csv and the filters of `ganhub list`
    p.set_defaults(func=cmd_evaluate, check=check_evaluate)

    p = subparsers.add_parser("stats", help="compute reference statistics of real images")
    p.add_argument("data", nargs="?",
                   help=f"data set name ({', '.join(DATA_NAMES)}, image_folder_N), image "
                        f"folder, or .npz of images")
    p.add_argument("--split", default="test", help="data set split (default test, as the study)")
    p.add_argument("--data-dir", help="where the data set's files are (as a training config's "
                                      "data_dir; default: the data set's usual place)")
    p.add_argument("-n", "--num-samples", type=positive_int, default=settings.EVAL_NUM_SAMPLES,
                   help=f"first N images in data set order (default {settings.EVAL_NUM_SAMPLES})")
    p.add_argument("-o", "--output",
                   help="write the reference here, .npz appended if missing (default: the ganhub "
                        "cache, where `--reference DATA-SPLIT` finds it)")
    _add_protocol_args(p)
    p.add_argument("--download-weights", action="store_true",
                   help="only fetch and convert the offline Inception weights, then exit")
    p.add_argument("--json", action="store_true", help="print the provenance as JSON")
    p.set_defaults(func=cmd_stats, check=check_stats)


def _add_protocol_args(p):
    p.add_argument("--extractor", default=settings.DEFAULT_EXTRACTOR,
                   help="fid_inception_offline (default), tfgan_inception, or a SavedModel path/URL")
    p.add_argument("--resize", default=settings.DEFAULT_RESIZE, choices=("legacy", "clean"),
                   help="legacy = the study's TF1 bilinear; clean = antialiased bicubic")
    p.add_argument("--batch-size", type=positive_int, default=settings.EXTRACTOR_BATCH_SIZE,
                   help=f"images per extractor call (default {settings.EXTRACTOR_BATCH_SIZE})")


def check_evaluate(args):
    """Arguments, names and files, before TensorFlow is imported."""
    from ganhub.metrics.extractors import check_extractor
    metrics = parse_metrics(args.metrics)
    if args.table:  # many catalog models, each with its own reference (ganhub/metrics/reevaluate.py)
        from ganhub.metrics.reevaluate import check_table_args
        return check_table_args(args)
    if not args.handle:
        raise BadInputError("give HANDLE (a model to evaluate), or --table OUT.csv to evaluate "
                            "every catalog model matching --dataset/--architecture/...")
    if "is" in metrics and args.extractor == "fid_inception_offline":
        raise BadInputError("--metrics is (the Inception Score) needs a classifier head, which "
                            "fid_inception_offline lacks; add --extractor tfgan_inception or drop is")
    from ganhub.metrics.evaluation import EXTRACTOR_METRICS, REFERENCE_METRICS
    needing = [m for m in metrics if m in REFERENCE_METRICS]
    if needing:
        if not args.reference:  # the reference a catalog model names, if it names one
            from ganhub.metrics.references import default_reference
            args.reference = default_reference(args.handle)
        if not args.reference:
            raise BadInputError(f"{' and '.join(needing)} need{'s' if len(needing) == 1 else ''} "
                                f"reference statistics: add --reference fashion_mnist_32-test (a "
                                f"data name) or an .npz made by `ganhub stats`")
        from ganhub.metrics.references import check_reference
        check_reference(args.reference)
    check_model_handle(args.handle, args.offline)
    if set(EXTRACTOR_METRICS) & set(metrics):
        check_extractor(args.extractor, args.offline)


def check_stats(args):
    from ganhub.metrics.extractors import check_extractor
    if args.output and not args.download_weights:  # the output first: it is the cheapest to fix
        from ganhub.metrics.stats import check_writable
        check_writable(args.output if args.output.endswith(".npz") else args.output + ".npz")
    if args.data and not args.download_weights:
        from ganhub.metrics.data import check_source
        check_source(args.data, args.split)
    if not args.download_weights:
        check_extractor(args.extractor)


class _Counted:
    """A generator whose calls advance a progress bar with a total (evaluate's own bar over the
    generated images cannot know it), forwarding everything else."""

    def __init__(self, generator, bar):
        self._generator, self._bar = generator, bar

    def __getattr__(self, name):
        return getattr(self._generator, name)

    def __call__(self, z, *args, **kwargs):
        images = self._generator(z, *args, **kwargs)
        self._bar.update(len(images))
        return images


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
    if args.table:
        from ganhub.metrics.reevaluate import run_cli
        return run_cli(args)
    from ganhub import load
    from ganhub.metrics.evaluation import evaluate, protocol_differences, resolve_reference
    from ganhub.metrics.extractors import load_extractor

    generator = load(args.handle, offline=args.offline, trust=args.trust)
    metadata = getattr(generator, "metadata", {}) or {}
    metrics = list(parse_metrics(args.metrics))
    from ganhub.metrics.evaluation import EXTRACTOR_METRICS, METRICS, REFERENCE_METRICS
    extractor, reference = None, args.reference
    if set(EXTRACTOR_METRICS) & set(metrics):
        extractor = load_extractor(args.extractor, offline=args.offline)
    if set(REFERENCE_METRICS) & set(metrics):
        # Its own stage, with its own bar (with a total), when the statistics are not cached yet.
        reference = resolve_reference(args.reference, args.num_samples, extractor, args.resize,
                                      data_dir=args.data_dir, declared=args.reference_protocol,
                                      offline=args.offline)
    from ganhub.metrics.evaluation import MS_SSIM_BATCH_SIZE, MS_SSIM_BATCHES
    total = (args.num_samples if (set(EXTRACTOR_METRICS) - {"ppl"}) & set(metrics) else 0) + (
        MS_SSIM_BATCHES * MS_SSIM_BATCH_SIZE if "ms_ssim" in metrics else 0)
    if "ppl" in metrics:
        from ganhub.metrics.beyond_fid import ppl_sample_count
        total += 2 * ppl_sample_count(args.ppl_samples)[0]  # two images per path-length sample
    from tqdm import tqdm
    with tqdm(total=total, desc="generate and score", unit="img", leave=False,
              disable=settings.progress_disabled()) as bar:
        result = evaluate(_Counted(generator, bar), reference=reference, metrics=metrics,
                          num_samples=args.num_samples, seed=args.seed, extractor=extractor,
                          resize=args.resize, batch_size=args.batch_size, progress=False,
                          ppl_samples=args.ppl_samples)
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
    for key in METRICS:
        if key in result:
            measured = f"{result[key]:.4f}"
            std = result.get(f"{key}_std")
            if std is not None and std == std:  # NaN: a single KID block has no spread
                measured += f" ±{std:.4f}"
            ref = f"{reported[key]:.4f}" if key in reported else "-"
            print(f"{key:<10}{measured:>14}{ref:>14}")
    if "ppl" in protocol:
        from ganhub.metrics.beyond_fid import describe_ppl
        print(f"note: {describe_ppl(protocol['ppl'])}")
    # One note per distinct protocol difference, naming every metric it applies to (fid and kid
    # of one evaluation share a protocol; the note used to be printed once per metric).
    for lines, keys in _group(notes).items():
        print(f"note: {_names(keys)} {'was' if len(keys) == 1 else 'were'} reported under another "
              f"protocol, so the numbers are not directly comparable:")
        for line in lines:
            print(f"  {line}")
    texts = {key: (reported_protocols[key],) for key in reported
             if key in result and isinstance(reported_protocols.get(key), str)}
    for (text,), keys in _group(texts).items():
        print(f"note: {_names(keys)} reported under: {text}")
    return 0


def _group(by_key):
    """{key: lines} → {tuple(lines): [keys with those lines]}, in first-seen order."""
    grouped = {}
    for key, lines in by_key.items():
        grouped.setdefault(tuple(lines), []).append(key)
    return grouped


def _names(keys):
    return " and ".join(keys) if len(keys) < 3 else ", ".join(keys[:-1]) + f" and {keys[-1]}"


def cmd_stats(args):
    from ganhub.metrics.evaluation import reference_from_data
    from ganhub.metrics.extractors import load_extractor

    if args.download_weights:
        from ganhub.metrics.extractors import load_offline_extractor
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
                                    cache=args.output is None, data_dir=args.data_dir)
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
