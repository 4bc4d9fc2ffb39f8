"""Image grids and PNG writing (no TensorFlow)."""
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import GanhubError


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


def _pil(image):
    from PIL import Image
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_png(image, path):
    """Write one HWC image atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise GanhubError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise GanhubError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _pil(image).save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_images(images, out_dir, prefix="sample"):
    """One PNG per image into out_dir (created if missing); all or nothing."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanhubError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    written = []
    try:
        width = max(4, len(str(len(images) - 1)))
        for i, image in enumerate(images):
            path = out_dir / f"{prefix}_{i:0{width}d}.png"
            save_png(image, path)
            written.append(path)
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
