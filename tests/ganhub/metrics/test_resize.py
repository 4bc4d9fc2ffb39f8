import numpy as np
import pytest

from ganhub.metrics import MetricInputError
from ganhub.metrics.resize import preprocess


def tf1_bilinear(image, size):
    """TF1 resize_bilinear with align_corners=False, half_pixel_centers=False, written out:
    source coordinate = dst · (in / out), no half-pixel offset, edge-clamped neighbours."""
    h, w = image.shape[:2]
    out = np.empty((size, size, image.shape[2]))
    for oy in range(size):
        sy = oy * h / size
        y0 = int(np.floor(sy)); y1 = min(y0 + 1, h - 1); fy = sy - y0
        for ox in range(size):
            sx = ox * w / size
            x0 = int(np.floor(sx)); x1 = min(x0 + 1, w - 1); fx = sx - x0
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            out[oy, ox] = top * (1 - fy) + bottom * fy
    return out


def test_legacy_is_tf1_bilinear_then_scaled():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 5, 7, 3), dtype=np.uint8)
    x = preprocess(images, "legacy", size=11)
    assert x.shape == (2, 11, 11, 3) and x.dtype == np.float32
    for n in range(2):
        expected = (tf1_bilinear(images[n].astype(np.float64), 11) - 128) / 128
        np.testing.assert_allclose(x[n], expected, atol=1e-5)


def test_gray_is_tiled_and_range_is_minus_one_to_below_one():
    images = np.array([0, 255], np.uint8).reshape(1, 1, 2, 1).repeat(2, axis=1)
    for mode in ("legacy", "clean"):
        x = preprocess(images, mode, size=8)
        assert x.shape == (1, 8, 8, 3)
        np.testing.assert_array_equal(x[..., 0], x[..., 2])
        assert x.min() >= -1.0 and x.max() <= 127 / 128


def test_clean_differs_from_legacy_and_matches_pil_bicubic():
    from PIL import Image
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(1, 9, 9, 1), dtype=np.uint8)
    clean = preprocess(images, "clean", size=20)
    legacy = preprocess(images, "legacy", size=20)
    assert np.abs(clean - legacy).max() > 0.01
    pil = np.asarray(Image.fromarray(images[0, ..., 0].astype(np.float32)).resize((20, 20), Image.BICUBIC))
    np.testing.assert_allclose(clean[0, ..., 0], (np.clip(pil, 0, 255) - 128) / 128, atol=1e-6)


def test_no_resize_at_target_size_and_bad_inputs():
    images = np.full((1, 4, 4, 3), 128, np.uint8)
    np.testing.assert_array_equal(preprocess(images, "legacy", size=4), 0.0)
    with pytest.raises(MetricInputError):
        preprocess(images, "nearest", size=4)
    with pytest.raises(MetricInputError):
        preprocess(np.full((1, 4, 4, 3), 300.0), "legacy", size=4)
    with pytest.raises(MetricInputError):
        preprocess(np.zeros((1, 4, 4, 2), np.uint8), "legacy", size=4)


def test_legacy_is_bitwise_tf_compat_v1_resize_bilinear():
    import tensorflow as tf
    from ganhub.metrics.resize import resize_legacy
    x = np.random.default_rng(2).uniform(0, 255, size=(2, 28, 28, 3)).astype(np.float32)
    expected = tf.compat.v1.image.resize_bilinear(x, [299, 299], align_corners=False,
                                                  half_pixel_centers=False).numpy()
    np.testing.assert_array_equal(resize_legacy(x, 299), expected)
    # TF2's default (half-pixel centres) differs: the reason the mode is pinned.
    assert not np.allclose(tf.image.resize(x, [299, 299]).numpy(), expected, atol=1e-3)
