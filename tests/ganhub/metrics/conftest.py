import numpy as np
import pytest


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


class StandInGenerator:
    """Same attributes as ganhub.Generator: a fixed random linear map z → [0, 1] images."""

    def __init__(self, z_dim=4, image_shape=(12, 12, 3), seed=0):
        self.z_dim = z_dim
        self.image_shape = tuple(image_shape)
        self.metadata = {"name": "stand-in"}
        rng = np.random.default_rng(seed)
        self._w = rng.normal(size=(z_dim, int(np.prod(image_shape)))).astype(np.float32)
        self.calls = 0

    def sample_latents(self, n, seed=None):
        return np.random.default_rng(seed).uniform(-1, 1, size=(n, self.z_dim)).astype(np.float32)

    def __call__(self, z):
        self.calls += 1
        x = 1 / (1 + np.exp(-np.asarray(z) @ self._w))
        return x.reshape((len(z),) + self.image_shape).astype(np.float32)

    def sample(self, n, seed=None, batch_size=64):
        return np.round(self(self.sample_latents(n, seed)) * 255).astype(np.uint8)


@pytest.fixture
def stand_in_generator():
    return StandInGenerator()
