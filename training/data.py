"""Data sets and a resumable, seeded batch pipeline.

Order: every data set, in memory or on disk, is shuffled with a stateless index permutation per
epoch (``tf.random.experimental.index_shuffle``), so the indices of batch t are a pure function of
(seed, t). Resuming at step t therefore needs no iterator state in the checkpoint (a tf.data
iterator checkpoint would have to store a 10,000-image shuffle buffer), and a resumed run sees
exactly the batches an uninterrupted one would have. compare_gan's ``shuffle(10000, seed=547)``
order is not reproduced (it cannot be resumed without replaying the stream).

Small data sets (MNIST, Fashion-MNIST, CIFAR-10) are decoded into uint8 arrays (``Dataset``).
Large ones (CelebA-HQ-128, LSUN-Bedroom, image folders) stay on disk (``IndexedDataset``): records
are located once (a TFRecord offset index or a sorted file list) and each batch is read by index in
a ``tf.data`` pipeline, decoded in parallel (deterministically) and prefetched.
"""
import dataclasses
import gzip
import pickle
import re
import struct
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import ConfigError, DataError
from ganhub.fileio import sha256_file

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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

    @property
    def n(self):
        return int(self.images.shape[0])

    def take(self, n):
        """The first n images in data-set order (the reference set of FID), uint8 NHWC."""
        return self.images[:n]

    def batches(self, batch_size, seed):
        return ArrayBatches(self.images, batch_size, seed)


_MNIST_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}


def _idx_dataset(name, default_dir, source, split, data_dir, resolution=None):
    # sizes from the one declaration (DATASETS, below): native 28 (compare_gan v2's MNIST and
    # Fashion-MNIST) or zero-padded; no resolution: the study's size
    info = DATASETS[name]
    size = info.study_resolution if resolution is None else resolution
    if size not in (info.native, *info.padded):
        sizes = " or ".join(str(s) for s in (info.native, *info.padded))
        raise ConfigError(f"{name} comes at resolution {sizes}, not {resolution}")
    if split not in _MNIST_FILES:
        raise ConfigError(f"{name} has splits {', '.join(_MNIST_FILES)}, not {split!r}")
    directory = Path(data_dir) if data_dir else default_dir
    stem = _MNIST_FILES[split]
    candidates = [directory / (stem + ".gz"), directory / stem]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        if not data_dir and _tfds_available():
            images, provenance = _tfds_arrays(
                name, split, local_hint=f", or put {candidates[0].name} in {directory}")
            images = pad_to(images, size)
            provenance["preprocessing"] = _mnist_preprocessing(size)
            return Dataset(name, split, images, provenance)
        raise DataError(f"{name} {split} images not found: looked for {candidates[0]} and "
                        f"{candidates[1]}; install the data ({source}), set data_dir, or install "
                        f"the tfds extra (pip install 'ganhub[tfds]')")
    images = read_idx(path)
    if images.ndim != 3:
        raise DataError(f"{path}: expected [N, 28, 28] images, got shape {images.shape}")
    images = pad_to(images[..., None], size)
    provenance = {
        "name": name, "split": split, "source": source, "file": str(path),
        "sha256": sha256_file(path), "num_examples": int(len(images)),
        "preprocessing": _mnist_preprocessing(size),
    }
    return Dataset(name, split, images, provenance)


_MNIST_PREPROCESSING = "uint8 28x28, zero-padded centrally to 32x32x1, divided by 255 -> [0, 1]"


def _mnist_preprocessing(size):
    if size == 28:
        return "uint8 28x28x1 (native size), divided by 255 -> [0, 1]"
    return _MNIST_PREPROCESSING


def _fashion_mnist(split, data_dir, resolution=None):
    return _idx_dataset("fashion_mnist", settings.fashion_mnist_dir(),
                        "Debian package dataset-fashion-mnist (Zalando, MIT licence)", split, data_dir,
                        resolution)


