"""Real images for reference statistics: a data set by name, an .npz of images, or an image folder.

Data set names are read by ``ganhub.training.data``, the readers training uses, with its
preprocessing (zero-padding, centre crop, square resize), so a reference holds exactly the pixels
the models of that data set were trained on:

    fashion_mnist, mnist             28×28×1, native (the study's size)
    fashion_mnist_32, mnist_32       zero-padded centrally to 32×32 (ganhub's default model)
    cifar10                          32×32×3 (t2t TFRecords, python pickles or tensorflow-datasets)
    celebahq128                      128×128×3 (TFRecord shards, 0-89 train / 90-99 test, or a folder)
    lsun_bedroom                     central 128×128 crop (t2t or tensorflow-datasets TFRecords)
    image_folder, image_folder_N     a folder of images, square-cropped and area-resized to 32 (or N)

followed by ``-test`` (default) or ``-train``; ``data_dir`` (CLI ``--data-dir``) is where the files
are, as a training config's ``data_dir`` (empty: the data set's default location).

Paths are other people's images used as they are: an ``.npz`` (key ``images``) or a folder of
same-sized images (all of them, sorted by name; no split, no resize).
This module imports no TensorFlow; the data set readers import it when called. The names derive
from ganhub.training.data.DATASETS.
"""
import hashlib
import numbers
import re
import zipfile
from pathlib import Path

import numpy as np

from ganhub.errors import DataSourceError, GanhubError
from ganhub.fileio import sha256_file
from ganhub.training.data import DATASETS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}

# Reference name → (training data set, resolution), from the data sets' one declaration: each
# set's native size under its own name, the other sizes its reader gives as <name>_<size>.
DATA_NAMES = {name: (info.name, size) for info in DATASETS.values()
              for name, size in [(info.name, info.native)]
              + [(info.reference_name(p), p) for p in info.padded]}
DATA_SPLITS = ("test", "train")
_ANY_SIZE_AT = re.compile(r"(%s)_(\d{1,4})$" % "|".join(
    re.escape(info.name) for info in DATASETS.values() if info.any_size))


def data_set_of(name):
    """(training data set, resolution) of a reference data name, or None if it is not one."""
    name = str(name).replace("-", "_")
    if name in DATA_NAMES:
        return DATA_NAMES[name]
    m = _ANY_SIZE_AT.match(name)
    if m and int(m.group(2)) > 0:
        return m.group(1), int(m.group(2))
    return None


def split_data_name(text):
    """'cifar10-test' → ('cifar10', 'test'); 'cifar10' → ('cifar10', 'test'); None when ``text``
    names no data set. DataSourceError for a known data set with an unknown split."""
    text = str(text)
    name, dash, split = text.rpartition("-")
    if dash and data_set_of(name):
        if split not in DATA_SPLITS:
            raise DataSourceError(f"{text}: unknown split {split!r} of {name}; use "
                                  f"{' or '.join(f'{name}-{s}' for s in DATA_SPLITS)}")
        return name.replace("-", "_"), split
    if data_set_of(text):
        return text.replace("-", "_"), "test"
    return None


def known_names():
    return ", ".join(list(DATA_NAMES) + ["image_folder_N"])


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
                              f"{shapes[-1]}); resize them to one size first, or read them as the "
                              f"data set image_folder (--data-dir {folder}), which crops and resizes")
    return np.stack(arrays)


def images_sha256(images):
    """sha256 of uint8 NHWC pixels and their shape: identifies exactly what was measured."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


def dataset_images(name, split="test", num_samples=None, data_dir=None):
    """The first ``num_samples`` images (data-set order, as the study) of the reference data name
    ``name`` through ganhub.training.data → (uint8 NHWC, description dict)."""
    dataset, resolution = data_set_of(name)
    from ganhub.training.data import load_dataset
    ds = load_dataset(dataset, split, str(data_dir or ""), resolution)
    n = ds.n if num_samples is None else min(num_samples, ds.n)
    images = np.ascontiguousarray(ds.take(n))
    pixels = images_sha256(images)
    provenance = ds.provenance
    described = {"dataset": str(name).replace("-", "_"), "split": split,
                 # the IDX file for (Fashion-)MNIST, as earlier references recorded; else the pixels
                 "source_sha256": provenance.get("sha256") or pixels, "images_sha256": pixels,
                 "source": provenance.get("source"), "preprocessing": provenance.get("preprocessing")}
    return images, {k: v for k, v in described.items() if v is not None}


def check_source(source, split="test"):
    """What ``source`` is, without reading an image: "npz" (an .npz file), "folder" (a folder) or
    "data" (a data set name with one of its splits). Anything else is a DataSourceError naming what
    to pass, raised before TensorFlow is imported (the CLI checks input with it)."""
    path = Path(str(source)).expanduser()
    if path.suffix == ".npz" and path.is_file():
        return "npz"
    if path.is_dir():
        return "folder"
    if data_set_of(source):
        if split not in DATA_SPLITS:
            raise DataSourceError(f"{split!r} is not a split of {source}; use split "
                                  f"{' or '.join(DATA_SPLITS)}")
        return "data"
    if path.suffix or "/" in str(source) or path.exists():
        what = "is not an .npz of images or an image folder" if path.exists() else "not found"
        raise DataSourceError(f"{source}: {what}; pass an existing .npz of images (key 'images'), "
                              f"an image folder, or a data set name ({known_names()})")
    raise DataSourceError(f"unknown data set {source!r}; pass a data set name "
                          f"({known_names()}), an .npz of images (key 'images') or an image folder")


def load_images(source, split="test", num_samples=None, data_dir=None):
    """First num_samples images (dataset order, as the study) → (uint8 NHWC, description dict).

    ``source``: a data name (see the module docstring; ``split`` and ``data_dir`` apply), an .npz
    of images, or a folder of same-sized images."""
    if num_samples is not None and (isinstance(num_samples, bool)
                                    or not isinstance(num_samples, numbers.Integral)
                                    or num_samples <= 0):
        raise DataSourceError(f"num_samples must be a positive integer, got {num_samples!r}")
    kind = check_source(source, split)
    path = Path(str(source)).expanduser()
    if kind == "npz":
        images = _npz_images(path, num_samples)
        described = {"dataset": path.name, "split": None, "source_sha256": sha256_file(path)}
    elif kind == "folder":
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:num_samples]
        if not files:
            raise DataSourceError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        images = _as_nhwc_uint8(_stack_images(files, path), path)
        digest = hashlib.sha256()
        for p in files:
            digest.update(p.name.encode() + p.read_bytes())
        described = {"dataset": path.name, "split": None, "source_sha256": digest.hexdigest()}
    else:
        images, described = dataset_images(source, split, num_samples, data_dir)
    if num_samples is not None and len(images) < num_samples:
        raise DataSourceError(f"{source} has {len(images)} images, fewer than the {num_samples} asked for")
    return images, described
