"""One data layer: `ganhub stats NAME` reads each data set with the readers training uses
(ganhub.training.data), with the same preprocessing, so a reference holds the training pixels.

Each data set gets a fixture in its on-disk format; the test checks, for the split the
reference is made of, (1) the training pipeline's pixels (``load_dataset(...).batches``, what
``Trainer`` feeds D) against an independent numpy reading of the same files, and (2) the
reference `ganhub stats` writes against the moments of the tiny extractor's features of those
pixels."""
import pickle
import socket

import numpy as np
import pytest
import tensorflow as tf

from ganhub.cli import main
from ganhub.metrics import ReferenceStats, load_extractor
from ganhub.metrics.data import DataSourceError, load_images, split_data_name
from ganhub.training import data, tfrecord

pytestmark = pytest.mark.slow

N = 6  # test-split images used for each reference


def _png(image):
    return tf.io.encode_png(image).numpy()


def _example(**features):
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(value)))
    return tf.train.Example(features=tf.train.Features(
        feature={k: feature(v) for k, v in features.items()})).SerializeToString()


def fashion(tmp_path, fake_fashion_dir, native):
    """IDX files (gzip): 28×28 natively, or zero-padded to 32."""
    images = data.read_idx(fake_fashion_dir / "t10k-images-idx3-ubyte.gz")[:N, ..., None]
    expected = images if native else np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return ("fashion_mnist" if native else "fashion_mnist_32"), fake_fashion_dir, expected


def mnist(tmp_path, fake_fashion_dir):
    """MNIST in the same IDX layout (ungzipped files this time)."""
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (N + 2, 28, 28), dtype=np.uint8)
    data.write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    data.write_idx(tmp_path / "train-images-idx3-ubyte", images[::-1])
    return "mnist_32", tmp_path, np.pad(images[:N, ..., None], ((0, 0), (2, 2), (2, 2), (0, 0)))