def _mnist(split, data_dir, resolution=None):
    return _idx_dataset("mnist", settings.mnist_dir(),
                        "MNIST IDX files (LeCun et al.)", split, data_dir, resolution)


def _tfds_available():
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        return False
    return True


def _import_tfds():
    """tensorflow_datasets, or a DataError naming the module its install lacks (tfds imports some
    lazily: importlib_resources only when it prepares a data set)."""
    try:
        import tensorflow_datasets as tfds
        return tfds
    except ImportError as exc:
        raise DataError(f"tensorflow-datasets cannot be imported ({exc}); pip install "
                        f"'ganhub[tfds]'") from None


# Preparing CIFAR-10 (163 MB) or LSUN-Bedroom (43 GB) is the user's explicit step, not a side
# effect of training or of `ganhub stats`: a download that fails (offline, proxy) retries for minutes.
TFDS_PREPARE = ("python -c \"import tensorflow_datasets as tfds; "
                "tfds.builder('{name}').download_and_prepare()\"")


def tfds_prepare_hint(tfds_name):
    return TFDS_PREPARE.format(name=tfds_name)


def _tfds_arrays(tfds_name, split, data_dir=None, local_hint=""):
    """A whole TFDS split as a uint8 NHWC array (small data sets only). The data set must have been
    prepared (downloaded) already; otherwise a DataError says how to prepare it, or where to put
    local files (``local_hint``)."""
    tfds = _import_tfds()
    tfds_split = {"train": "train", "test": "test"}[split]
    try:
        ds = tfds.load(tfds_name, split=tfds_split, data_dir=data_dir or None, shuffle_files=False,
                       as_supervised=False, download=False)
        images = np.stack([example["image"] for example in tfds.as_numpy(ds)])
    except ModuleNotFoundError as exc:
        raise DataError(f"tensorflow-datasets needs the module {exc.name!r}, which is not "
                        f"installed: pip install 'ganhub[tfds]'") from None
    except AssertionError:  # tfds's "could not find data in <dir>"
        where = data_dir or tfds.core.constants.DATA_DIR
        raise DataError(f"{tfds_name} {split} not found: tensorflow-datasets has not prepared "
                        f"{tfds_name} in {where}; prepare it once (needs internet) with "
                        f"{tfds_prepare_hint(tfds_name)}{local_hint}") from None
    return images, {"name": tfds_name, "split": split, "source": f"tensorflow-datasets {tfds_name}",
                    "num_examples": int(len(images))}


# --- CIFAR-10 --------------------------------------------------------------------------------------

CIFAR10_PICKLES_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

