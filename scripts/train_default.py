"""Train the embedded default model and export it into ganhub/models/default (a repository
checkout's copy; an installed ganhub reproduces the model with `ganhub train --preset
default_fashion_mnist --model-dir runs/default` and `ganhub export runs/default OUT`).

    python scripts/train_default.py [--config scripts/default_model.json] [--model-dir runs/default]
                                    [--steps N] [--no-export] [--scores EVAL.json]

Config: the preset default_fashion_mnist (ganhub/training/presets.py), kept equal to
scripts/default_model.json by a test (SNDCGAN, spectral norm, non-saturating loss, Adam 2e-4 /
0.5 / 0.999, the study's SNDCGAN CIFAR-10 line 7, at width 1/4 so it trains on a 2-core CPU), plus
ganhub's generator EMA (g_ema_decay 0.999 from step g_ema_start; training/ema.py), which the export
ships instead of the raw G, and a linear learning-rate decay from lr_decay_start to the last step
(training/optim.py). The run reached g_ema_start and lr_decay_start without them, so an
uninterrupted rerun gives the same weights.
Data: Fashion-MNIST train split from the Debian package dataset-fashion-mnist
(`apt-get install dataset-fashion-mnist`), zero-padded to 32x32. Rerunning resumes from the last
checkpoint; --steps extends the run (a longer run can span several sessions).

A candidate to replace the shipped model trains from its own config into its own dir, and is
exported elsewhere to be scored before it is shipped:

    python scripts/train_default.py --config scripts/default_model_w05.json --model-dir runs/w05 \
        --no-export
    ganhub export runs/w05 /tmp/w05 --no-archive   # any time, also while it trains

Scores (issue #4's protocol: 10k generated vs the 10k Fashion-MNIST test images padded to 32x32,
offline FID Inception, legacy resize):

    ganhub evaluate ganhub/models/default --reference fashion_mnist_32-test -n 10000 \
        --metrics fid,kid --json > runs/default_eval.json
    python scripts/train_default.py --steps N --scores runs/default_eval.json   # re-export with them
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganhub import settings  # noqa: E402
from ganhub.training import Config, train  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None,
                        help="training config, relative to the repository root (default: the "
                        "shipped model's, the preset default_fashion_mnist)")
    parser.add_argument("--model-dir", default=str(ROOT / "runs" / "default"))
    parser.add_argument("--steps", type=int, default=None, help="train to this many D steps")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--scores", help="`ganhub evaluate --json` output of this checkpoint's export")
    args = parser.parse_args(argv)
    if args.config:
        config = Config.load(ROOT / args.config)
    else:
        from ganhub.training.presets import get_preset
        config = get_preset("default_fashion_mnist")
    if args.steps:
        config = config.replace(steps=args.steps)
    from ganhub.cli.train import checkpoint_step, latest_checkpoint
    latest = latest_checkpoint(args.model_dir)
    if latest is not None:
        print(f"resuming {args.model_dir} from step {checkpoint_step(latest)} ({latest.name}), "
              f"training to step {config.steps:,}", flush=True)
    try:
        print(train(config, args.model_dir), flush=True)
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM: the loop saved the last whole step
        print(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
    if not args.no_export:
        from ganhub.export import export_module
        export_module(args.model_dir, settings.DEFAULT_MODEL_DIR, name="default", overwrite=True,
                      archive=False, scores=args.scores,
                      script=(f"python scripts/train_default.py (config {args.config})" if args.config
                              else "ganhub train --preset default_fashion_mnist"))
        print(f"exported to {settings.DEFAULT_MODEL_DIR}")


if __name__ == "__main__":
    sys.exit(main())
