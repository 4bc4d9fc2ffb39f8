"""`ganhub train` and `ganhub export`."""
import json
import re
from pathlib import Path

from ganhub.errors import ConfigError
from ganhub.training.distribute import STRATEGIES

CHECKPOINT_SUBDIR = "checkpoints"  # as ganhub.training.loop writes them


def register(sub):
    p = sub.add_parser(
        "train", help="train a GAN (or resume one)",
        description="Train a GAN from a preset and/or a JSON config into --model-dir. Layers: the "
                    "preset, then the keys of CONFIG, then each --set. Rerunning the same command "
                    "resumes from the last checkpoint; raise `steps` with --set to train longer. "
                    "`--list-presets` shows the presets (data set and what each reproduces); "
                    "`--print-config` shows every config key with its value. To reproduce "
                    "ganhub's default model: ganhub train --preset default_fashion_mnist "
                    "--model-dir runs/default, then ganhub export runs/default default-model.")
    p.add_argument("config", nargs="?", help="training config JSON (any config keys, see "
                                              "--print-config); optional with --preset")
    p.add_argument("--model-dir", help="where checkpoints, config.json and logs go (required to "
                                       "train)")
    p.add_argument("--preset", metavar="NAME",
                   help="start from a preset, e.g. default_fashion_mnist (Fashion-MNIST, works "
                        "offline) or sndcgan_cifar10_sn (see --list-presets)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set steps=2000")
    p.add_argument("--list-presets", action="store_true",
                   help="list the presets with their data set and what each reproduces, and exit")
    p.add_argument("--print-config", action="store_true",
                   help="print the resulting config (every key) as JSON and exit without training")
    p.add_argument("--strategy", default="default",
                   choices=STRATEGIES,
                   help="tf.distribute strategy: one device, all local GPUs, the TF_CONFIG "
                        "cluster, or a TPU (default: one device)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train, check=check_train)

    p = sub.add_parser(
        "export", help="export a trained generator as a TF Hub module",
        description="Export the latest checkpoint of MODEL_DIR as a TF2 SavedModel at OUT "
                    "(serving_default: z [None, z_dim] -> images [None, H, W, C] in [0, 1], "
                    "metadata in assets/ganhub.json), plus OUT.tar.gz, OUT.tar.gz.sha256 and a "
                    "model card OUT.md.")
    p.add_argument("model_dir", help="a training dir written by `ganhub train`")
    p.add_argument("out", help="SavedModel directory to create")
    p.add_argument("--name", help="module name in the metadata (default: OUT's folder name)")
    p.add_argument("--checkpoint", help="a specific checkpoint prefix (default: the latest)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it exists (with --no-archive, also delete the replaced "
                        "export's OUT.tar.gz, .sha256 and .md)")
    p.add_argument("--no-archive", action="store_true", help="skip the .tar.gz and model card")
    p.add_argument("--weights", choices=("auto", "ema", "raw"), default="auto",
                   help="which generator weights: the generator EMA (config g_ema_decay > 0; with "
                        "BN statistics recomputed for it), the raw trained ones, or auto: the EMA "
                        "when the run has one (default: auto)")
    p.add_argument("--scores", metavar="EVAL.json",
                   help="write the scores of `ganhub evaluate OUT ... --json > EVAL.json` (an "
                        "earlier export of the same checkpoint) into the metadata")
    p.set_defaults(func=run_export, check=check_export)


# --- checkpoints, read without TensorFlow ---------------------------------------------------------

def latest_checkpoint(model_dir):
    """The prefix of the latest checkpoint named in ``<model_dir>/checkpoints/checkpoint``, or
    None. The file is the text CheckpointManager writes: model_checkpoint_path: "ckpt-500"."""
    state = Path(model_dir) / CHECKPOINT_SUBDIR / "checkpoint"
    try:
        text = state.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        return None
    prefix = Path(match.group(1))
    return prefix if prefix.is_absolute() else state.parent / prefix


def checkpoint_step(prefix):
    """ganhub numbers checkpoints by their step (ckpt-<step>)."""
    match = re.fullmatch(r"ckpt-(\d+)", Path(prefix).name)
    return int(match.group(1)) if match else None


def missing_checkpoint_files(prefix):
    """Files a TF checkpoint needs that are not there: <prefix>.index and every data shard."""
    prefix = Path(prefix)
    missing = [] if Path(f"{prefix}.index").is_file() else [f"{prefix.name}.index"]
    shards = sorted(prefix.parent.glob(f"{prefix.name}.data-*-of-*"))
    if not shards:
        return missing + [f"{prefix.name}.data-00000-of-00001"]
    count = int(shards[0].name.rsplit("-of-", 1)[1])
    for i in range(count):
        name = f"{prefix.name}.data-{i:05d}-of-{count:05d}"
        if not (prefix.parent / name).is_file():
            missing.append(name)
    return missing


# --- train ----------------------------------------------------------------------------------------

def _check_set_types(assignments):
    """--set values against the config's field types, naming the key (Config itself would fail
    with a bare 'could not convert string to float')."""
    import dataclasses

    from ganhub.training.config import Config
    types = {f.name: f.type for f in dataclasses.fields(Config)}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            continue  # Config.with_overrides names these
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        kind = types[key]
        kind = {"float": float, "int": int, "bool": bool, "str": str}.get(kind, kind)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            want = "a number, e.g. 0.5"
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        elif kind is bool and key == "jit_compile":  # or "auto" (training.config)
            ok, want = isinstance(value, bool) or value == "auto", 'true or false, or "auto"'
        elif kind is bool:
            ok, want = isinstance(value, bool), "true or false"
        else:
            ok, want = isinstance(value, str), "a string"
        if not ok:
            raise ConfigError(f"--set {item}: {key} must be {want}, got {raw!r}")


def check_train(args):
    """Everything but the training itself runs before TensorFlow is imported: listing presets,
    printing the config, and building and validating the config (registries load without TF)."""
    if args.list_presets:
        args.tensorflow = False
        return
    if args.config is None and args.preset is None:
        raise ConfigError("give a CONFIG.json, a --preset NAME, or both "
                          "(`ganhub train --list-presets` lists the presets)")
    if args.model_dir is None and not args.print_config:
        raise ConfigError("give --model-dir DIR: where checkpoints, config.json and logs go")
    if args.config is not None and not Path(args.config).is_file():
        raise ConfigError(f"config file {args.config} does not exist")
    args.built_config = _checked_config(args)
    if args.print_config:
        args.tensorflow = False


def _checked_config(args):
    from ganhub.errors import GanhubError
    try:
        return build_config(args)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, GanhubError):
            raise
        raise ConfigError(f"invalid config value: {exc}") from None


