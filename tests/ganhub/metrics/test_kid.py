import numpy as np
import pytest

from ganhub.metrics import MetricInputError, kernel_inception_distance


def direct_mmd2(x, y):
    """Unbiased MMD² written out pair by pair, k(a, b) = (a·b/d + 1)³."""
    d = x.shape[1]
    k = lambda a, b: (np.dot(a, b) / d + 1.0) ** 3
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_matches_direct_per_block_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 5))
    y = rng.normal(loc=0.3, size=(21, 5))
    # 3 nearly equal blocks, smaller ones first: x → 7, 8, 8; y → 7, 7, 7
    blocks = [direct_mmd2(x[a:b], y[c:e]) for (a, b), (c, e) in
              zip([(0, 7), (7, 15), (15, 23)], [(0, 7), (7, 14), (14, 21)])]
    mean, std = kernel_inception_distance(x, y, num_blocks=3)
    assert mean == pytest.approx(np.mean(blocks), rel=1e-10)
    assert std == pytest.approx(np.std(blocks, ddof=1), rel=1e-10)


def test_single_block_default_for_small_sets():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    mean, std = kernel_inception_distance(x, y)
    assert mean == pytest.approx(direct_mmd2(x, y), rel=1e-10)
    assert np.isnan(std)


def test_default_block_count_is_ceil_n_over_1024():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(1100, 3)), rng.normal(size=(1100, 3))
    assert kernel_inception_distance(x, y) == kernel_inception_distance(x, y, num_blocks=2)
    assert kernel_inception_distance(x, y) != kernel_inception_distance(x, y, num_blocks=3)


def test_near_zero_for_same_distribution_and_positive_for_shift():
    rng = np.random.default_rng(3)
    same, _ = kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)))
    shifted, _ = kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(1.0, size=(400, 8)))
    assert abs(same) < 0.05 * shifted


def test_bad_inputs_raise():
    with pytest.raises(MetricInputError):
        kernel_inception_distance(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(MetricInputError):
        kernel_inception_distance(np.zeros((10, 3)), np.zeros((10, 3)), num_blocks=6)