def _cifar10(split, data_dir, resolution=None):
    """CIFAR-10 from (in order of preference) t2t TFRecords ``image_cifar10-{train,dev}*`` with
    PNG ``image/encoded`` (what compare_gan read), the python pickles ``cifar-10-batches-py``, or
    tensorflow-datasets ``cifar10``. Train = the 50k training images, test = the 10k test set."""
    if split not in ("train", "test"):
        raise ConfigError(f"cifar10 has splits train, test, not {split!r}")
    directory = Path(data_dir) if data_dir else settings.cifar10_dir()
    t2t = sorted(directory.glob(f"image_cifar10-{'train' if split == 'train' else 'dev'}*"))
    pickles = directory / "cifar-10-batches-py"
    if not pickles.exists() and (directory / "data_batch_1").exists():
        pickles = directory
    if t2t:
        from ganhub.training import tfrecord
        reader = tfrecord.RecordReader(t2t)
        images = _decode_all(reader, 32, 3, "crop_or_pad")
        provenance = {"files": [str(p) for p in t2t], "source": "t2t image_cifar10 TFRecords"}
    elif (pickles / "data_batch_1").exists():
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        chunks = []
        for name in names:
            with open(pickles / name, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            chunks.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
        images = np.concatenate(chunks).transpose(0, 2, 3, 1)
        provenance = {"files": [str(pickles / n) for n in names], "source": "cifar-10-batches-py"}
    elif not data_dir and _tfds_available():
        images, provenance = _tfds_arrays(
            "cifar10", split, local_hint=f", or unpack {CIFAR10_PICKLES_URL} into {directory} "
                                         f"(GANHUB_CIFAR10_DIR or data_dir)")
    else:
        raise DataError(f"CIFAR-10 {split} not found in {directory}: expected t2t TFRecords "
                        f"image_cifar10-*, or cifar-10-batches-py/, or install the tfds extra "
                        f"(pip install 'ganhub[tfds]') and leave data_dir empty")
    provenance.update(name="cifar10", split=split, num_examples=int(len(images)),
                      preprocessing="uint8 32x32x3 divided by 255 -> [0, 1]")
    return Dataset("cifar10", split, np.ascontiguousarray(images), provenance)


# --- disk-backed data sets -------------------------------------------------------------------------

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _shard_split(paths, split, train_fraction):
    """Split shard files by shard index: the first ``train_fraction`` of the shards train, the rest
    test (CelebA-HQ shards 0-89 / 90-99, LSUN 0-98 / 99)."""
    if split not in ("train", "test"):
        raise ConfigError(f"splits are train and test, not {split!r}")
    if not paths:
        return []
    total = len(paths)
    m = _SHARD.search(paths[0].name)
    if m:
        total = int(m.group(2))
    cut = int(round(total * train_fraction))
    chosen = []
    for i, path in enumerate(paths):
        m = _SHARD.search(path.name)
        index = int(m.group(1)) if m else i
        if (index < cut) == (split == "train"):
            chosen.append(path)
    return chosen


def _position_split(items, split, train_fraction):
    """First ``train_fraction`` of sorted items train, the rest (at least one) test."""
    if split not in ("train", "test"):
        raise ConfigError(f"splits are train and test, not {split!r}")
    cut = min(len(items) - 1, int(round(len(items) * train_fraction))) if len(items) > 1 else 1
    return items[:cut] if split == "train" else items[cut:]


def _image_files(directory):
    return sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _fit(image, resolution, mode):
    """uint8 HWC → resolution² : "crop_or_pad" = central crop (or pad), never a resize (LSUN, as
    tf.image.resize_with_crop_or_pad in compare_gan); "square_resize" = central square crop, then
    area resize when the size differs (image folders)."""
    import tensorflow as tf
    if mode == "square_resize":
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2,
                                              side, side)
        resized = tf.image.resize(image, [resolution, resolution], method="area")
        image = tf.cond(tf.equal(side, resolution),
                        lambda: tf.image.resize_with_crop_or_pad(image, resolution, resolution),
                        lambda: tf.cast(tf.round(resized), tf.uint8))
    return tf.image.resize_with_crop_or_pad(image, resolution, resolution)


def _example_decoder(record, channels, resolution, mode):
    """A graph function serialized tf.train.Example → uint8 [s, s, C], for the feature layout found
    in ``record`` (one sample record): t2t ``image/encoded``, TFDS ``image`` (encoded PNG/JPEG), or
    ProgressiveGAN's raw ``data`` + ``shape`` (CHW uint8, how CelebA-HQ TFRecords are often made)."""
    import tensorflow as tf
    example = tf.train.Example.FromString(record)
    keys = set(example.features.feature)
    key = next((k for k in ("image/encoded", "image") if k in keys), None)
    if key is not None:
        spec = {key: tf.io.FixedLenFeature([], tf.string)}

        def decode(serialized):
            encoded = tf.io.parse_single_example(serialized, spec)[key]
            image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
            return _fit(image, resolution, mode)
        return decode
    if {"data", "shape"} <= keys:
        spec = {"data": tf.io.FixedLenFeature([], tf.string),
                "shape": tf.io.FixedLenFeature([3], tf.int64)}

        def decode_raw(serialized):
            parsed = tf.io.parse_single_example(serialized, spec)
            chw = tf.reshape(tf.io.decode_raw(parsed["data"], tf.uint8), parsed["shape"])
            image = tf.transpose(chw, [1, 2, 0])[..., :channels]
            return _fit(image, resolution, mode)
        return decode_raw
    raise DataError(f"TFRecord examples have features {sorted(keys)}; expected 'image/encoded' "
                    f"(t2t), 'image' (tensorflow-datasets) or 'data'+'shape' (ProgressiveGAN)")


