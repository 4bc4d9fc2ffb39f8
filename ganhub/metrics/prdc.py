"""Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al.
2020): k-nearest-neighbour manifolds in feature space, exact, in blocks, in float64.

Notation: real features R = {r_1..r_N}, generated features G = {g_1..g_M}, ‖·‖ the Euclidean norm,
NND_k(x) the distance from x to its k-th nearest neighbour in its own set, x itself excluded (a
duplicate of x is a neighbour at distance 0). B(x, ρ) is the closed ball {y: ‖y − x‖ ≤ ρ}.

    precision = 1/M · Σ_j 1[∃i: g_j ∈ B(r_i, NND_3(r_i))]     share of G inside the real manifold
    recall    = 1/N · Σ_i 1[∃j: r_i ∈ B(g_j, NND_3(g_j))]     share of R inside the generated one
    density   = 1/(kM) · Σ_j Σ_i 1[g_j ∈ B(r_i, NND_k(r_i))], k = 5  (can exceed 1)
    coverage  = 1/N · Σ_i 1[∃j: g_j ∈ B(r_i, NND_k(r_i))], k = 5

k = 3 for precision/recall and k = 5 for density/coverage are the papers' recommendations (also
PyTorch-StudioGAN's defaults). The balls are closed (≤), as in Kynkäänniemi et al.'s definition and
code; Naeem et al.'s `prdc` package compares with a strict <, which differs only for points lying
exactly on a sphere, and there makes identical sets containing duplicates score below 1.

How it is computed. All comparisons are between squared distances (the square root is monotone).
Squared distances come in blocks of rows from the Gram expansion ‖x‖² + ‖y‖² − 2x·y in float64,
the features being converted to float64 a block at a time (float32 features, as networks give them,
are not copied whole), so memory beyond the features is O(block·max(N, M) + block·d) instead of the
O(N·M) of a full distance matrix. The Gram
expansion loses accuracy when ‖x − y‖² ≪ ‖x‖² (cancellation; it is why the float32 version of this
formula is not good enough for near neighbours). Its absolute error is below
τ = (d + 8)·ε·(‖x‖ + ‖y‖)², a standard bound on floating-point dot products; every comparison or
order statistic whose outcome a τ-sized error could change is redone with the direct formula
Σ(x − y)² on just those pairs. So the results equal those of an exact computation of all distances
(e.g. scipy's cdist) up to the rounding of the direct formula itself: exact for integer-valued
features, duplicates and exact ties included.
"""
import numpy as np

from ganhub.errors import MetricInputError
from ganhub.metrics._checks import as_float_matrix

PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5
METRICS = ("precision", "recall", "density", "coverage")
# A block of squared distances [rows, columns] in float64, and its masks, stays near this size.
BLOCK_BYTES = 32 * 2**20
_PAIR_CHUNK = 1024          # pairs recomputed directly at a time ([chunk, d] float64 temporaries)
_ROW_CHUNK = 1024           # rows converted to float64 at a time for the norms


