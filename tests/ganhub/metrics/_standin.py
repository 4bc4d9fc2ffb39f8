"""A stand-in with the attributes of ganhub.Generator, for evaluate() tests."""
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
