"""`ganhub train` and `ganhub export`."""


def register(sub):
    p = sub.add_parser(
        "train", help="train a GAN (or resume one)",
        description="Train a GAN from a JSON config and/or a preset into --model-dir. Layers: the "
                    "preset, then the keys of CONFIG, then each --set. Rerunning the same command "
                    "resumes from the last checkpoint; raise `steps` with --set to train longer.")
    p.add_argument("config", nargs="?", help="training config JSON (keys: see training/config.py); "
                                              "optional with --preset")
    p.add_argument("--model-dir", required=True, help="where checkpoints, config.json and logs go")
    p.add_argument("--preset", metavar="NAME",
                   help="start from one of the study's best-model settings, e.g. "
                        "sndcgan_cifar10_sn (list: training/presets.py)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set steps=2000")
    p.add_argument("--strategy", default="default",
                   choices=("default", "mirrored", "multi_worker", "tpu"),
                   help="tf.distribute strategy: one device, all local GPUs, the TF_CONFIG "
                        "cluster, or a TPU (default: one device)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

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
    p.set_defaults(func=run_export)


def run_train(args):
    from ganhub.errors import ConfigError
    from ganhub.training import Config, train
    if args.config is None and args.preset is None:
        raise ConfigError("give a CONFIG.json, a --preset NAME, or both")
    if args.preset:
        from ganhub.training.presets import get_preset
        config = get_preset(args.preset)
        if args.config:  # the file's keys override the preset's
            config = Config.from_dict({**config.to_dict(), **Config.load_dict(args.config)})
    else:
        config = Config.load(args.config)
    config = config.with_overrides(args.set)
    result = train(config, args.model_dir, progress=not args.quiet, strategy=args.strategy)
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


def run_export(args):
    from ganhub.export import export_module
    result = export_module(args.model_dir, args.out, name=args.name, overwrite=args.overwrite,
                           archive=not args.no_archive, checkpoint=args.checkpoint,
                           scores=args.scores, weights=args.weights)
    print(f"exported {result['path']}")
    if "archive" in result:
        print(f"archive  {result['archive']}  sha256 {result['sha256']}  {result['size']} bytes")
    return 0
