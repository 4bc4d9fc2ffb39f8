"""Kernel Inception Distance: unbiased MMD² with the cubic polynomial kernel, in blocks (spec §7.2)."""
import math

import numpy as np

from ganhub.metrics._checks import MetricInputError, as_float64_matrix

MAX_BLOCK_SIZE = 1024


def polynomial_kernel(x, y):
    """k(x, y) = (xᵀy / d + 1)³."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _block_bounds(n, num_blocks):
    # Nearly equal blocks, the smaller ones first (as compare_gan / TF-GAN split them).
    base, extra = divmod(n, num_blocks)
    sizes = [base] * (num_blocks - extra) + [base + 1] * extra
    return np.concatenate([[0], np.cumsum(sizes)])


def mmd2_unbiased(x, y):
    """Unbiased MMD² of one block: off-diagonal means of k(x,x) and k(y,y), full mean of k(x,y).

    Each set's own size is used in its denominator (compare_gan used the first set's size for both,
    which differs only when the blocks have unequal sizes).
    """
    m, n = x.shape[0], y.shape[0]
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
            + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
            - 2.0 * k_xy.mean())


def kernel_inception_distance(feats1, feats2, num_blocks=None):
    """KID of two feature sets → (mean over blocks, standard deviation over blocks).

    num_blocks=None uses ceil(max(n1, n2) / 1024) blocks, as the study's code (10 blocks of 1,000
    for 10k samples). The std is the sample standard deviation of the per-block estimates (ddof=1;
    NaN with a single block); divide by sqrt(num_blocks) for the standard error of the mean.
    """
    x = as_float64_matrix(feats1, "feats1", min_rows=2)
    y = as_float64_matrix(feats2, "feats2", min_rows=2)
    if x.shape[1] != y.shape[1]:
        raise MetricInputError(
            f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}; use the same extractor for both sets")
    if num_blocks is None:
        num_blocks = math.ceil(max(len(x), len(y)) / MAX_BLOCK_SIZE)
    num_blocks = int(num_blocks)
    if num_blocks < 1 or min(len(x), len(y)) < 2 * num_blocks:
        raise MetricInputError(
            f"cannot split {len(x)} and {len(y)} samples into {num_blocks} blocks of at least 2; "
            f"use fewer blocks or more samples")
    bx, by = _block_bounds(len(x), num_blocks), _block_bounds(len(y), num_blocks)
    estimates = np.array([mmd2_unbiased(x[bx[i]:bx[i + 1]], y[by[i]:by[i + 1]])
                          for i in range(num_blocks)])
    std = float(estimates.std(ddof=1)) if num_blocks > 1 else float("nan")
    return float(estimates.mean()), std
