import json

import numpy as np
import pytest

from ganhub.errors import ProtocolMismatchError
from ganhub.metrics import FeatureStats, MetricInputError, ReferenceFileError, ReferenceStats


def test_streaming_equals_batch_moments():
    rng = np.random.default_rng(0)
    # A large common offset makes the naive Σxxᵀ - nμμᵀ formula lose digits; Chan's merge must not.
    x = rng.normal(size=(1000, 7)) * 0.01 + 1e4
    stats = FeatureStats(7, keep=0)
    for start, stop in [(0, 1), (1, 130), (130, 131), (131, 600), (600, 1000)]:
        stats.update(x[start:stop])
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-8)
    assert stats.features.shape == (0, 7)


def test_keeps_only_the_first_features():
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    stats = FeatureStats(2, keep=7)
    for start in range(0, 20, 3):
        stats.update(x[start:start + 3])
    np.testing.assert_array_equal(stats.features, x[:7].astype(np.float32))


def test_update_rejects_wrong_dimension_and_nan():
    stats = FeatureStats(3)
    with pytest.raises(MetricInputError):
        stats.update(np.zeros((2, 4)))
    with pytest.raises(MetricInputError):
        stats.update(np.array([[0.0, np.nan, 1.0]]))


def make_reference(**overrides):
    rng = np.random.default_rng(1)
    stats = FeatureStats.from_features(rng.normal(size=(50, 4)), keep=10)
    provenance = dict(dataset="toy", split="test", extractor_id="tiny", extractor_sha256="ab" * 32,
                      resize="legacy")
    provenance.update(overrides)
    return ReferenceStats.from_stats(stats, **provenance)


def test_save_load_round_trip_is_atomic(tmp_path):
    ref = make_reference()
    path = ref.save(tmp_path / "sub" / "ref.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["ref.npz"]  # no temp file left
    loaded = ReferenceStats.load(path)
    np.testing.assert_array_equal(loaded.mu, ref.mu)
    np.testing.assert_array_equal(loaded.sigma, ref.sigma)
    np.testing.assert_array_equal(loaded.features, ref.features)
    assert loaded.provenance == json.loads(json.dumps(ref.provenance))
    assert loaded.num_samples == 50 and loaded.provenance["feature_dim"] == 4


def test_interrupted_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = make_reference().save(tmp_path / "ref.npz")
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_reference(dataset="other").save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ref.npz"]


@pytest.mark.parametrize("field,value", [("extractor_id", "other"), ("extractor_sha256", "cd" * 32),
                                         ("resize", "clean")])
def test_protocol_mismatch_raises(field, value):
    ref = make_reference()
    wanted = {"extractor_id": "tiny", "extractor_sha256": "ab" * 32, "resize": "legacy"}
    ref.check_protocol(**wanted)
    wanted[field] = value
    with pytest.raises(ProtocolMismatchError, match=field):
        ref.check_protocol(**wanted)


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "images.npz", images=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ReferenceFileError):
        ReferenceStats.load(tmp_path / "images.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ReferenceFileError):
        ReferenceStats.load(tmp_path / "broken.npz")
