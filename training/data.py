"""Data sets as uint8 NHWC arrays and a resumable, seeded batch pipeline.

In-memory data sets are shuffled with a stateless index permutation per epoch
(``tf.random.experimental.index_shuffle``), so batch t is a pure function of (seed, t): resuming at
step t needs no iterator state in the checkpoint, and a resumed run sees exactly the batches an
uninterrupted one would have.
"""
import dataclasses
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import ConfigError, GanhubError

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(GanhubError, ValueError):
    """A data file is missing or malformed."""


def read_idx(path):
    """Read an IDX file (optionally gzipped): big-endian magic 0x0000TTDD, then DD dims of uint32."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"IDX file {path} does not exist") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header says {shape} ({expected} bytes of data) but the file "
                        f"holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path, array):
    """Write a uint8 array as IDX (gzipped if the name ends in .gz). Used by tests and tools."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def pad_to(images, size):
    """Zero-pad NHWC images centrally to size × size (Fashion-MNIST 28 → 32)."""
    h, w = images.shape[1:3]
    if h > size or w > size:
        raise DataError(f"cannot pad {h}x{w} images to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    return np.pad(images, ((0, 0), (top, size - h - top), (left, size - w - left), (0, 0)))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclasses.dataclass
class Dataset:
    """Images as uint8 NHWC plus where they came from."""
    name: str
    split: str
    images: np.ndarray
    provenance: dict

    @property
    def resolution(self):
        return self.images.shape[1]

    @property
    def channels(self):
        return self.images.shape[3]


_MNIST_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}


def _idx_dataset(name, default_dir, source, split, data_dir):
    if split not in _MNIST_FILES:
        raise ConfigError(f"{name} has splits {', '.join(_MNIST_FILES)}, not {split!r}")
    directory = Path(data_dir) if data_dir else default_dir
    stem = _MNIST_FILES[split]
    candidates = [directory / (stem + ".gz"), directory / stem]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise DataError(f"{name} {split} images not found: looked for {candidates[0]} and "
                        f"{candidates[1]}; install the data ({source}) or set data_dir")
    images = read_idx(path)
    if images.ndim != 3:
        raise DataError(f"{path}: expected [N, 28, 28] images, got shape {images.shape}")
    images = pad_to(images[..., None], 32)
    provenance = {
        "name": name, "split": split, "source": source, "file": str(path),
        "sha256": _sha256(path), "num_examples": int(len(images)),
        "preprocessing": "IDX uint8 28x28, zero-padded centrally to 32x32x1, divided by 255 -> [0, 1]",
    }
    return Dataset(name, split, images, provenance)


def _fashion_mnist(split, data_dir):
    return _idx_dataset("fashion_mnist", settings.fashion_mnist_dir(),
                        "Debian package dataset-fashion-mnist (Zalando, MIT licence)", split, data_dir)


def _mnist(split, data_dir):
    return _idx_dataset("mnist", Path(os.environ.get("GANHUB_MNIST_DIR", "/usr/share/datasets/mnist")),
                        "MNIST IDX files (LeCun et al.)", split, data_dir)


DATASETS = {
    "fashion_mnist": _fashion_mnist,
    "mnist": _mnist,
}


def load_dataset(name, split="train", data_dir=""):
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
    return loader(split, data_dir)


class ArrayBatches:
    """Batch t of a uint8 array, as float32 in [0, 1], a pure function of (seed, t).

    Example i of step t (1-based) is position p = (t-1)·bs + i of an endless stream; epoch p // n is
    a fresh permutation seeded by (seed, epoch).
    """

    def __init__(self, images, batch_size, seed):
        import tensorflow as tf
        self._tf = tf
        self.images = tf.constant(images)
        self.n = int(images.shape[0])
        self.batch_size = batch_size
        self.seed = tf.constant(int(seed), tf.int64)
        if batch_size > self.n:
            raise DataError(f"batch_size {batch_size} is larger than the data set ({self.n} images)")

    def indices(self, step):
        # A batch spans at most two epochs (batch_size <= n), each with its own scalar seed:
        # index_shuffle's batched-seed form is broken in TF 2.21.
        tf = self._tf
        step = tf.cast(step, tf.int64)
        positions = (step - 1) * self.batch_size + tf.range(self.batch_size, dtype=tf.int64)
        epoch = positions // self.n
        first = epoch[0]
        within = positions % self.n
        max_index = tf.constant(self.n - 1, tf.int64)
        a = tf.random.experimental.index_shuffle(within, tf.stack([self.seed, first]), max_index)
        b = tf.random.experimental.index_shuffle(within, tf.stack([self.seed, first + 1]), max_index)
        return tf.where(epoch == first, a, b)

    def __call__(self, step):
        tf = self._tf
        batch = tf.gather(self.images, self.indices(step))
        return tf.cast(batch, tf.float32) / 255.0


# Channels of each data set's images, known without reading the data (for build_models).
CHANNELS = {"fashion_mnist": 1, "mnist": 1}


def channels_of(name):
    try:
        return CHANNELS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(CHANNELS)}") from None
