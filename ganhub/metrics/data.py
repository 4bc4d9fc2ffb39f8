"""Real images for reference statistics: an .npz of images, an image folder, or a data set name.

Data set names read offline here: fashion_mnist (IDX files of the Debian package
dataset-fashion-mnist, see ganhub.settings.fashion_mnist_dir; 28×28 as the study) and
fashion_mnist_32 (the same, zero-padded centrally to 32×32, as ganhub's default model is trained). Other names (cifar10, celeba...)
need the training/ data loaders; pass an .npz or folder of their images meanwhile.
"""
import gzip
import hashlib
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


def load_images(source, split="test", num_samples=None):
    """First num_samples images (dataset order, as the study) → (uint8 NHWC, description dict)."""
    path = Path(str(source)).expanduser()
    if path.is_file() and path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            key = "images" if "images" in data.files else (data.files[0] if len(data.files) == 1 else None)
            if key is None:
                raise DataSourceError(f"{path} holds {data.files}; store the images under the key 'images'")
            images = _as_nhwc_uint8(data[key][:num_samples], path)
        described = {"dataset": path.name, "split": None, "source_sha256": sha256_file(path)}
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:num_samples]
        if not files:
            raise DataSourceError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        from PIL import Image
        images = _as_nhwc_uint8(np.stack([np.asarray(Image.open(p)) for p in files]), path)
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
    else:
        raise DataSourceError(
            f"no offline loader for {source!r}; pass an .npz of images (key 'images'), an image "
            f"folder, or fashion_mnist")
    if num_samples is not None and len(images) < num_samples:
        raise DataSourceError(f"{source} has {len(images)} images, fewer than the {num_samples} asked for")
    return images, described
