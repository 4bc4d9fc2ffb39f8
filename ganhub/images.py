"""Image grids and PNG writing (no TensorFlow)."""
import math
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import BadInputError, GanhubError


def to_uint8(images):
    """float images in [0, 1] → uint8, rounding to nearest."""
    return np.clip(np.rint(np.asarray(images, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def make_grid(images, ncols=None, padding=settings.GRID_PADDING, pad_value=None):
    """[n, H, W, C] images (uint8 or float) → one [rows·(H+p)+p, cols·(W+p)+p, C] grid image."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"make_grid expects [n, H, W, C] images, got shape {images.shape}")
    n, h, w, c = images.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    if pad_value is None:
        pad_value = 255 if images.dtype == np.uint8 else 1.0
    grid = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
                   pad_value, dtype=images.dtype)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return grid


# Image file suffixes a grid or sample may be written as, and the format each names.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
           ".tif": "TIFF", ".tiff": "TIFF"}


def image_format(path):
    """The PIL format the suffix of ``path`` names; GanhubError for a suffix ganhub does not write
    (it used to write PNG bytes under any name, e.g. grid.jpg)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        named = f"suffix {suffix!r}" if suffix else "no image suffix"
        raise BadInputError(f"{path} has {named}; name the file .png (lossless), or "
                          f"{', '.join(s for s in FORMATS if s != '.png')}")
    return FORMATS[suffix]


def _pil(image):
    from PIL import Image
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_png(image, path):
    """Write one HWC image atomically (ganhub.fileio: a temp file beside it, then a rename; 0644
    like any file the user creates, not tempfile's 0600), in the format its suffix names (.png,
    .jpg, ...; see FORMATS)."""
    from ganhub.fileio import atomic_path
    path = Path(path)
    file_format = image_format(path)
    if path.parent and not path.parent.exists():
        raise GanhubError(f"cannot write {path}: folder {path.parent} does not exist")
    extra = {"quality": 95} if file_format in ("JPEG", "WEBP") else {}
    try:
        with atomic_path(path) as tmp:
            _pil(image).save(tmp, format=file_format, **extra)
    except OSError as exc:
        raise GanhubError(f"cannot write {path}: {exc.strerror or exc}") from None


def save_images(images, out_dir, prefix="sample"):
    """One PNG per image into out_dir (created if missing); all or nothing."""
    images = np.asarray(images)
    return save_image_batches([images], out_dir, len(images), prefix)


def save_image_batches(batches, out_dir, total, prefix="sample", progress=None):
    """One PNG per image of an iterable of [k, H, W, C] batches (``total`` images in all), so any
    number of images can be written in bounded memory. All or nothing: on any error (or Ctrl-C)
    the files written so far, and out_dir if this created it, are removed."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanhubError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    written = []
    width = max(4, len(str(total - 1)))
    try:
        for batch in batches:
            for image in batch:
                path = out_dir / f"{prefix}_{len(written):0{width}d}.png"
                save_png(image, path)
                written.append(path)
            if progress is not None:
                progress.update(len(batch))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise
    return written
