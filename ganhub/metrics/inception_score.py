"""Inception Score from classifier logits, in float64."""
import numpy as np

from ganhub.metrics._checks import MetricInputError, as_float64_matrix


def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits, splits=1):
    """exp(E_x KL(p(y|x) || p(y))) per split → (mean, std) over splits.

    The study computed it over all samples at once (splits=1, std 0.0); splits=10 is the
    convention of Salimans et al. Samples are split in order, into nearly equal parts.
    """
    logits = as_float64_matrix(logits, "logits", min_rows=1)
    splits = int(splits)
    if splits < 1 or splits > len(logits):
        raise MetricInputError(f"splits must be between 1 and the number of samples ({len(logits)}), got {splits}")
    scores = []
    for part in np.array_split(logits, splits):
        log_p = _log_softmax(part)
        p = np.exp(log_p)
        top = log_p.max(axis=0)
        log_marginal = top + np.log(np.exp(log_p - top).mean(axis=0))  # log p(y), no underflow
        kl = (p * (log_p - log_marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    scores = np.array(scores)
    return float(scores.mean()), float(scores.std())
