import numpy as np
import pytest

from _standin import StandInGenerator


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own ganhub cache and no network-fetched weights."""
    monkeypatch.setenv("GANHUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANHUB_DISABLE_PROGRESS", "1")
    monkeypatch.delenv("GANHUB_FID_INCEPTION_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def tiny_extractor_dir(tmp_path_factory):
    """A SavedModel mapping [N, 16, 16, 3] in [-1, 1) to 6 features and 5 logits."""
    import tensorflow as tf

    rng = np.random.default_rng(0)

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(rng.normal(size=(3, 3, 3, 6)).astype(np.float32))
            self.head = tf.Variable(rng.normal(size=(6, 5)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 3], tf.float32)])
        def serve(self, images):
            h = tf.nn.relu(tf.nn.conv2d(images, self.kernel, 2, "SAME"))
            pool = tf.reduce_mean(h, axis=[1, 2])
            return {"pool_3": pool, "logits": tf.matmul(pool, self.head)}

    path = tmp_path_factory.mktemp("tiny_extractor") / "model"
    module = Tiny()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


@pytest.fixture
def stand_in_generator():
    return StandInGenerator()
