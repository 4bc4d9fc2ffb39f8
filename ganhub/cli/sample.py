"""`ganhub sample`: images from a generator, as one grid PNG or one PNG per image."""
import argparse
import os
from pathlib import Path

from ganhub import settings
from ganhub.errors import BadInputError


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def seed_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be >= 0, got {value}")
    return value


def add_load_options(parser):
    """--offline / --trust, shared by every command that loads a module."""
    parser.add_argument("--offline", action="store_true", default=None,
                        help="never use the network (also: GANHUB_OFFLINE=1)")
    parser.add_argument("--trust", action="store_true",
                        help="load a module even if its graph reads/writes files or runs code")


def register(sub):
    p = sub.add_parser(
        "sample", help="generate images from a model",
        description="Generate images from a model (a catalog name, SavedModel directory, .tar.gz or "
                    "URL) and write them as one grid PNG (-o) or one PNG per image (--out-dir). "
                    "The same --seed gives the same images whatever --batch-size.")
    p.add_argument("model", help="model handle, e.g. 'default' (see `ganhub list`)")
    p.add_argument("-n", "--num", type=positive_int, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=seed_int, default=settings.SAMPLE_SEED,
                   help=f"latent seed (default {settings.SAMPLE_SEED})")
    p.add_argument("--batch-size", type=positive_int, default=settings.SAMPLE_BATCH_SIZE,
                   help=f"images per generator call (default {settings.SAMPLE_BATCH_SIZE})")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", default="samples.png",
                     help="grid PNG to write (default samples.png)")
    out.add_argument("--out-dir", help="write one PNG per image into this folder instead")
    p.add_argument("--ncols", type=positive_int, default=None, help="grid columns (default √n)")
    add_load_options(p)
    p.set_defaults(func=run)


def _check_writable(args):
    """Fail before any work if the output cannot be written."""
    if args.out_dir:
        target = Path(args.out_dir)
        if target.exists() and not target.is_dir():
            raise BadInputError(f"--out-dir {target} exists and is not a folder")
        probe = target
        while not probe.exists() and probe != probe.parent:  # where mkdir will create it
            probe = probe.parent
    else:
        target = Path(args.output)
        if target.is_dir():
            raise BadInputError(f"-o {target} is a folder; give a .png file name or use --out-dir")
        probe = target.parent
        if not probe.exists():
            raise BadInputError(f"cannot write {target}: folder {probe} does not exist")
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise BadInputError(f"cannot write {target}: {probe} is not a writable folder")


def run(args):
    _check_writable(args)
    import ganhub
    from ganhub.images import make_grid, save_images, save_png

    generator = ganhub.load(args.model, offline=args.offline, trust=args.trust)
    images = generator.sample(args.num, seed=args.seed, batch_size=args.batch_size)
    if args.out_dir:
        paths = save_images(images, args.out_dir)
        print(f"wrote {len(paths)} images to {args.out_dir}")
    else:
        save_png(make_grid(images, ncols=args.ncols), args.output)
        print(f"wrote a grid of {len(images)} images to {args.output}")
    return 0
