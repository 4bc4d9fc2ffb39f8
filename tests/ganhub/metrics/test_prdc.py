"""Precision, recall, density and coverage against a direct scipy computation (cdist, exact k-NN)."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ganhub.metrics import MetricInputError
from ganhub.metrics.prdc import (density_coverage, nearest_neighbour_sq_radii, precision_recall,
                                 precision_recall_density_coverage)


def direct_prdc(real, fake, k_pr=3, k_dc=5):
    """The papers' definitions on full cdist matrices; the k-th neighbour excluding the point itself
    is column k of each sorted row (column 0 is the point, at distance 0)."""
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    real_pr = np.sort(rr, axis=1)[:, k_pr]
    real_dc = np.sort(rr, axis=1)[:, k_dc]
    fake_pr = np.sort(ff, axis=1)[:, k_pr]
    return {
        "precision": np.mean([(rf[:, j] <= real_pr).any() for j in range(len(fake))]),
        "recall": np.mean([(rf[i, :] <= fake_pr).any() for i in range(len(real))]),
        "density": np.mean([(rf[:, j] <= real_dc).sum() for j in range(len(fake))]) / k_dc,
        "coverage": np.mean([(rf[i, :] <= real_dc[i]).any() for i in range(len(real))]),
    }


def assert_matches(ours, expected):
    assert set(ours) == set(expected)
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_continuous_features_match_cdist(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(180, 16))
    fake = rng.normal(loc=0.3, scale=1.2, size=(150, 16))
    expected = direct_prdc(real, fake)
    assert 0 < expected["precision"] < 1 and 0 < expected["recall"] < 1  # not a trivial case
    # small blocks: many row blocks, the last one partial
    assert_matches(precision_recall_density_coverage(real, fake, block_bytes=8 * 180 * 7), expected)
    assert_matches(precision_recall_density_coverage(real, fake), expected)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_integer_features_with_ties_and_duplicates_match_cdist(seed):
    """Features on a small integer grid: many exact ties between distances and many duplicate
    points (distance 0, a k-th neighbour radius of 0), where < and <= disagree."""
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 3, size=(200, 3)).astype(np.float64)
    fake = rng.integers(0, 3, size=(170, 3)).astype(np.float64) + (seed % 2)
    radii = np.sort(cdist(real, real), axis=1)[:, 3]
    assert (radii == 0).any()  # duplicates make zero radii
    assert_matches(precision_recall_density_coverage(real, fake, block_bytes=8 * 200 * 11),
                   direct_prdc(real, fake))


def test_large_offset_with_cancellation_is_still_exact():
    """Features 10⁸ + small integers: ‖x‖² ≈ 6·10¹⁷ is far past float64's exact integers, so the Gram
    expansion ‖x‖² + ‖y‖² − 2x·y is off by more than the distances between some points; the
    direct recomputation near every decision must give cdist's answer anyway."""
    rng = np.random.default_rng(5)
    real = 1e8 + rng.integers(0, 3, size=(120, 64)).astype(np.float64)
    fake = 1e8 + rng.integers(0, 3, size=(100, 64)).astype(np.float64)
    gram = (real ** 2).sum(1)[:, None] + (fake ** 2).sum(1)[None, :] - 2 * real @ fake.T
    assert np.abs(gram - cdist(real, fake, "sqeuclidean")).max() > 10  # the naive route fails
    assert_matches(precision_recall_density_coverage(real, fake), direct_prdc(real, fake))


def test_float32_features_like_inception():
    rng = np.random.default_rng(7)
    real = rng.gamma(0.5, size=(160, 64)).astype(np.float32)  # non-negative, like pool_3
    fake = (real[:80] + rng.normal(scale=0.05, size=(80, 64))).astype(np.float32)
    assert_matches(precision_recall_density_coverage(real, fake),
                   direct_prdc(real.astype(np.float64), fake.astype(np.float64)))


def test_identical_sets_give_precision_and_recall_one():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 8))
    # x[:40] four times: three duplicates besides itself, so NND_3 = 0 for those points
    with_duplicates = np.concatenate([x, x[:40], x[:40], x[:40]])
    for features in (x, with_duplicates):
        r = precision_recall_density_coverage(features, features.copy())
        assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["coverage"] == 1.0
        assert r["density"] == pytest.approx(direct_prdc(features, features)["density"], rel=1e-12)


def test_disjoint_far_sets_give_zero():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(60, 8))
    fake = rng.normal(size=(50, 8)) + 100.0
    r = precision_recall_density_coverage(real, fake)
    assert r == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_mode_dropping_lowers_recall_and_coverage_but_not_precision():
    """Fakes drawn from one of two real clusters: every fake is realistic (precision 1) but half
    of the real data is missed (recall and coverage about ½)."""
    rng = np.random.default_rng(6)
    real = np.concatenate([rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + 50.0])
    fake = rng.normal(size=(100, 4))
    r = precision_recall_density_coverage(real, fake)
    assert r["precision"] > 0.95
    assert 0.4 < r["recall"] <= 0.5 and 0.4 < r["coverage"] <= 0.5


def test_radii_match_sorted_cdist_rows():
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.integers(0, 4, size=(50, 2)), rng.integers(0, 4, size=(50, 2))]).astype(float)
    radii = nearest_neighbour_sq_radii(x, [1, 3, 5], block_bytes=8 * 100 * 9)
    rows = np.sort(cdist(x, x, "sqeuclidean"), axis=1)
    for k in (1, 3, 5):
        np.testing.assert_array_equal(radii[k], rows[:, k])


def test_subsets_and_wrappers_agree_with_the_full_computation():
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(90, 6)), rng.normal(size=(80, 6)) * 1.3
    full = precision_recall_density_coverage(real, fake)
    assert precision_recall(real, fake) == (full["precision"], full["recall"])
    assert density_coverage(real, fake) == (full["density"], full["coverage"])
    assert precision_recall_density_coverage(real, fake, ["recall"]) == {"recall": full["recall"]}
    radii = nearest_neighbour_sq_radii(real, [3, 5])
    assert precision_recall_density_coverage(real, fake, real_sq_radii=radii) == full


def test_other_k_matches_cdist():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(70, 5)), rng.normal(size=(60, 5)) + 0.5
    ours = precision_recall_density_coverage(real, fake, k_pr=1, k_dc=10)
    assert_matches(ours, direct_prdc(real, fake, k_pr=1, k_dc=10))


@pytest.mark.parametrize("real, fake, message", [
    (np.zeros((10, 3)), np.zeros((10, 4)), "dimensions differ"),
    (np.zeros((5, 3)), np.zeros((10, 3)), "at least 6"),
    (np.zeros(10), np.zeros((10, 3)), "2-D"),
    (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
])
def test_bad_input_is_one_clear_error(real, fake, message):
    with pytest.raises(MetricInputError, match=message):
        precision_recall_density_coverage(real, fake)


def test_unknown_metric_is_refused():
    with pytest.raises(MetricInputError, match="unknown metrics"):
        precision_recall_density_coverage(np.zeros((10, 2)), np.zeros((10, 2)), ["fid"])


def test_benchmark_table_still_runs(capsys):
    """benchmarks/fid.py's precision/recall table against the current API, on tiny features."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "fid.py"
    spec = importlib.util.spec_from_file_location("bench_fid", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.print_prdc_table(60, dim=8)
    out = capsys.readouterr().out
    for label in ("FID", "precision + recall", "density + coverage", "all four"):
        assert label in out
    assert "| precision" in out or "precision 0." in out
