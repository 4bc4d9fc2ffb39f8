import numpy as np
import pytest
import scipy.linalg

from ganhub.metrics import MetricInputError, frechet_distance


def scipy_fid(mu1, s1, mu2, s2):
    """Independent route: Tr((√Σ1 Σ2 √Σ1)^½) with scipy's Schur-based sqrtm, float64."""
    r1 = scipy.linalg.sqrtm(s1)
    covmean = scipy.linalg.sqrtm(r1 @ s2 @ r1)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def moments(rng, n, d, shift=0.0):
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift
    return x.mean(axis=0), np.cov(x, rowvar=False)


@pytest.mark.parametrize("n,d", [(600, 64), (2000, 128)])
def test_matches_scipy_full_rank(n, d):
    rng = np.random.default_rng(n)
    mu1, s1 = moments(rng, n, d)
    mu2, s2 = moments(rng, n, d, shift=0.05)
    expected = scipy_fid(mu1, s1, mu2, s2)
    assert abs(frechet_distance(mu1, s1, mu2, s2) - expected) / expected < 1e-6


@pytest.mark.parametrize("n,d", [(40, 64), (20, 96), (30, 200)])
def test_matches_scipy_rank_deficient(n, d):
    # Fewer samples than dimensions: both covariances are singular (rank n-1).
    rng = np.random.default_rng(d)
    mu1, s1 = moments(rng, n, d)
    mu2, s2 = moments(rng, n, d, shift=0.05)
    assert np.linalg.matrix_rank(s1) < d
    for s in (s1, s2):  # so this exercises the eigh fallback, not the Cholesky route
        with pytest.raises(np.linalg.LinAlgError):
            np.linalg.cholesky(s)
    value = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(value, float) and np.isfinite(value)
    expected = scipy_fid(mu1, s1, mu2, s2)
    assert abs(value - expected) / expected < 1e-6


def test_covariance_term_alone_matches_scipy():
    # Equal means: the whole value is the trace term, so an error there cannot hide behind ||Δμ||².
    rng = np.random.default_rng(7)
    mu, s1 = moments(rng, 300, 50)
    _, s2 = moments(rng, 300, 50)
    expected = scipy_fid(mu, s1, mu, s2)
    assert abs(frechet_distance(mu, s1, mu, s2) - expected) / expected < 1e-6


def test_identical_sets_give_zero():
    rng = np.random.default_rng(3)
    mu, s = moments(rng, 500, 64)
    scale = np.trace(s)
    assert 0.0 <= frechet_distance(mu, s, mu, s) < 1e-9 * scale
    mu, s = moments(rng, 30, 64)  # singular too
    assert 0.0 <= frechet_distance(mu, s, mu, s) < 1e-9 * np.trace(s)


def test_mean_shift_only():
    d = 10
    eye = np.eye(d)
    assert frechet_distance(np.zeros(d), eye, np.full(d, 2.0), eye) == pytest.approx(4.0 * d, rel=1e-12)


@pytest.mark.parametrize("bad", ["shape", "nan", "asym"])
def test_bad_inputs_raise(bad):
    mu, s = np.zeros(4), np.eye(4)
    if bad == "shape":
        args = (mu, s, np.zeros(5), np.eye(5))
    elif bad == "nan":
        args = (mu, s, np.array([0, np.nan, 0, 0.0]), s)
    else:
        a = np.eye(4)
        a[0, 1] = 1.0
        args = (mu, s, mu, a)
    with pytest.raises(MetricInputError):
        frechet_distance(*args)