def list_presets():
    """Rows (name, data set, steps, what it reproduces) of every preset."""
    from ganhub.training.presets import describe_presets
    return describe_presets()


def _print_presets():
    rows = [("NAME", "DATA SET", "STEPS", "REPRODUCES")]
    rows += [(r["name"], r["dataset"], f"{r['steps']:,}", r["reproduces"]) for r in list_presets()]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
    print("\nTrain one with: ganhub train --preset NAME --model-dir DIR [--set key=value ...]; "
          "cifar10, celebahq128 and lsun_bedroom need their data (--set data_dir=...), "
          "fashion_mnist and mnist read the Debian dataset packages offline.")


def build_config(args):
    from ganhub.training import Config
    if args.preset:
        from ganhub.training.presets import get_preset
        config = get_preset(args.preset)
        if args.config:  # the file's keys override the preset's
            config = Config.from_dict({**config.to_dict(), **Config.load_dict(args.config)})
    else:
        config = Config.load(args.config)
    _check_set_types(args.set)
    return config.with_overrides(args.set)


def run_train(args):
    if args.list_presets:
        _print_presets()
        return 0
    config = getattr(args, "built_config", None) or _checked_config(args)
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=2, sort_keys=True))
        return 0
    from ganhub.training import train
    latest = latest_checkpoint(args.model_dir)
    if latest is not None:
        step = checkpoint_step(latest)
        print(f"resuming {args.model_dir} from step {step if step is not None else '?'} "
              f"({latest.name}), training to step {config.steps:,}", flush=True)
    result = train(config, args.model_dir, progress=not args.quiet, strategy=args.strategy)
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


# --- export ---------------------------------------------------------------------------------------

def check_export(args):
    """A run dir with a config and a complete checkpoint, before TensorFlow is imported (a missing
    data file used to surface as a raw OpError from the restore)."""
    model_dir = Path(args.model_dir)
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"{model_dir} is not a training dir: config.json is missing (train one "
                          f"with `ganhub train --preset NAME --model-dir {model_dir}`)")
    prefix = Path(args.checkpoint) if args.checkpoint else latest_checkpoint(model_dir)
    if prefix is None:
        raise ConfigError(f"{model_dir} has no checkpoint yet; train it first")
    missing = missing_checkpoint_files(prefix)
    if missing:
        raise ConfigError(f"checkpoint {prefix} is incomplete: {', '.join(missing)} missing; "
                          f"restore the file, or export an older checkpoint with --checkpoint")


def _read_checkpoint(prefix):
    """Read every tensor of the checkpoint once: a corrupt file fails here, in one line, instead
    of deep inside the restore (as an OpError, or an IndexError from the reader)."""
    import tensorflow as tf
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, IndexError, ValueError) as exc:
        first = (str(getattr(exc, "message", exc)).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot read the checkpoint {prefix}: {first}; export an older one with "
                          f"--checkpoint") from None


def run_export(args):
    import tensorflow as tf

    from ganhub.export import export_module
    _read_checkpoint(Path(args.checkpoint) if args.checkpoint else latest_checkpoint(args.model_dir))
    try:
        result = export_module(args.model_dir, args.out, name=args.name, overwrite=args.overwrite,
                               archive=not args.no_archive, checkpoint=args.checkpoint,
                               scores=args.scores, weights=args.weights)
    except tf.errors.OpError as exc:  # a corrupt checkpoint file, found only when it is read
        first = (str(exc.message).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot read the checkpoint of {args.model_dir}: {first}") from None
    print(f"exported {result['path']}")
    if "archive" in result:
        print(f"archive  {result['archive']}  sha256 {result['sha256']}  {result['size']} bytes")
    load_from = Path(result.get("archive") or result["path"]).resolve()
    print(f"load it from anywhere with: ganhub.load({str(load_from)!r})")
    return 0
