import numpy as np
import pytest

from ganhub.metrics import MetricInputError, inception_score


def test_confident_and_uniform_over_classes_scores_num_classes():
    # Each image sure of its class, classes used equally: KL = log K for every image → IS = K.
    logits = np.full((8, 4), -1e3)
    logits[np.arange(8), np.arange(8) % 4] = 0.0
    assert inception_score(logits) == pytest.approx((4.0, 0.0), rel=1e-12)


def test_one_class_scores_one():
    logits = np.tile([5.0, 0.0, -3.0], (6, 1))
    assert inception_score(logits)[0] == pytest.approx(1.0, abs=1e-12)


def test_hand_computed_value():
    # Two images, two classes: p1 = (0.8, 0.2), p2 = (0.2, 0.8), marginal (0.5, 0.5)
    p = np.array([[0.8, 0.2], [0.2, 0.8]])
    kl = (p * np.log(p / 0.5)).sum(axis=1).mean()
    assert inception_score(np.log(p))[0] == pytest.approx(np.exp(kl), rel=1e-12)


def test_splits_mean_and_std():
    logits = np.full((8, 4), -1e3)
    logits[np.arange(8), [0, 1, 0, 1, 0, 0, 0, 0]] = 0.0
    mean, std = inception_score(logits, splits=2)
    # split 1 uses classes 0,1 equally → 2; split 2 only class 0 → 1
    assert (mean, std) == pytest.approx((1.5, 0.5), rel=1e-12)


def test_bad_splits_raise():
    with pytest.raises(MetricInputError):
        inception_score(np.zeros((3, 4)), splits=4)
