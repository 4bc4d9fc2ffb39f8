"""The tensorflow-datasets paths of training/data.py, offline.

MNIST, Fashion-MNIST and CIFAR-10 come through ``data.load_dataset`` (the entry point training uses)
with ``tfds.testing.mock_data`` faking the data sets with random examples of the real feature spec;
the local-file directories are pointed at empty folders so the loader falls through to TFDS.
LSUN-Bedroom is read from TFRecord shards, not through ``tfds.load``, so its shards are written
here with TFDS's own example serialization (``builder.info.features.serialize_example``, JPEG
images) into a temporary TFDS data dir. Sockets are blocked: nothing may touch the network.
"""
import contextlib
import pathlib
import socket
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from ganhub.training import data, tfrecord

pytestmark = pytest.mark.slow

N = 12


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, no local data files, and a private TFDS data dir."""
    def refuse(*args, **kwargs):
        raise AssertionError("a TFDS test tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    empty = tmp_path / "no-local-files"
    empty.mkdir()
    for var in ("GANHUB_MNIST_DIR", "GANHUB_FASHION_MNIST_DIR", "GANHUB_CIFAR10_DIR"):
        monkeypatch.setenv(var, str(empty))
    # TFDS reads TFDS_DATA_DIR once, at import, into constants.DATA_DIR: patch that.
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))


@contextlib.contextmanager
def mock_tfds(num_examples):
    """``tfds.testing.mock_data`` whose "test" split holds the photographic negative (255 - x) of
    the "train" images: the plain mock yields the same random examples for every split, which
    could not show which split the loader asked for. Yields the list of splits requested."""
    requested = []
    with tfds.testing.mock_data(num_examples=num_examples):
        builder_cls = tfds.core.dataset_builder.FileReaderBuilder
        mocked = builder_cls._as_dataset

        def as_dataset(self, split, *args, **kwargs):
            requested.append(str(split))
            ds = mocked(self, split, *args, **kwargs)
            if str(split) == "test":
                ds = ds.map(lambda ex: {**ex, "image": 255 - ex["image"]})
            return ds
        with mock.patch.object(builder_cls, "_as_dataset", as_dataset):
            yield requested


def _tfds_images(name, split):
    ds = tfds.load(name, split=split, shuffle_files=False)
    return [example["image"] for example in tfds.as_numpy(ds)]


SMALL = [("mnist", 1), ("fashion_mnist", 1), ("cifar10", 3)]


@pytest.mark.parametrize("name,channels", SMALL)
@pytest.mark.parametrize("split", ["train", "test"])
def test_small_datasets_load_through_tfds(name, channels, split):
    with mock_tfds(N) as requested:
        ds = data.load_dataset(name, split)
        assert requested == [split]
        ref = {s: np.stack(_tfds_images(name, s)) for s in ("train", "test")}
    assert isinstance(ds, data.Dataset)
    assert ds.images.shape == (N, 32, 32, channels)
    assert ds.images.dtype == np.uint8
    assert (ds.resolution, ds.channels, ds.n) == (32, channels, N)
    assert data.channels_of(name) == channels
    assert ds.split == split and ds.provenance["split"] == split
    assert ds.provenance["source"].startswith("tensorflow-datasets")
    assert ds.provenance["num_examples"] == N
    np.testing.assert_array_equal(ref["test"], 255 - ref["train"])  # the splits differ
    if channels == 1:
        # 28x28 zero-padded centrally to 32x32 (2 pixels each side), not resized.
        assert ref[split].shape == (N, 28, 28, 1)
        np.testing.assert_array_equal(ds.images[:, 2:30, 2:30], ref[split])
        border = ds.images.copy()
        border[:, 2:30, 2:30] = 0
        assert not border.any()
    else:
        assert ref[split].shape == (N, 32, 32, 3)
        np.testing.assert_array_equal(ds.images, ref[split])
    assert ds.images.max() > 0  # random data, not an all-zero array


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_tfds_batches_are_float_in_unit_range_and_deterministic(name):
    with tfds.testing.mock_data(num_examples=N):
        first = data.load_dataset(name, "train")
        again = data.load_dataset(name, "train")
    np.testing.assert_array_equal(first.images, again.images)  # same data-set order every load
    a, b, other = first.batches(4, seed=3), again.batches(4, seed=3), first.batches(4, seed=4)
    for step in (1, 2, 3, 4):  # step 4 is in the second epoch
        batch = a(step).numpy()
        assert batch.dtype == np.float32 and batch.shape[1:] == first.images.shape[1:]
        assert 0.0 <= batch.min() and batch.max() <= 1.0 and batch.max() > 0
        np.testing.assert_array_equal(batch, b(step).numpy())
        np.testing.assert_allclose(batch, first.images[a.indices(step).numpy()] / 255.0, atol=1e-7)
    epoch = np.concatenate([a.indices(step).numpy() for step in (1, 2, 3)])
    assert sorted(epoch) == list(range(N))  # one epoch is a permutation of the data set
    assert not np.array_equal(a.indices(1).numpy(), other.indices(1).numpy())
    streamed = [x.numpy() for x in a.stream(1, 4)]
    assert len(streamed) == 4
    for step, x in zip((1, 2, 3, 4), streamed):
        np.testing.assert_array_equal(x, a(step).numpy())


# --- LSUN-Bedroom ----------------------------------------------------------------------------------

def _lsun_dir():
    builder = tfds.builder("lsun/bedroom")
    path = pathlib.Path(builder.data_dir)
    path.mkdir(parents=True)
    return builder, path


def _serialize(builder, image, key):
    return builder.info.features.serialize_example({"id": key, "image": image})


def _decoded(record):
    """The image a serialized TFDS example holds, decoded once (JPEG is lossy: compare to this)."""
    encoded = tf.train.Example.FromString(record).features.feature["image"].bytes_list.value[0]
    return tf.io.decode_jpeg(encoded, channels=3).numpy()


def test_lsun_bedroom_tfds_shards_are_centre_cropped_not_resized():
    builder, directory = _lsun_dir()
    rng = np.random.default_rng(0)
    # Large known images, different sizes (H x W): odd margins check the crop offsets.
    big = [rng.integers(0, 256, size=shape, dtype=np.uint8)
           for shape in [(160, 200, 3), (129, 300, 3), (256, 131, 3), (170, 150, 3)]]
    # Random examples of the real lsun/bedroom spec from mock_data (their images are smaller than
    # 128, so they are padded, never resized).
    with tfds.testing.mock_data(num_examples=3):
        small = _tfds_images("lsun/bedroom", "train")
    train = [_serialize(builder, img, f"b{i}") for i, img in enumerate(big[:3])]
    train += [_serialize(builder, img, f"s{i}") for i, img in enumerate(small)]
    test = [_serialize(builder, big[3], "t0")]
    # TFDS shard names; 100 shards in all: 0-98 train (shard 95 too: only the last 1% is test), 99 test.
    tfrecord.write(directory / "lsun-train.tfrecord-00000-of-00100", train[:3])
    tfrecord.write(directory / "lsun-train.tfrecord-00095-of-00100", train[3:])
    tfrecord.write(directory / "lsun-train.tfrecord-00099-of-00100", test)

    ds = data.load_dataset("lsun_bedroom", "train")  # no data_dir: the TFDS builder's folder
    assert (ds.name, ds.split, ds.resolution, ds.channels, ds.n) == ("lsun_bedroom", "train", 128, 3, 6)
    assert ds.provenance["source"] == "tensorflow-datasets lsun/bedroom"
    assert [p.rsplit("-", 3)[-3] for p in ds.provenance["files"]] == ["00000", "00095"]
    images = ds.take(ds.n)
    assert images.shape == (6, 128, 128, 3) and images.dtype == np.uint8
    for record, out in zip(train, images):
        full = _decoded(record)
        h, w = full.shape[:2]
        if h >= 128 and w >= 128:
            top, left = (h - 128) // 2, (w - 128) // 2
            np.testing.assert_array_equal(out, full[top:top + 128, left:left + 128])
        else:
            assert h < 128 and w < 128
            top, left = (128 - h) // 2, (128 - w) // 2
            np.testing.assert_array_equal(out[top:top + h, left:left + w], full)
            border = out.copy()
            border[top:top + h, left:left + w] = 0
            assert not border.any()

    held_out = data.load_dataset("lsun_bedroom", "test")
    assert held_out.n == 1 and held_out.split == "test"
    full = _decoded(test[0])
    np.testing.assert_array_equal(held_out.take(1)[0], full[21:149, 11:139])  # 170x150 -> 128

    # An explicit data_dir (the folder holding lsun-train.tfrecord-*) reads the same records.
    np.testing.assert_array_equal(data.load_dataset("lsun_bedroom", "train", str(directory)).take(6),
                                  images)

    batches, same, other = ds.batches(4, seed=5), ds.batches(4, seed=5), ds.batches(4, seed=6)
    for step in (1, 2):  # step 2 crosses the epoch boundary (8 > 6)
        batch = batches(step).numpy()
        assert batch.dtype == np.float32 and batch.shape == (4, 128, 128, 3)
        assert 0.0 <= batch.min() and batch.max() <= 1.0
        np.testing.assert_array_equal(batch, same(step).numpy())
        np.testing.assert_allclose(batch, images[batches.indices(step).numpy()] / 255.0, atol=1e-7)
    assert not np.array_equal(batches.indices(1).numpy(), other.indices(1).numpy())


def test_lsun_bedroom_without_prepared_tfds_data_is_a_clear_error():
    with pytest.raises(data.DataError, match="lsun-train.tfrecord"):
        data.load_dataset("lsun_bedroom", "train")


# --- the tfds extra as installed ---------------------------------------------------------------------

def test_the_tfds_extra_declares_what_preparing_a_data_set_imports():
    """tfds imports importlib_resources lazily, when a builder locates its code (checksums) to
    prepare a data set: the mocked loads above never get there, a first real CIFAR-10 run does."""
    import configparser

    builder = tfds.builder("cifar10")
    assert builder.code_path is not None   # ModuleNotFoundError: importlib_resources without it
    cfg = configparser.ConfigParser()
    cfg.read(pathlib.Path(__file__).resolve().parents[2] / "setup.cfg")
    extra = {line.split(">")[0].split("=")[0].strip().replace("-", "_").lower()
             for line in cfg["options.extras_require"]["tfds"].splitlines() if line.strip()}
    assert {"tensorflow_datasets", "importlib_resources"} <= extra


@pytest.mark.parametrize("name,local", [("cifar10", "cifar-10-python.tar.gz"),
                                        ("mnist", "train-images-idx3-ubyte")])
def test_data_not_prepared_says_how_to_fetch_it_or_where_to_put_it(name, local):
    with pytest.raises(data.DataError) as info:   # sockets are refused: no download is tried
        data.load_dataset(name, "train")
    message = str(info.value)
    assert "\n" not in message
    assert f"tfds.builder('{name}').download_and_prepare()" in message
    assert local in message and str(tfds.core.constants.DATA_DIR) in message
