"""A stand-in with the attributes of ganhub.Generator, and a tiny feature extractor, for
evaluate() tests (tests/export and tests/ganhub/study import this file too)."""
import numpy as np


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


def write_tiny_extractor(path):
    """Save a SavedModel mapping [N, 16, 16, 3] in [-1, 1) to 6 features ("pool_3") and 5 logits
    at ``path``; ganhub.metrics loads it as an extractor by path."""
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

    module = Tiny()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path
