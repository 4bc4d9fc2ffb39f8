"""Evaluation metrics of The GAN Landscape: FID, KID, Inception Score, MS-SSIM diversity.

The math (frechet, kid, inception_score, ms_ssim, stats) is pure numpy in float64 and imports no
TensorFlow; extractors, resizing and evaluate() import it when called.
"""
from ganhub.metrics._checks import MetricInputError, MetricUnavailableError, SmallSampleWarning
from ganhub.metrics.frechet import frechet_distance
from ganhub.metrics.inception_score import inception_score
from ganhub.metrics.kid import kernel_inception_distance
from ganhub.metrics.ms_ssim import ms_ssim, ms_ssim_diversity
from ganhub.metrics.stats import FeatureStats, ReferenceFileError, ReferenceStats


def load_extractor(name_or_handle=None):
    """An Extractor by name (tfgan_inception, fid_inception_offline), SavedModel path or URL."""
    from ganhub.metrics.extractors import load_extractor as _load
    return _load(name_or_handle)


def evaluate(*args, **kwargs):
    """See ganhub.metrics.evaluation.evaluate."""
    from ganhub.metrics.evaluation import evaluate as _evaluate
    return _evaluate(*args, **kwargs)


__all__ = [
    "frechet_distance", "kernel_inception_distance", "inception_score", "ms_ssim",
    "ms_ssim_diversity", "load_extractor", "evaluate", "FeatureStats", "ReferenceStats",
    "MetricInputError", "MetricUnavailableError", "ReferenceFileError", "SmallSampleWarning",
]
