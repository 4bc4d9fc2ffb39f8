"""`ganhub train` and `ganhub export`."""
from ganhub.cli.sample import positive_int  # noqa: F401  (shared argument types)


def register(sub):
    p = sub.add_parser(
        "train", help="train a GAN (or resume one)",
        description="Train a GAN from a JSON config into --model-dir. Rerunning the same command "
                    "resumes from the last checkpoint; raise `steps` with --set to train longer.")
    p.add_argument("config", help="training config JSON (keys: see training/config.py)")
    p.add_argument("--model-dir", required=True, help="where checkpoints, config.json and logs go")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set steps=2000")
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
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--no-archive", action="store_true", help="skip the .tar.gz and model card")
    p.set_defaults(func=run_export)


def run_train(args):
    from training import Config, train
    config = Config.load(args.config).with_overrides(args.set)
    result = train(config, args.model_dir, progress=not args.quiet)
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


def run_export(args):
    from export import export_module
    result = export_module(args.model_dir, args.out, name=args.name, overwrite=args.overwrite,
                           archive=not args.no_archive, checkpoint=args.checkpoint)
    print(f"exported {result['path']}")
    if "archive" in result:
        print(f"archive  {result['archive']}  sha256 {result['sha256']}  {result['size']} bytes")
    return 0
