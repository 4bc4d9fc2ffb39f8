"""Input validation shared by the metric functions, and the metric-specific error types.

The error types derive from ganhub.errors.GanhubError so the CLI prints them on one line.
"""
import warnings

import numpy as np

from ganhub.errors import MetricInputError, MetricUnavailableError, NonFiniteInputError  # noqa: F401  (re-exported)


class SmallSampleWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance is singular and FID is biased."""


_FINITE_CHUNK = 1024   # rows checked for NaN/inf at a time: no full-size boolean temporary


def as_float_matrix(x, name, min_rows=1, keep=(np.float64,)):
    """``x`` as a checked 2-D array [num_samples, dim]: not copied when its dtype is in ``keep``,
    else converted to float64; refuses another rank, too few rows, NaN and inf."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise MetricInputError(f"{name} must be a 2-D array [num_samples, dim], got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise MetricInputError(f"{name} has {x.shape[0]} rows; at least {min_rows} are needed")
    if x.dtype not in keep:
        x = x.astype(np.float64)
    if not all(np.isfinite(x[i:i + _FINITE_CHUNK]).all() for i in range(0, len(x), _FINITE_CHUNK)):
        raise NonFiniteInputError(f"{name} contains NaN or inf; check the generator's outputs")
    return x


def as_float64_matrix(x, name, min_rows=1):
    return as_float_matrix(x, name, min_rows)


def warn_if_undersampled(num_samples, dim, what="features"):
    if num_samples <= dim:
        warnings.warn(
            f"{num_samples} {what} of dimension {dim}: the covariance is singular and the "
            f"Fréchet distance is strongly biased; use more samples than dimensions "
            f"(the study used 10,000)", SmallSampleWarning, stacklevel=3)


def as_images(images, name="images"):
    """NHWC uint8 or float array with values in [0, 255] and 1 or 3 channels."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise MetricInputError(
            f"{name} must be NHWC with 1 or 3 channels, got shape {images.shape}")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise MetricInputError(f"{name} must be uint8 or float in [0, 255], got {images.dtype}")
        if images.size and not np.all(np.isfinite(images)):
            raise NonFiniteInputError(f"{name} contains NaN or inf")
        if images.size and (images.min() < 0 or images.max() > 255):
            raise MetricInputError(
                f"{name} has values in [{images.min():.3g}, {images.max():.3g}]; expected [0, 255] "
                f"(multiply images in [0, 1] by 255)")
    return images