def _decode_all(reader, resolution, channels, mode):
    import tensorflow as tf
    decode = _example_decoder(reader.first(), channels, resolution, mode)
    records = tf.constant(reader.read(np.arange(len(reader))).astype(bytes))
    return tf.map_fn(decode, records, fn_output_signature=tf.uint8).numpy()


class IndexedDataset:
    """A data set read from disk by index: TFRecord shards or image files. ``load(indices)`` is a
    graph function indices → uint8 [k, s, s, C]."""

    def __init__(self, name, split, resolution, channels, provenance, *, records=None, files=None,
                 mode="crop_or_pad"):
        import tensorflow as tf
        self._tf = tf
        self.name, self.split, self.resolution, self.channels = name, split, resolution, channels
        self.mode = mode
        if records is not None:
            self.reader = records
            self.n = len(records)
            if self.n:
                self._decode = _example_decoder(records.first(), channels, resolution, mode)
        else:
            self.reader = None
            self.files = [str(f) for f in files]
            self.n = len(self.files)
            self._paths = tf.constant(self.files)
        if self.n == 0:
            raise DataError(f"{name} {split}: no images found ({provenance.get('source', '')})")
        self.provenance = {**provenance, "name": name, "split": split, "num_examples": self.n}

    def load(self, indices):
        tf = self._tf
        if self.reader is not None:
            records = tf.numpy_function(lambda i: self.reader.read(i).astype(bytes), [indices],
                                        tf.string, stateful=False)
            records.set_shape(indices.shape)
            decode = self._decode
        else:
            records = tf.gather(self._paths, indices)

            def decode(path):
                image = tf.io.decode_image(tf.io.read_file(path), channels=self.channels,
                                           expand_animations=False)
                return _fit(image, self.resolution, self.mode)
        images = tf.map_fn(decode, records, fn_output_signature=tf.uint8)
        return tf.ensure_shape(images, [indices.shape[0], self.resolution, self.resolution,
                                        self.channels])

    def take(self, n):
        """The first n images in data-set order, uint8 NHWC."""
        n = min(n, self.n)
        ds = self._tf.data.Dataset.range(0, n, 256).map(
            lambda s: self.load(self._tf.range(s, self._tf.minimum(s + 256, n))))
        return np.concatenate([b.numpy() for b in ds])

    def batches(self, batch_size, seed):
        return IndexedBatches(self, batch_size, seed)


def _celebahq128(split, data_dir, resolution=None):
    """CelebA-HQ at 128×128: TFRecord shards ``*celebahq-128-000XX-of-00100*`` (split by shard
    index: 0-89 train, 90-99 test; a single unsharded file such as ProgressiveGAN's
    ``celebahq-r07.tfrecords`` is all train) or, failing that, an image folder (sorted files; the first 90%
    train, the rest test, the same contiguous split). No resize: images must be 128×128."""
    if not data_dir:
        raise ConfigError("celebahq128 needs data_dir: CelebA-HQ has no public download to fetch "
                          "automatically (prepare it with ProgressiveGAN's dataset_tool)")
    directory = Path(data_dir)
    # t2t-style shards "*celebahq-128-000XX-of-00100*" or ProgressiveGAN's "celebahq-r07.tfrecords"
    shards = sorted(p for p in directory.glob("*celebahq*") if p.is_file()
                    and ("128" in p.name or "r07" in p.name) and p.suffix.lower() not in IMAGE_SUFFIXES)
    if shards:
        from ganhub.training import tfrecord
        chosen = _shard_split(shards, split, 0.9)
        return IndexedDataset("celebahq128", split, 128, 3,
                              {"source": "CelebA-HQ-128 TFRecords", "files": [str(p) for p in chosen]},
                              records=tfrecord.RecordReader(chosen))
    files = _position_split(_image_files(directory), split, 0.9)
    return IndexedDataset("celebahq128", split, 128, 3,
                          {"source": f"CelebA-HQ-128 image folder {directory}"}, files=files)


