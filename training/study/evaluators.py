"""Score functions for ``run_trial``: a checkpoint → a number (lower is better).

``metrics_evaluator`` scores with ganhub.metrics (imported only when a score is asked for, so the
study does not depend on the evaluation package at import time). The study's protocol: 10,000
generated images (3,000 for CelebA-HQ) against the same number of test-split images, G in inference
mode (BN moving averages), z ~ U[-1, 1] with a fixed seed for every checkpoint.
"""
import numpy as np


class CheckpointGenerator:
    """A training checkpoint's generator with the small interface ganhub.metrics uses:
    ``sample_latents(n, seed)``, ``__call__(z) -> images in [0, 1]``, ``z_dim``, ``image_shape``."""

    def __init__(self, model_dir, checkpoint=None):
        from training.loop import load_generator
        self.config, self.generator, self.state = load_generator(model_dir, checkpoint)
        self.z_dim = self.config.z_dim
        from training.data import channels_of
        channels = channels_of(self.config.dataset)
        self.image_shape = (self.config.resolution, self.config.resolution, channels)

    def sample_latents(self, n, seed):
        return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, self.z_dim)).astype(np.float32)

    def __call__(self, z):
        import tensorflow as tf
        return self.generator(tf.convert_to_tensor(z, tf.float32), training=False).numpy()


def metrics_evaluator(reference, metric="fid", num_samples=10_000, seed=None, **kwargs):
    """evaluate(model_dir, checkpoint) → ``metric`` from ganhub.metrics.evaluate; NaN images give
    NaN (the runner records compare_gan's 31337)."""

    def evaluate(model_dir, checkpoint):
        from ganhub.metrics import evaluate as score
        from ganhub.metrics._checks import MetricInputError
        generator = CheckpointGenerator(model_dir, checkpoint)
        try:
            result = score(generator, reference=reference, metrics=(metric,),
                           num_samples=num_samples, seed=seed, **kwargs)
        except MetricInputError as exc:
            if "NaN" in str(exc):
                return float("nan")
            raise
        return float(result[metric])

    return evaluate