def _block_rows(num_columns, block_bytes):
    return max(1, int(block_bytes) // (8 * max(1, num_columns)))


def _as_features(x, name, min_rows=1):
    """A 2-D float32 or float64 array, checked, not copied (other dtypes become float64)."""
    return as_float_matrix(x, name, min_rows, keep=(np.float32, np.float64))


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _squared_norms(x):
    out = np.empty(len(x))
    for i in range(0, len(x), _ROW_CHUNK):
        chunk = _f64(x[i:i + _ROW_CHUNK])
        out[i:i + _ROW_CHUNK] = np.einsum("ij,ij->i", chunk, chunk)
    return out


def _gram_sq_distances(x, x_sq, y, y_sq, block_bytes=BLOCK_BYTES):
    """‖x_i − y_j‖² for all pairs by the Gram expansion, clipped at 0 → float64 [len(x), len(y)].

    x is a block of rows in float64; y is converted to float64 a block of rows at a time."""
    g = np.empty((len(x), len(y)))
    step = _block_rows(y.shape[1], block_bytes)
    for start in range(0, len(y), step):
        g[:, start:start + step] = x @ _f64(y[start:start + step]).T
    g *= -2.0
    g += x_sq[:, None]
    g += y_sq[None, :]
    np.maximum(g, 0.0, out=g)
    return g


def _gram_tolerance(x_sq, y_sq, dim):
    """One bound τ for the absolute error of every Gram-expansion entry of this block."""
    largest = np.sqrt(x_sq.max(initial=0.0)) + np.sqrt(y_sq.max(initial=0.0))
    return (dim + 8) * np.finfo(np.float64).eps * largest ** 2


def _pair_sq_distances(x, y, rows, cols):
    """Σ_k (x[rows] − y[cols])² for a list of pairs, the direct (cancellation-free) formula."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), _PAIR_CHUNK):
        diff = _f64(x[rows[start:start + _PAIR_CHUNK]]) - _f64(y[cols[start:start + _PAIR_CHUNK]])
        out[start:start + _PAIR_CHUNK] = np.einsum("ij,ij->i", diff, diff)
    return out


def _leq(g, threshold, tol, x, y):
    """Exact mask g_true ≤ threshold for a block g of Gram distances between x and y; entries within
    tol of the threshold are recomputed directly."""
    mask = g <= threshold
    gap = np.subtract(g, threshold)
    np.abs(gap, out=gap)
    rows, cols = np.nonzero(gap <= tol)
    del gap
    if len(rows):
        thresholds = np.broadcast_to(threshold, g.shape)[rows, cols]
        mask[rows, cols] = _pair_sq_distances(x, y, rows, cols) <= thresholds
    return mask


def _kth_smallest_exact(g, rank, tol, x, y):
    """Per row of g, the rank-th smallest (1-based) exact squared distance.

    T = the rank-th smallest of the row's Gram values is within τ of the exact one E, so entries with
    g < T − 2τ are certainly below E, entries with g > T + 2τ certainly above, and E is found among
    the band |g − T| ≤ 2τ, recomputed directly, at rank (rank − number below the band).
    """
    t = np.partition(g, rank - 1, axis=1)[:, rank - 1:rank].copy()  # copy: free the partition
    below = np.count_nonzero(g < t - 2 * tol, axis=1)
    gap = np.subtract(g, t)
    np.abs(gap, out=gap)
    rows, cols = np.nonzero(gap <= 2 * tol)
    del gap
    exact = _pair_sq_distances(x, y, rows, cols)
    order = np.lexsort((exact, rows))
    rows, exact = rows[order], exact[order]
    starts = np.searchsorted(rows, np.arange(len(g)))
    return exact[starts + (rank - below) - 1]


def nearest_neighbour_sq_radii(features, ks, block_bytes=BLOCK_BYTES):
    """NND_k(x)² for every x in ``features`` and each k in ``ks`` → {k: float64 [n]}.

    The point itself is excluded (its own entry is set to −∞, so it is always the first of its row);
    duplicates count as neighbours at distance 0.
    """
    x = _as_features(features, "features")
    ks = sorted({int(k) for k in ks})
    n = len(x)
    if ks[0] < 1 or n < ks[-1] + 1:
        raise MetricInputError(f"the {ks[-1]}-th nearest neighbour needs at least {ks[-1] + 1} "
                               f"feature vectors, got {n}")
    x_sq = _squared_norms(x)
    radii = {k: np.empty(n) for k in ks}
    step = _block_rows(n, block_bytes)
    for start in range(0, n, step):
        stop = min(n, start + step)
        g = _gram_sq_distances(_f64(x[start:stop]), x_sq[start:stop], x, x_sq, block_bytes)
        g[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        tol = _gram_tolerance(x_sq[start:stop], x_sq, x.shape[1])
        for k in ks:  # rank k + 1 counts the point itself
            radii[k][start:stop] = _kth_smallest_exact(g, k + 1, tol, x[start:stop], x)
    return radii


def precision_recall_density_coverage(real_features, fake_features, metrics=METRICS,
                                      k_pr=PRECISION_RECALL_K, k_dc=DENSITY_COVERAGE_K,
                                      block_bytes=BLOCK_BYTES, real_sq_radii=None):
    """{metric: value} for the requested subset of precision, recall, density, coverage.

    real_features [N, d], fake_features [M, d]: the same extractor's features (e.g. Inception
    pool_3 of the reference set and of generated images). real_sq_radii optionally passes
    nearest_neighbour_sq_radii(real_features, ...) computed before (it depends on the reference
    only), saving one N×N pass.
    """
    metrics = tuple(metrics)
    unknown = set(metrics) - set(METRICS)
    if unknown or not metrics:
        raise MetricInputError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(METRICS)}")
    real = _as_features(real_features, "real_features")
    fake = _as_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise MetricInputError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}; "
                               f"use the same extractor for both sets")
    want_dc = {"density", "coverage"} & set(metrics)
    real_ks = ([k_pr] if "precision" in metrics else []) + ([k_dc] if want_dc else [])
    if real_ks:
        if real_sq_radii is None or not set(real_ks) <= set(real_sq_radii):
            real_sq_radii = nearest_neighbour_sq_radii(real, real_ks, block_bytes)
    fake_sq_radii = (nearest_neighbour_sq_radii(fake, [k_pr], block_bytes)[k_pr]
                     if "recall" in metrics else None)

    n, m = len(real), len(fake)
    real_sq = _squared_norms(real)
    fake_sq = _squared_norms(fake)
    in_real_manifold = 0        # Σ_j 1[g_j inside some B(r_i, NND_kpr(r_i))]
    neighbour_count = 0         # Σ_j Σ_i 1[g_j ∈ B(r_i, NND_kdc(r_i))]
    covered = np.zeros(n, bool)     # r_i has some g_j in B(r_i, NND_kdc(r_i))
    recalled = np.zeros(n, bool)    # r_i inside some B(g_j, NND_kpr(g_j))
    step = _block_rows(n, block_bytes)
    for start in range(0, m, step):
        stop = min(m, start + step)
        block, block_sq = _f64(fake[start:stop]), fake_sq[start:stop]
        g = _gram_sq_distances(block, block_sq, real, real_sq, block_bytes)
        tol = _gram_tolerance(block_sq, real_sq, real.shape[1])
        if "precision" in metrics:
            in_real_manifold += int(_leq(g, real_sq_radii[k_pr][None, :], tol, block, real)
                                    .any(axis=1).sum())
        if want_dc:
            inside = _leq(g, real_sq_radii[k_dc][None, :], tol, block, real)
            neighbour_count += int(inside.sum())
            covered |= inside.any(axis=0)
        if "recall" in metrics:
            recalled |= _leq(g, fake_sq_radii[start:stop, None], tol, block, real).any(axis=0)
    result = {}
    if "precision" in metrics:
        result["precision"] = in_real_manifold / m
    if "recall" in metrics:
        result["recall"] = float(recalled.mean())
    if "density" in metrics:
        result["density"] = neighbour_count / (k_dc * m)
    if "coverage" in metrics:
        result["coverage"] = float(covered.mean())
    return {key: float(result[key]) for key in METRICS if key in result}


def precision_recall(real_features, fake_features, k=PRECISION_RECALL_K, block_bytes=BLOCK_BYTES):
    """(precision, recall) of Kynkäänniemi et al. 2019 with k nearest neighbours."""
    r = precision_recall_density_coverage(real_features, fake_features, ("precision", "recall"),
                                          k_pr=k, block_bytes=block_bytes)
    return r["precision"], r["recall"]


def density_coverage(real_features, fake_features, k=DENSITY_COVERAGE_K, block_bytes=BLOCK_BYTES):
    """(density, coverage) of Naeem et al. 2020 with k nearest neighbours."""
    r = precision_recall_density_coverage(real_features, fake_features, ("density", "coverage"),
                                          k_dc=k, block_bytes=block_bytes)
    return r["density"], r["coverage"]