def _lsun_bedroom(split, data_dir, resolution=None):
    """LSUN-Bedroom at 128×128 by central crop of the full-size image (no downscaling, spec §8).
    Files: t2t ``image_lsun_bedrooms-train-000XX-of-00100`` (shards 0-98 train, 99 test), or TFDS
    ``lsun/bedroom`` TFRecords after ``tfds.builder('lsun/bedroom').download_and_prepare()``
    (data_dir = the folder holding ``lsun-train.tfrecord-*``; the last 1% of the shards test)."""
    directory = Path(data_dir) if data_dir else None
    if directory is None and _tfds_available():
        import tensorflow_datasets as tfds
        directory = Path(tfds.builder("lsun/bedroom").data_dir)
    if directory is None:
        raise ConfigError("lsun_bedroom needs data_dir (t2t or TFDS TFRecords) or the tfds extra")
    t2t = sorted(directory.glob("image_lsun_bedrooms-train*"))
    tfds_files = sorted(directory.glob("lsun-train.tfrecord*"))
    if t2t:
        chosen, source = _shard_split(t2t, split, 0.99), "t2t image_lsun_bedrooms TFRecords"
    elif tfds_files:
        chosen, source = _shard_split(tfds_files, split, 0.99), "tensorflow-datasets lsun/bedroom"
    else:
        raise DataError(f"no LSUN-Bedroom TFRecords in {directory} (expected "
                        f"image_lsun_bedrooms-train* or lsun-train.tfrecord*); pass the folder "
                        f"holding them as data_dir, or prepare them (43 GB, needs internet) with "
                        f"{tfds_prepare_hint('lsun/bedroom')}")
    from ganhub.training import tfrecord
    return IndexedDataset("lsun_bedroom", split, 128, 3,
                          {"source": source, "files": [str(p) for p in chosen],
                           "preprocessing": "central 128x128 crop (no resize), /255"},
                          records=tfrecord.RecordReader(chosen))


def _image_folder(split, data_dir, resolution=None):
    """Any folder of images (PNG/JPEG/BMP/GIF, searched recursively, sorted by path). With
    ``train/`` and ``test/`` subfolders those are the splits; otherwise the first 90% of the files
    train and the rest test. Images are made RGB, centre-cropped to a square and area-resized to
    ``resolution`` when their size differs."""
    if not data_dir:
        raise ConfigError("image_folder needs data_dir (a folder of images)")
    directory = Path(data_dir)
    if (directory / "train").is_dir() and (directory / "test").is_dir():
        files = _image_files(directory / split)
    else:
        files = _position_split(_image_files(directory), split, 0.9)
    return IndexedDataset("image_folder", split, resolution or 32, 3,
                          {"source": f"image folder {directory}",
                           "preprocessing": "RGB, central square crop, area resize, /255"},
                          files=files, mode="square_resize")


@dataclasses.dataclass(frozen=True)
class DataSetInfo:
    """What is known of a data set without reading it: the one declaration the training presets,
    the reference data names (ganhub.metrics.data) and the module metadata derive from."""
    name: str
    read: object                 # (split, data_dir, resolution) -> Dataset | IndexedDataset
    channels: int
    native: int                  # the size its images are stored at; its reference name's size
    study_resolution: int        # what the study's models train at (training.presets); the
                                 # size its reader gives when no resolution is asked
    padded: tuple = ()           # other sizes the reader gives, each a reference name <name>_<size>
    any_size: bool = False       # image folders: any size, as reference name <name>_<size>
    reference_count: int = 10_000  # test images in the study's reference (spec §7.1)

    def reference_name(self, resolution):
        """The reference data name of this data set at ``resolution`` (ganhub.metrics.data)."""
        if resolution != self.native and (self.any_size or resolution in self.padded):
            return f"{self.name}_{resolution}"
        return self.name


