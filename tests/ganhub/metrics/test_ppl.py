"""Perceptual path length against a direct, sample-by-sample computation on a tiny generator."""
import math

import numpy as np
import pytest

from ganhub.metrics import MetricInputError
from ganhub.metrics.ppl import (PPL_EPSILON, perceptual_path_length, summarize_path_lengths)


class TinyGenerator:
    """z [n, 6] → sigmoid(zW) as [n, 4, 4, 1] images; normal or uniform z."""

    def __init__(self, distribution="normal", linear=False):
        self.z_dim = 6
        self.z_distribution = {"name": distribution}
        self._w = np.random.default_rng(0).normal(size=(6, 16)) * 0.5
        self._linear = linear
        self.batches = []

    def sample_latents(self, n, seed=None):
        rng = np.random.default_rng(seed)
        if self.z_distribution["name"] == "normal":
            return rng.normal(size=(n, self.z_dim)).astype(np.float32)
        return rng.uniform(-1, 1, size=(n, self.z_dim)).astype(np.float32)

    def __call__(self, z):
        z = np.asarray(z, np.float64)
        self.batches.append(len(z))
        h = z @ self._w
        x = 0.5 + 0.01 * h if self._linear else 1 / (1 + np.exp(-h))
        return x.reshape(len(z), 4, 4, 1)


PROJECTION = np.random.default_rng(1).normal(size=(16, 5))


def tiny_features(images):
    return np.asarray(images, np.float64).reshape(len(images), -1) @ PROJECTION


def direct_slerp(a, b, t):
    omega = math.acos(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def direct_ppl(gen, n, seed, interp, eps=PPL_EPSILON):
    """One sample at a time: endpoints from sample_latents(2n, seed), t from the second stream."""
    z = gen.sample_latents(2 * n, seed).astype(np.float64)
    t = np.random.default_rng([seed, 1]).uniform(0, 1, n)
    lengths = []
    for i in range(n):
        za = interp(z[i], z[n + i], t[i]).astype(np.float32)[None]
        zb = interp(z[i], z[n + i], t[i] + eps).astype(np.float32)[None]
        fa = tiny_features(np.clip(gen(za), 0, 1) * 255)
        fb = tiny_features(np.clip(gen(zb), 0, 1) * 255)
        lengths.append(float(((fa - fb) ** 2).sum()) / eps ** 2)
    lengths = np.array(lengths)
    lo, hi = np.percentile(lengths, 1, method="lower"), np.percentile(lengths, 99, method="higher")
    return lengths[(lengths >= lo) & (lengths <= hi)].mean()


def test_normal_z_matches_direct_slerp_computation():
    gen = TinyGenerator("normal")
    result = perceptual_path_length(gen, tiny_features, 150, seed=3, batch_size=32, progress=False)
    assert result["ppl"] == pytest.approx(direct_ppl(TinyGenerator("normal"), 150, 3, direct_slerp),
                                          rel=1e-9)
    assert result["protocol"]["interpolation"] == "slerp"
    assert result["protocol"]["epsilon"] == PPL_EPSILON
    assert max(gen.batches) <= 32  # two images per sample, batch_size images per call


def test_uniform_z_matches_direct_lerp_computation():
    result = perceptual_path_length(TinyGenerator("uniform"), tiny_features, 120, seed=1, progress=False)
    lerp = lambda a, b, t: (1 - t) * a + t * b
    assert result["ppl"] == pytest.approx(direct_ppl(TinyGenerator("uniform"), 120, 1, lerp), rel=1e-9)
    assert result["protocol"]["interpolation"] == "lerp"


def test_linear_generator_has_the_analytic_path_length():
    """G(z) = 0.5 + 0.01·zW and φ(x) = 255-scaled pixels times P are linear, so along a lerp
    path d(G(z(t)), G(z(t+ε)))/ε² = ‖0.01·255·(z1 − z0)WP‖² for every t (up to float32 z)."""
    gen = TinyGenerator("uniform", linear=True)
    n = 64
    result = perceptual_path_length(gen, tiny_features, n, seed=0, percentiles=None, progress=False)
    z = gen.sample_latents(2 * n, 0).astype(np.float64)
    exact = (((z[n:] - z[:n]) @ gen._w * 0.01 * 255 @ PROJECTION) ** 2).sum(axis=1)
    assert result["ppl"] == pytest.approx(exact.mean(), rel=5e-3)  # float32 latents: ~1e-3


def test_end_sampling_takes_the_first_step():
    gen = TinyGenerator("uniform", linear=True)
    full = perceptual_path_length(gen, tiny_features, 40, seed=2, percentiles=None, progress=False)
    end = perceptual_path_length(gen, tiny_features, 40, seed=2, sampling="end", percentiles=None,
                                 progress=False)
    assert end["ppl"] == pytest.approx(full["ppl"], rel=5e-3)  # linear: t does not matter
    assert end["protocol"]["sampling"] == "end"


def test_outlier_filter_keeps_the_1st_to_99th_percentile():
    lengths = np.concatenate([np.arange(1.0, 199.0), [1e9, -5.0]])  # 200 values, two outliers
    mean, std, kept = summarize_path_lengths(lengths)
    lo, hi = np.percentile(lengths, 1, method="lower"), np.percentile(lengths, 99, method="higher")
    expected = lengths[(lengths >= lo) & (lengths <= hi)]
    assert kept == len(expected) < 200 and mean == pytest.approx(expected.mean())
    assert 1e9 not in expected and std == pytest.approx(expected.std(ddof=1))
    assert summarize_path_lengths([1.0, 3.0], percentiles=None)[:2] == (2.0, pytest.approx(math.sqrt(2)))


def test_protocol_states_network_epsilon_and_count():
    result = perceptual_path_length(TinyGenerator(), tiny_features, 10, epsilon=1e-3, progress=False,
                                    feature_network={"extractor_id": "tiny"})
    protocol = result["protocol"]
    assert protocol["feature_network"] == {"extractor_id": "tiny"}
    assert protocol["epsilon"] == 1e-3 and protocol["num_samples"] == 10
    assert "LPIPS" in protocol["paper"] and "not comparable" in protocol["paper"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=1), "num_samples"),
    (dict(num_samples=10, sampling="middle"), "sampling"),
    (dict(num_samples=10, epsilon=0), "epsilon"),
])
def test_bad_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(MetricInputError, match=message):
        perceptual_path_length(TinyGenerator(), tiny_features, progress=False, **kwargs)


def test_nan_images_are_reported():
    gen = TinyGenerator()
    gen.__class__ = type("NaNGenerator", (TinyGenerator,), {"__call__": lambda self, z: np.full((len(z), 4, 4, 1), np.nan)})
    with pytest.raises(MetricInputError, match="NaN"):
        perceptual_path_length(gen, tiny_features, 10, progress=False)
