"""The latent-walk options of `ganhub sample` (--interpolate, --gif, --walks, --steps); the walks
themselves are ganhub.walks."""

import os
from pathlib import Path

from ganhub.cli.args import positive_int
from ganhub.errors import BadInputError
from ganhub.walks import (GIF_MIN_SIZE, WALK_ROWS, WALK_STEPS, enlarge, gif_latents, grid_latents,
                          method_of, render, save_gif)


def add_options(parser, output_group):
    """The walk options of `ganhub sample`; --gif joins the group of -o / --out-dir."""
    output_group.add_argument(
        "--gif", metavar="PATH",
        help=f"write an animated, looping latent walk through --walks seeded keyframes to this .gif "
             f"(frames enlarged to at least {GIF_MIN_SIZE} px)")
    parser.add_argument(
        "--interpolate", action="store_true",
        help="write a grid (-o) whose rows walk between seeded latents, row r from the r-th latent "
             "of --seed to the next (spherical for normal z, linear for uniform z)")
    parser.add_argument("--walks", type=positive_int, default=WALK_ROWS,
                        help=f"rows of the --interpolate grid / keyframes of the --gif loop "
                             f"(default {WALK_ROWS})")
    parser.add_argument("--steps", type=positive_int, default=WALK_STEPS,
                        help=f"images per row, endpoints included / frames between two keyframes "
                             f"(default {WALK_STEPS})")


def wanted(args):
    return bool(getattr(args, "interpolate", False) or getattr(args, "gif", None))


def check_options(args):
    """Before TensorFlow: the walk options make sense and the GIF can be written."""
    if args.interpolate and args.gif:
        raise BadInputError("--interpolate writes a grid image (-o) and --gif an animation; pick one")
    if args.interpolate and args.out_dir:
        raise BadInputError("--interpolate writes one grid image; use -o, not --out-dir")
    flag = "--gif" if args.gif else "--interpolate"
    if args.num is not None:
        raise BadInputError(f"-n sets the images of a grid or --out-dir; {flag} makes --walks × "
                            f"--steps images (now {args.walks} × {args.steps}): drop -n")
    if args.ncols is not None:
        layout = "writes frames, not a grid" if args.gif else "has --steps columns"
        raise BadInputError(f"--ncols sets a grid's columns; {flag} {layout}: drop --ncols")
    if args.steps < 2:
        raise BadInputError(f"--steps must be at least 2 (a walk includes both endpoints), got {args.steps}")
    if args.gif:
        if args.walks < 2:
            raise BadInputError("--gif needs --walks of at least 2 (keyframes of the loop)")
        target = Path(args.gif)
        if target.suffix.lower() != ".gif":
            raise BadInputError(f"--gif {target}: name the file .gif")
        if target.is_dir():
            raise BadInputError(f"--gif {target} is a folder; give a .gif file name")
        if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
            raise BadInputError(f"cannot write {target}: {target.parent} is not a writable folder")


def count(args):
    """Images a walk command generates (for the CLI's memory check)."""
    return args.walks * args.steps


def run(generator, args, progress=None):
    """Write the grid or GIF of `ganhub sample --interpolate/--gif` → the message to print."""
    from ganhub.images import make_grid, save_png

    method = method_of(generator)
    if args.gif:
        latents = gif_latents(generator, args.walks, args.steps, args.seed, method)
        frames = render(generator, latents, args.batch_size, progress)
        save_gif(enlarge(frames), args.gif)
        return (f"wrote a {len(frames)}-frame {method} walk through {args.walks} latents of seed "
                f"{args.seed} to {args.gif}")
    latents = grid_latents(generator, args.walks, args.steps, args.seed, method)
    images = render(generator, latents, args.batch_size, progress)
    save_png(make_grid(images.reshape((-1,) + images.shape[2:]), ncols=args.steps), args.output)
    return (f"wrote {args.walks} {method} walks of {args.steps} images (seed {args.seed}) to "
            f"{args.output}")
