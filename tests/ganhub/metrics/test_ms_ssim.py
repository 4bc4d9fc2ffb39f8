import numpy as np
import pytest
import tensorflow as tf

from ganhub.metrics import MetricInputError, ms_ssim, ms_ssim_diversity
from ganhub.metrics.ms_ssim import ms_ssim_matrix


def noisy_images(n, h, w, noise, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(1, h, w, 3))
    return np.clip(base + rng.normal(0, noise, size=(n, h, w, 3)), 0, 255)


def test_identical_images_score_one():
    img = noisy_images(1, 40, 40, 0)[0]
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_matches_tensorflow_ssim_multiscale():
    # Odd sizes exercise the symmetric padding before each 2×2 average pool.
    imgs = noisy_images(3, 177, 161, 60)
    ours = ms_ssim_matrix(imgs)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        theirs = tf.image.ssim_multiscale(tf.constant(imgs[i]), tf.constant(imgs[j]), 255.0).numpy()
        assert ours[i, j] == pytest.approx(float(theirs), abs=1e-5)
        assert ours[j, i] == ours[i, j]


def test_diversity_lower_for_more_diverse_sets():
    similar = noisy_images(12, 32, 32, 5, seed=1).astype(np.uint8)
    diverse = noisy_images(12, 32, 32, 120, seed=2).astype(np.uint8)
    kw = dict(num_batches=2, batch_size=6)
    assert ms_ssim_diversity(np.repeat(similar[:1], 12, 0), **kw) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim_diversity(diverse, **kw) < ms_ssim_diversity(similar, **kw) < 1.0


def test_diversity_needs_enough_images():
    with pytest.raises(MetricInputError):
        ms_ssim_diversity(np.zeros((10, 16, 16, 3), np.uint8), num_batches=5, batch_size=4)
