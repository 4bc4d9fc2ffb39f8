"""evaluate()'s glue for precision/recall/density/coverage and PPL: reference samples, protocols."""
import numpy as np
import pytest

from ganhub.metrics import FeatureStats, ReferenceFileError, ReferenceStats
from ganhub.metrics import beyond_fid
from ganhub.metrics.ppl import PPL_SAMPLES_CPU, perceptual_path_length
from ganhub.metrics.prdc import precision_recall_density_coverage


def reference_of(features, **provenance):
    return ReferenceStats.from_stats(FeatureStats.from_features(features, keep=len(features)),
                                     **provenance)


def test_prdc_scores_use_the_reference_sample_and_say_so():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 3)), rng.normal(size=(30, 3)) + 0.5
    scores, protocol = beyond_fid.prdc_scores(fake, reference_of(real), ("fid", "precision", "coverage"))
    assert scores == precision_recall_density_coverage(real, fake, ("precision", "coverage"))
    assert protocol["reference_samples"] == 40 and protocol["generated_samples"] == 30
    assert protocol["k_precision_recall"] == 3 and protocol["k_density_coverage"] == 5


def test_reference_without_a_feature_sample_says_how_to_remake_it():
    rng = np.random.default_rng(1)
    stats = FeatureStats.from_features(rng.normal(size=(40, 3)), keep=0)  # an old-style file
    ref = ReferenceStats.from_stats(stats, dataset="fashion_mnist_32", split="test")
    with pytest.raises(ReferenceFileError,
                       match=r"keeps 0; remake it with `ganhub stats fashion_mnist_32 --split test"):
        beyond_fid.prdc_scores(rng.normal(size=(30, 3)), ref, ("recall",))


class LinearGenerator:
    z_dim = 4
    z_distribution = {"name": "normal"}

    def sample_latents(self, n, seed=None):
        return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)

    def __call__(self, z):
        return (0.5 + 0.01 * np.asarray(z, np.float64) @ np.ones((4, 12))).reshape(-1, 2, 2, 3)


class FakeExtractor:
    """Extractor's interface: __call__(images, resize, batch_size) and protocol(resize)."""

    def __init__(self):
        self.calls = []

    def __call__(self, images, resize="legacy", batch_size=50):
        self.calls.append((len(images), resize, batch_size))
        return np.asarray(images, np.float64).reshape(len(images), -1)[:, :5]

    def protocol(self, resize):
        return {"extractor_id": "fake", "extractor_sha256": "0" * 64, "resize": resize}


def test_ppl_scores_default_count_on_cpu_is_small_and_stated(monkeypatch):
    monkeypatch.setattr(beyond_fid, "has_gpu", lambda: False)
    extractor = FakeExtractor()
    result, protocol = beyond_fid.ppl_scores(LinearGenerator(), extractor, "clean", batch_size=25,
                                             progress=False)
    assert protocol["num_samples"] == PPL_SAMPLES_CPU
    assert "on a CPU" in protocol["sample_count_note"] and "100,000" in protocol["sample_count_note"]
    assert protocol["feature_network"]["extractor_id"] == "fake"
    assert protocol["feature_network"]["resize"] == "clean" and protocol["epsilon"] == 1e-4
    assert all(call[1:] == ("clean", 25) for call in extractor.calls)
    direct = perceptual_path_length(LinearGenerator(), lambda x: extractor(x), PPL_SAMPLES_CPU,
                                    progress=False)
    assert result["ppl"] == pytest.approx(direct["ppl"], rel=1e-12)


def test_ppl_scores_with_an_explicit_count_has_no_note(monkeypatch):
    monkeypatch.setattr(beyond_fid, "has_gpu", lambda: False)
    result, protocol = beyond_fid.ppl_scores(LinearGenerator(), FakeExtractor(), "legacy",
                                             num_samples=20, progress=False)
    assert protocol["num_samples"] == 20 and "sample_count_note" not in protocol
    assert result["ppl"] > 0 and set(result) == {"ppl", "ppl_std"}
