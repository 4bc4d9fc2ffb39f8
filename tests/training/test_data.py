"""Data loaders on small synthetic files written here in the real formats, and the resumable order."""
import io
import pickle

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganhub.errors import ConfigError
from ganhub.training import data, tfrecord


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(buf, format="PNG")
    return buf.getvalue()


def _example(**features):
    feats = {}
    for key, value in features.items():
        if isinstance(value, bytes):
            feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        else:
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(value)))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def _images(n, size, seed, channels=3):
    h, w = size if isinstance(size, tuple) else (size, size)
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, channels), dtype=np.uint8)


def test_tfrecord_index_reads_records_by_position(tmp_path):
    records = [bytes([i]) * (i * 7 + 1) for i in range(20)]
    tfrecord.write(tmp_path / "a.tfrecord", records[:12])
    tfrecord.write(tmp_path / "b.tfrecord", records[12:])
    reader = tfrecord.RecordReader([tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"])
    assert len(reader) == 20
    assert list(reader.read([19, 0, 12, 5])) == [records[19], records[0], records[12], records[5]]
    (tmp_path / "bad.tfrecord").write_bytes((tmp_path / "a.tfrecord").read_bytes()[:-3])
    with pytest.raises(tfrecord.RecordIndexError, match="runs past the end"):
        tfrecord.scan(tmp_path / "bad.tfrecord")


def test_cifar10_t2t_tfrecords_with_png(tmp_path):
    train, test = _images(10, 32, 0), _images(4, 32, 1)
    tfrecord.write(tmp_path / "image_cifar10-train-00000-of-00002", [_example(**{"image/encoded": _png(x)}) for x in train[:6]])
    tfrecord.write(tmp_path / "image_cifar10-train-00001-of-00002", [_example(**{"image/encoded": _png(x)}) for x in train[6:]])
    tfrecord.write(tmp_path / "image_cifar10-dev-00000-of-00001", [_example(**{"image/encoded": _png(x)}) for x in test])
    ds = data.load_dataset("cifar10", "train", str(tmp_path))
    np.testing.assert_array_equal(ds.images, train)
    np.testing.assert_array_equal(data.load_dataset("cifar10", "test", str(tmp_path)).take(3), test[:3])


def test_cifar10_python_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_images(3, 32, i) for i in range(6)]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, images in zip(names, batches):
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": images.transpose(0, 3, 1, 2).reshape(3, -1)}, f)
    train = data.load_dataset("cifar10", "train", str(tmp_path))
    assert train.images.shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(train.images[3:6], batches[1])
    np.testing.assert_array_equal(data.load_dataset("cifar10", "test", str(tmp_path)).images, batches[5])


def test_celebahq_shards_split_90_10(tmp_path):
    images = _images(20, 128, 2)
    for shard in range(10):  # 10 shards of 2: shards 0-8 train, shard 9 test
        tfrecord.write(tmp_path / f"image_celebahq-128-{shard:05d}-of-00010",
                       [_example(**{"image/encoded": _png(x)}) for x in images[2 * shard:2 * shard + 2]])
    train = data.load_dataset("celebahq128", "train", str(tmp_path))
    test = data.load_dataset("celebahq128", "test", str(tmp_path))
    assert (train.n, test.n, train.channels, train.resolution) == (18, 2, 3, 128)
    np.testing.assert_array_equal(train.take(18), images[:18])
    np.testing.assert_array_equal(test.take(5), images[18:])


def test_celebahq_progressive_gan_raw_records(tmp_path):
    images = _images(4, 128, 3)
    tfrecord.write(tmp_path / "celebahq-r07.tfrecords", [
        _example(shape=[3, 128, 128], data=x.transpose(2, 0, 1).tobytes()) for x in images])
    ds = data.load_dataset("celebahq128", "train", str(tmp_path))
    np.testing.assert_array_equal(ds.take(4), images)


def test_celebahq_image_folder(tmp_path):
    images = _images(10, 128, 4)
    for i, x in enumerate(images):
        Image.fromarray(x).save(tmp_path / f"{i:03d}.png")
    test = data.load_dataset("celebahq128", "test", str(tmp_path))
    np.testing.assert_array_equal(test.take(10), images[9:])


def test_lsun_is_a_central_crop_not_a_resize(tmp_path):
    big = _images(3, (150, 140), 5)
    for shard in range(100):  # shards 0-98 train, 99 test
        chunk = big[:2] if shard < 99 else big[2:]
        tfrecord.write(tmp_path / f"image_lsun_bedrooms-train-{shard:05d}-of-00100",
                       [_example(**{"image/encoded": _png(x)}) for x in (chunk if shard in (0, 99) else [])])
    train = data.load_dataset("lsun_bedroom", "train", str(tmp_path))
    test = data.load_dataset("lsun_bedroom", "test", str(tmp_path))
    assert (train.n, test.n) == (2, 1)
    np.testing.assert_array_equal(train.take(2), big[:2, 11:139, 6:134])
    np.testing.assert_array_equal(test.take(1), big[2:, 11:139, 6:134])


def test_image_folder_crops_square_and_resizes(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, 10:50] = 200   # the central 40x40 square is uniform 200, the side strips are 0
    Image.fromarray(image).save(tmp_path / "train" / "a.png")
    Image.fromarray(image[..., 0]).save(tmp_path / "test" / "b.png")  # grayscale -> RGB
    train = data.load_dataset("image_folder", "train", str(tmp_path), resolution=16)
    out = train.take(1)
    assert out.shape == (1, 16, 16, 3)
    assert np.all(out == 200)  # the side strips were cropped away, not squeezed in
    assert data.load_dataset("image_folder", "test", str(tmp_path), resolution=16).take(1).shape == (1, 16, 16, 3)
    with pytest.raises(ConfigError, match="needs data_dir"):
        data.load_dataset("image_folder", "train", "")


def test_idx_fashion_mnist_is_padded_to_32(fake_fashion_dir):
    ds = data.load_dataset("fashion_mnist", "train", str(fake_fashion_dir))
    assert ds.images.shape[1:] == (32, 32, 1)
    assert ds.images[:, :2].max() == 0 and ds.images[:, -2:].max() == 0


def test_idx_sizes_come_from_the_declaration(fake_fashion_dir):
    raw = data.read_idx(next(fake_fashion_dir.glob("train-images*")))
    native = data.load_dataset("fashion_mnist", "train", str(fake_fashion_dir), resolution=28)
    np.testing.assert_array_equal(native.images[..., 0], raw)
    padded = data.load_dataset("fashion_mnist", "train", str(fake_fashion_dir), resolution=32)
    np.testing.assert_array_equal(padded.images[:, 2:30, 2:30, 0], raw)
    with pytest.raises(ConfigError, match="fashion_mnist comes at resolution 28 or 32, not 64"):
        data.load_dataset("fashion_mnist", "train", str(fake_fashion_dir), resolution=64)


def test_batch_order_is_a_function_of_seed_and_step_on_disk_and_in_memory(tmp_path):
    images = _images(13, 16, 6)
    for i, x in enumerate(images):
        Image.fromarray(x).save(tmp_path / f"{i:02d}.png")
    on_disk = data.load_dataset("image_folder", "train", str(tmp_path), resolution=16)
    in_memory = data.ArrayBatches(images[:on_disk.n], 5, seed=9)
    disk_batches = on_disk.batches(5, seed=9)
    streamed = [b.numpy() for b in disk_batches.stream(4, 8)]
    for k, t in enumerate(range(4, 9)):
        direct = in_memory(tf.constant(t, tf.int64)).numpy()
        np.testing.assert_array_equal(streamed[k], direct)   # resume at step 4 == steps 4.. of a run
    # each epoch is a permutation: 5·n consecutive draws hold every image 5 times
    n = on_disk.n
    drawn = np.concatenate([in_memory.indices(tf.constant(t, tf.int64)).numpy() for t in range(1, n + 1)])
    assert sorted(np.bincount(drawn, minlength=n)) == [5] * n
    other = data.ArrayBatches(images[:n], 5, seed=10)
    assert not np.array_equal(other.indices(tf.constant(1, tf.int64)), in_memory.indices(tf.constant(1, tf.int64)))