DATASETS = {d.name: d for d in (
    # Fashion-MNIST and MNIST: 28x28 native (compare_gan v2); the study pads them to 32.
    DataSetInfo("fashion_mnist", _fashion_mnist, 1, 28, 32, padded=(32,)),
    DataSetInfo("mnist", _mnist, 1, 28, 32, padded=(32,)),
    DataSetInfo("cifar10", _cifar10, 3, 32, 32),
    DataSetInfo("celebahq128", _celebahq128, 3, 128, 128, reference_count=3000),
    DataSetInfo("lsun_bedroom", _lsun_bedroom, 3, 128, 128),
    DataSetInfo("image_folder", _image_folder, 3, 32, 32, any_size=True),
)}


def dataset_info(name):
    """The DataSetInfo of ``name``; ConfigError naming the choices for an unknown one."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def load_dataset(name, split="train", data_dir="", resolution=None):
    """The ``split`` ("train" or "test") of data set ``name``; ``resolution`` is used by
    image_folder, and by mnist/fashion_mnist (28: native size, else zero-padded to 32); the others
    have a fixed size."""
    return dataset_info(name).read(split, data_dir, resolution)


def shuffled_indices(seed, step, batch_size, n):
    """Indices of batch ``step`` (1-based): positions (t-1)·bs … t·bs-1 of an endless stream whose
    epoch e is index_shuffle with seed (seed, e). ``seed`` int64 scalar tensor."""
    # A batch spans at most two epochs (batch_size <= n), each with its own scalar seed:
    # index_shuffle's batched-seed form is broken in TF 2.21.
    import tensorflow as tf
    step = tf.cast(step, tf.int64)
    positions = (step - 1) * batch_size + tf.range(batch_size, dtype=tf.int64)
    epoch = positions // n
    first = epoch[0]
    within = positions % n
    max_index = tf.constant(n - 1, tf.int64)
    a = tf.random.experimental.index_shuffle(within, tf.stack([seed, first]), max_index)
    b = tf.random.experimental.index_shuffle(within, tf.stack([seed, first + 1]), max_index)
    return tf.where(epoch == first, a, b)


def _stream(batch_fn, start, stop):
    """tf.data of batch_fn(t) for t = start … stop, decoded in parallel, in order, prefetched."""
    import tensorflow as tf
    return (tf.data.Dataset.range(start, stop + 1)
            .map(batch_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


class IndexedBatches:
    """Batch t of an IndexedDataset as float32 in [0, 1]; same order rule as ArrayBatches."""

    def __init__(self, dataset, batch_size, seed):
        import tensorflow as tf
        self._tf = tf
        if batch_size > dataset.n:
            raise DataError(f"batch_size {batch_size} is larger than the data set ({dataset.n} images)")
        self.dataset, self.batch_size, self.n = dataset, batch_size, dataset.n
        self.seed = tf.constant(int(seed), tf.int64)

    def indices(self, step):
        return shuffled_indices(self.seed, step, self.batch_size, self.n)

    def __call__(self, step):
        images = self.dataset.load(self.indices(step))
        return self._tf.cast(images, self._tf.float32) / 255.0

    def stream(self, start, stop):
        return _stream(self, start, stop)


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
        return shuffled_indices(self.seed, step, self.batch_size, self.n)

    def __call__(self, step):
        tf = self._tf
        batch = tf.gather(self.images, self.indices(step))
        return tf.cast(batch, tf.float32) / 255.0

    def stream(self, start, stop):
        """Batches start … stop (1-based steps) as a prefetched tf.data pipeline."""
        return _stream(self, start, stop)


def channels_of(name):
    """Channels of data set ``name``'s images, known without reading the data (for build_models)."""
    return dataset_info(name).channels
