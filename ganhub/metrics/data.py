"""Real images for reference statistics: an .npz of images, an image folder, or a data set name.

Data set names read offline here: fashion_mnist (IDX files of the Debian package
dataset-fashion-mnist, see ganhub.settings.fashion_mnist_dir; 28×28 as the study) and
fashion_mnist_32 (the same, zero-padded centrally to 32×32, as ganhub's default model is trained). Other names (cifar10, celeba...)
need the training/ data loaders; pass an .npz or folder of their images meanwhile.
"""
import gzip
import hashlib
import numbers
import zipfile
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import GanhubError
from ganhub.hub.archive import sha256_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
_FASHION_FILES = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}


class DataSourceError(GanhubError, ValueError):
    """Images for reference statistics cannot be read from the given source."""


def _as_nhwc_uint8(images, source):
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataSourceError(f"{source}: expected images [N, H, W] or [N, H, W, 1|3], got {images.shape}")
    if images.dtype != np.uint8:
        if np.issubdtype(images.dtype, np.floating) and images.size and images.max() <= 1.0:
            images = images * 255.0  # [0, 1] floats, as the study's loaders produce
        images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return images


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051:
        raise DataSourceError(f"{path} is not an IDX image file (magic {magic})")
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(int(n), int(h), int(w), 1)


def _npz_images(path, num_samples):
    try:
        with np.load(path, allow_pickle=False) as data:
            key = "images" if "images" in data.files else (data.files[0] if len(data.files) == 1 else None)
            if key is None:
                raise DataSourceError(f"{path} holds {data.files}; store the images under the key 'images'")
            return _as_nhwc_uint8(data[key][:num_samples], path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, GanhubError):
            raise
        raise DataSourceError(f"{path} is not a readable .npz of images ({exc})") from None


def _stack_images(files, folder):
    from PIL import Image
    arrays = []
    for p in files:
        try:
            with Image.open(p) as image:
                arrays.append(np.asarray(image))
        except OSError as exc:  # PIL's UnidentifiedImageError is an OSError
            raise DataSourceError(f"cannot read image {p}: {exc}") from None
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise DataSourceError(f"the images in {folder} differ in size or channels ({shapes[0]} vs "
                              f"{shapes[-1]}); resize them to one size first")
    return np.stack(arrays)


def load_images(source, split="test", num_samples=None):
    """First num_samples images (dataset order, as the study) → (uint8 NHWC, description dict)."""
    if num_samples is not None and (isinstance(num_samples, bool)
                                    or not isinstance(num_samples, numbers.Integral)
                                    or num_samples <= 0):
        raise DataSourceError(f"num_samples must be a positive integer, got {num_samples!r}")
    path = Path(str(source)).expanduser()
    if path.suffix == ".npz" and path.is_file():
        images = _npz_images(path, num_samples)
        described = {"dataset": path.name, "split": None, "source_sha256": sha256_file(path)}
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:num_samples]
        if not files:
            raise DataSourceError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        images = _as_nhwc_uint8(_stack_images(files, path), path)
        digest = hashlib.sha256()
        for p in files:
            digest.update(p.name.encode() + p.read_bytes())
        described = {"dataset": path.name, "split": None, "source_sha256": digest.hexdigest()}
    elif str(source).replace("-", "_") in ("fashion_mnist", "fashion_mnist_32"):
        if split not in _FASHION_FILES:
            raise DataSourceError(f"fashion_mnist has splits {sorted(_FASHION_FILES)}, not {split!r}")
        idx = settings.fashion_mnist_dir() / _FASHION_FILES[split]
        if not idx.exists():
            raise DataSourceError(f"{idx} not found; apt-get install dataset-fashion-mnist or set GANHUB_FASHION_MNIST_DIR")
        images = read_idx_images(idx)[:num_samples]
        name = str(source).replace("-", "_")
        if name == "fashion_mnist_32":
            images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
        described = {"dataset": name, "split": split, "source_sha256": sha256_file(idx)}
    elif path.suffix or "/" in str(source) or path.exists():
        what = "is not an .npz of images or an image folder" if path.exists() else "not found"
        raise DataSourceError(f"{source}: {what}; pass an existing .npz of images (key 'images'), "
                              f"an image folder, or a data set name (fashion_mnist, fashion_mnist_32)")
    else:
        raise DataSourceError(
            f"no offline loader for {source!r}; pass an .npz of images (key 'images'), an image "
            f"folder, or fashion_mnist")
    if num_samples is not None and len(images) < num_samples:
        raise DataSourceError(f"{source} has {len(images)} images, fewer than the {num_samples} asked for")
    return images, described