def cifar_pickles(tmp_path, fake_fashion_dir):
    """cifar-10-batches-py: rows of 3072 bytes, channel-major (R plane, G plane, B plane)."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows[name] = rng.integers(0, 256, (N + 1, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rows[name], b"labels": [0] * (N + 1)}, f)
    expected = np.stack([r.reshape(3, 32, 32).transpose(1, 2, 0) for r in rows["test_batch"][:N]])
    return "cifar10", tmp_path, expected


def celebahq_shards(tmp_path, fake_fashion_dir):
    """ProgressiveGAN-style TFRecord shards (raw CHW bytes + shape): shards 0-89 train, 90-99 test."""
    rng = np.random.default_rng(6)
    chw = rng.integers(0, 256, (2 * N, 3, 128, 128), dtype=np.uint8)
    write = lambda path, images: tfrecord.write(  # noqa: E731
        path, [_example(data=x.tobytes(), shape=x.shape) for x in images])
    write(tmp_path / "celebahq-128-00003-of-00100.tfrecords", chw[N:])
    write(tmp_path / "celebahq-128-00095-of-00100.tfrecords", chw[:N])
    return "celebahq128", tmp_path, chw[:N].transpose(0, 2, 3, 1)


def lsun_shards(tmp_path, fake_fashion_dir):
    """t2t TFRecords of PNGs larger than 128 (odd margins): central 128×128 crop, no resize;
    the last of 100 shards is the test split."""
    rng = np.random.default_rng(7)
    shapes = [(150, 171, 3), (129, 300, 3), (256, 131, 3), (140, 140, 3), (200, 160, 3), (128, 128, 3)]
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]
    tfrecord.write(tmp_path / "image_lsun_bedrooms-train-00099-of-00100",
                   [_example(**{"image/encoded": _png(x)}) for x in images])
    tfrecord.write(tmp_path / "image_lsun_bedrooms-train-00000-of-00100",
                   [_example(**{"image/encoded": _png(images[0])})])
    crops = [x[(x.shape[0] - 128) // 2:][:128, (x.shape[1] - 128) // 2:][:, :128] for x in images]
    return "lsun_bedroom", tmp_path, np.stack(crops)


def image_folder(tmp_path, fake_fashion_dir):
    """A folder with train/ and test/: RGB, central square crop, area resize to 32 (here an exact
    2×2 box mean of the 64×64 crop of 64×80 images)."""
    from PIL import Image
    rng = np.random.default_rng(8)
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    images = rng.integers(0, 256, (N, 64, 80, 3), dtype=np.uint8)
    for i, x in enumerate(images):
        Image.fromarray(x).save(tmp_path / "test" / f"{i:02d}.png")
        Image.fromarray(x[::-1]).save(tmp_path / "train" / f"{i:02d}.png")
    crop = images[:, :, 8:72].astype(np.float64)
    expected = np.round(crop.reshape(N, 32, 2, 32, 2, 3).mean(axis=(2, 4))).astype(np.uint8)
    return "image_folder", tmp_path, expected


FIXTURES = {
    "fashion_mnist": lambda t, f: fashion(t, f, native=True),
    "fashion_mnist_32": lambda t, f: fashion(t, f, native=False),
    "mnist_32": mnist, "cifar10": cifar_pickles, "celebahq128": celebahq_shards,
    "lsun_bedroom": lsun_shards, "image_folder": image_folder,
}


def training_pixels(name, data_dir, n):
    """The first n test images as the training pipeline delivers them: batch 1 of an epoch of
    ``Dataset.batches`` (float [0, 1]), put back in data-set order and scaled to uint8."""
    from ganhub.metrics.data import data_set_of
    dataset, resolution = data_set_of(name)
    ds = data.load_dataset(dataset, "test", str(data_dir), resolution)
    batches = ds.batches(ds.n, seed=3)
    order = np.argsort(batches.indices(1).numpy())
    pixels = np.rint(batches(1).numpy() * 255.0).astype(np.uint8)[order]
    return pixels[:n]


@pytest.mark.parametrize("name", list(FIXTURES))
def test_stats_of_each_data_set_are_the_training_pixels(name, tmp_path, fake_fashion_dir,
                                                        tiny_extractor_dir, capsys):
    reference_name, data_dir, expected = FIXTURES[name](tmp_path, fake_fashion_dir)
    assert reference_name == name
    np.testing.assert_array_equal(training_pixels(name, data_dir, N), expected)
    images, described = load_images(name, "test", N, data_dir=data_dir)
    np.testing.assert_array_equal(images, expected)
    assert described["dataset"] == name and described["split"] == "test"

    out = tmp_path / "ref.npz"
    assert main(["stats", name, "--data-dir", str(data_dir), "-n", str(N), "--extractor",
                 str(tiny_extractor_dir), "-o", str(out)]) == 0, capsys.readouterr().err
    reference = ReferenceStats.load(out)
    features, _ = load_extractor(str(tiny_extractor_dir)).features_and_logits(expected, "legacy")
    np.testing.assert_allclose(reference.mu, features.mean(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(reference.sigma, np.cov(features, rowvar=False), rtol=1e-6, atol=1e-9)
    p = reference.provenance
    assert (p["dataset"], p["split"], p["num_samples"]) == (name, "test", N)
    assert p["image_shape"] == list(expected.shape[1:])


def test_cifar10_from_tfds_mock_data(tmp_path, monkeypatch, tiny_extractor_dir, capsys):
    """No local files: CIFAR-10 comes from tensorflow-datasets (mocked, sockets refused), as in
    training; the reference is made of the same images."""
    import tensorflow_datasets as tfds

    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("GANHUB_CIFAR10_DIR", str(tmp_path))
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))
    with tfds.testing.mock_data(num_examples=N):
        expected = np.stack([ex["image"] for ex in tfds.as_numpy(
            tfds.load("cifar10", split="test", shuffle_files=False))])
        np.testing.assert_array_equal(training_pixels("cifar10", "", N), expected)
        out = tmp_path / "ref.npz"
        assert main(["stats", "cifar10", "-n", str(N), "--extractor", str(tiny_extractor_dir),
                     "-o", str(out)]) == 0, capsys.readouterr().err
    features, _ = load_extractor(str(tiny_extractor_dir)).features_and_logits(expected, "legacy")
    np.testing.assert_allclose(ReferenceStats.load(out).mu, features.mean(axis=0), rtol=1e-6)


def test_data_names_and_splits():
    assert split_data_name("cifar10-test") == ("cifar10", "test")
    assert split_data_name("fashion-mnist") == ("fashion_mnist", "test")
    assert split_data_name("image_folder_64-train") == ("image_folder_64", "train")
    assert split_data_name("notadataset-test") is None
    with pytest.raises(DataSourceError, match="unknown split 'tset' of fashion_mnist"):
        split_data_name("fashion_mnist-tset")


def test_reference_data_name_reads_no_second_copy_of_the_idx_format():
    """ganhub.metrics.data keeps no IDX reader or padding of its own (it used to)."""
    import inspect

    import ganhub.metrics.data as reference_data
    source = inspect.getsource(reference_data)
    assert "idx3" not in source and "np.pad" not in source and "gzip" not in source
