"""`ganhub sample`: images from a generator, as one grid image or one PNG per image."""
import math
import os
from pathlib import Path

from ganhub import settings
from ganhub.cli.args import positive_int, seed_int
from ganhub.errors import BadInputError


def add_load_options(parser):
    """--offline / --trust, shared by every command that loads a module."""
    parser.add_argument("--offline", action="store_true", default=None,
                        help="never use the network (also: GANHUB_OFFLINE=1)")
    parser.add_argument("--trust", action="store_true",
                        help="load a module even if its graph reads/writes files or runs code")


def check_model_handle(handle, offline=None):
    """Fail fast, without TensorFlow, on a handle that names no catalog entry, path or URL, and,
    offline, on a downloadable model that is not in the cache (a cache lookup, no socket)."""
    from ganhub import catalog
    from ganhub.errors import UnknownModelError

    offline = settings.offline() if offline is None else bool(offline)
    entry = catalog.find_entry(handle)
    remote = catalog.is_url(handle) or (entry is not None and catalog.is_url(entry["handle"]))
    if entry is None and not remote and not Path(handle).expanduser().exists():
        raise UnknownModelError(catalog.unknown_message(handle))
    if catalog.is_url(handle):
        from ganhub.hub.resolver import split_sha256_fragment
        split_sha256_fragment(handle)  # a malformed #sha256= is an error now, not after the import
    if remote and offline:
        from ganhub.hub.resolver import resolve
        resolve(handle, offline=True, trust=True)  # OfflineError unless cached; scanned on load


def known_image_shape(handle):
    """[H, W, C] from the catalog entry or the module's metadata, without TensorFlow; None if
    neither says."""
    from ganhub import catalog
    from ganhub.module_format import read_metadata

    entry = catalog.find_entry(handle)
    if entry is not None and entry.get("image_shape"):
        return list(entry["image_shape"])
    path = Path(handle).expanduser()
    if path.is_dir():
        try:
            return list(read_metadata(path).get("image_shape") or []) or None
        except Exception:  # an unreadable metadata file is reported when the module loads
            return None
    return None


def _human_bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def check_grid_size(num, image_shape):
    """A grid is held in memory: the float32 outputs, the uint8 images and the grid itself."""
    if not image_shape:
        return
    per_image = math.prod(int(d) for d in image_shape) * (4 + 1 + 1)
    if num * per_image > settings.GRID_MAX_BYTES:
        shape = "×".join(str(d) for d in image_shape)
        raise BadInputError(
            f"a grid of {num:,} images of {shape} needs about {_human_bytes(num * per_image)} of "
            f"memory (limit {_human_bytes(settings.GRID_MAX_BYTES)}); lower -n, or write one PNG "
            f"per image with --out-dir, which streams them a batch at a time")


def register(sub):
    p = sub.add_parser(
        "sample", help="generate images from a model",
        description="Generate images from a model (a catalog name, SavedModel directory, .tar.gz or "
                    "URL) and write them as one grid image (-o; .png, .jpg, .webp, .bmp or .tif) "
                    "or one PNG per image (--out-dir, streamed, any number of images). "
                    "The same --seed gives the same images whatever --batch-size.")
    p.add_argument("model", help="model handle, e.g. 'default' (see `ganhub list`)")
    p.add_argument("-n", "--num", type=positive_int, default=None,
                   help=f"number of images of the grid or --out-dir (default "
                        f"{settings.SAMPLE_COUNT}; a walk has --walks × --steps)")
    p.add_argument("--seed", type=seed_int, default=settings.SAMPLE_SEED,
                   help=f"latent seed (default {settings.SAMPLE_SEED})")
    p.add_argument("--batch-size", type=positive_int, default=settings.SAMPLE_BATCH_SIZE,
                   help=f"images per generator call (default {settings.SAMPLE_BATCH_SIZE})")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", default="samples.png",
                     help="grid image to write; its suffix picks the format (default samples.png)")
    out.add_argument("--out-dir", help="write one PNG per image into this folder instead")
    p.add_argument("--ncols", type=positive_int, default=None, help="grid columns (default √n)")
    from ganhub.cli import walks
    walks.add_options(p, out)  # --interpolate, --gif, --walks, --steps
    add_load_options(p)
    p.set_defaults(func=run, check=check)


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
        from ganhub.images import image_format
        target = Path(args.output)
        if target.is_dir():
            raise BadInputError(f"-o {target} is a folder; give a .png file name or use --out-dir")
        image_format(target)  # the suffix names the format: refuse one we cannot write
        probe = target.parent
        if not probe.exists():
            raise BadInputError(f"cannot write {target}: folder {probe} does not exist")
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise BadInputError(f"cannot write {target}: {probe} is not a writable folder")


def check(args):
    """Everything that can be checked before TensorFlow is imported."""
    from ganhub.cli import walks
    if walks.wanted(args):
        walks.check_options(args)
    elif args.num is None:
        args.num = settings.SAMPLE_COUNT
    if not args.gif:
        _check_writable(args)
    check_model_handle(args.model, args.offline)
    if not args.out_dir:
        check_grid_size(walks.count(args) if walks.wanted(args) else args.num,
                        known_image_shape(args.model))


def latent_batches(distribution, z_dim, n, seed, size):
    """The latents of Generator.sample_latents(n, seed), drawn ``size`` rows at a time: numpy's
    Generator draws uniform and normal variates one after another, so consecutive draws from one
    stream concatenate to the single draw (tests check this against sample_latents)."""
    import numpy as np

    from ganhub.errors import InvalidModuleError

    rng = np.random.default_rng(seed)
    name = distribution.get("name", "uniform")
    for start in range(0, n, size):
        shape = (min(size, n - start), z_dim)
        if name == "uniform":
            z = rng.uniform(distribution.get("low", -1.0), distribution.get("high", 1.0), shape)
        elif name == "normal":
            z = rng.normal(distribution.get("mean", 0.0), distribution.get("stddev", 1.0), shape)
        else:
            raise InvalidModuleError(f"unsupported z distribution {distribution!r}")
        yield z.astype(np.float32)


def _progress(total):
    from tqdm import tqdm
    return tqdm(total=total, desc="sample", unit="img", disable=settings.progress_disabled(),
                leave=False)


def _plural(n, word):
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def run(args):
    import ganhub
    from ganhub.images import make_grid, save_image_batches, save_png, to_uint8

    generator = ganhub.load(args.model, offline=args.offline, trust=args.trust)
    from ganhub.cli import walks
    if walks.wanted(args):
        check_grid_size(walks.count(args), generator.image_shape)
        with _progress(walks.count(args)) as bar:
            message = walks.run(generator, args, progress=bar)
        print(message)
        return 0
    if args.out_dir:
        batches = (to_uint8(generator(z, batch_size=args.batch_size))
                   for z in latent_batches(generator.z_distribution, generator.z_dim, args.num,
                                           args.seed, args.batch_size))
        with _progress(args.num) as bar:
            paths = save_image_batches(batches, args.out_dir, args.num, progress=bar)
        print(f"wrote {_plural(len(paths), 'image')} to {args.out_dir}")
    else:
        check_grid_size(args.num, generator.image_shape)
        images = generator.sample(args.num, seed=args.seed, batch_size=args.batch_size)
        save_png(make_grid(images, ncols=args.ncols), args.output)
        print(f"wrote a grid of {_plural(len(images), 'image')} to {args.output}")
    return 0
