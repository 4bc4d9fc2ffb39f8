"""Fréchet distance between two Gaussians, in float64, without scipy."""
import numpy as np

from ganhub.metrics._checks import MetricInputError


def _symmetric_sqrt(sigma):
    """Square root of a symmetric positive semi-definite matrix; negative rounding noise clipped."""
    w, v = np.linalg.eigh(sigma)
    w = np.clip(w, 0.0, None)
    return (v * np.sqrt(w)) @ v.T


def _congruent_product(sigma1, sigma2):
    """A symmetric PSD matrix with the eigenvalues of Σ1Σ2.

    With a Cholesky factor Σ1 = LLᵀ, LᵀΣ2L is similar to Σ1Σ2 (Σ1Σ2 = L(LᵀΣ2L)L⁻¹) and costs a
    Cholesky and two products instead of an eigendecomposition. Cholesky fails on singular
    covariances (fewer samples than dimensions); then √Σ1 Σ2 √Σ1 from eigh serves instead.
    """
    for a, b in ((sigma1, sigma2), (sigma2, sigma1)):
        try:
            factor = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            continue
        return factor.T @ b @ factor
    root1 = _symmetric_sqrt(sigma1)
    return root1 @ sigma2 @ root1


def trace_sqrt_product(sigma1, sigma2):
    """Tr((Σ1 Σ2)^½), the sum of the square roots of the eigenvalues of Σ1Σ2.

    The eigenvalues are taken from a symmetric PSD matrix similar to Σ1Σ2, so eigvalsh applies and
    the result is real even for singular covariances. Eigenvalues below the eigensolver's
    resolution are rounding noise around zero; their square roots would add sqrt(eps)-sized
    garbage per dimension, so they count as zero.
    """
    m = _congruent_product(sigma1, sigma2)
    m = (m + m.T) / 2
    w = np.linalg.eigvalsh(m)
    tol = max(w.max(initial=0.0), 0.0) * m.shape[0] * np.finfo(np.float64).eps
    w = np.where(w > tol, w, 0.0)
    return float(np.sqrt(w).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||μ1-μ2||² + Tr(Σ1 + Σ2 - 2(Σ1Σ2)^½), the FID formula, computed in float64."""
    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise MetricInputError(
            f"expected mu1, mu2 of shape (d,) and sigma1, sigma2 of shape (d, d); got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    for name, a in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(a)):
            raise MetricInputError(f"{name} contains NaN or inf; recompute the statistics")
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.allclose(s, s.T, rtol=1e-6, atol=1e-12 * max(1.0, np.abs(s).max())):
            raise MetricInputError(f"{name} is not symmetric; pass a covariance matrix")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # The exact value is >= 0; rounding can leave a tiny negative number for identical inputs.
    return float(max(value, 0.0))
