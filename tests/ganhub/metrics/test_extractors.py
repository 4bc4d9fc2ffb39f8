import numpy as np
import pytest
import tensorflow as tf

from ganhub.metrics import MetricUnavailableError, load_extractor
from ganhub.metrics.extractors import ExtractorError, directory_sha256
from ganhub.metrics.resize import preprocess


def test_saved_model_extractor_maps_uint8_images_to_float64_features(tiny_extractor_dir):
    extractor = load_extractor(str(tiny_extractor_dir))
    assert extractor.input_size == 16 and extractor.has_logits
    assert extractor.id == "savedmodel" and extractor.sha256 == directory_sha256(tiny_extractor_dir)
    images = np.random.default_rng(0).integers(0, 256, size=(7, 10, 10, 3), dtype=np.uint8)
    feats = extractor(images, resize="legacy", batch_size=3)
    assert feats.shape == (7, 6) and feats.dtype == np.float64
    # Same numbers as calling the SavedModel directly on the preprocessed batch.
    direct = tf.saved_model.load(str(tiny_extractor_dir)).signatures["serving_default"](
        tf.constant(preprocess(images, "legacy", 16)))["pool_3"].numpy()
    np.testing.assert_allclose(feats, direct, rtol=1e-6)
    np.testing.assert_allclose(extractor.network(preprocess(images, "legacy", 16)), direct, rtol=1e-6)
    feats2, logits = extractor.features_and_logits(images, "clean", want_logits=True)
    assert logits.shape == (7, 5) and not np.allclose(feats2, feats)


def test_features_only_extractor_refuses_inception_score(tiny_extractor_dir, tmp_path):
    class NoHead(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
        def serve(self, x):
            return {"features": tf.reduce_mean(x, axis=[1, 2])}

    module = NoHead()
    tf.saved_model.save(module, str(tmp_path / "nohead"), signatures={"serving_default": module.serve})
    extractor = load_extractor(str(tmp_path / "nohead"))
    assert extractor(np.zeros((2, 8, 8, 1), np.uint8)).shape == (2, 3)
    with pytest.raises(MetricUnavailableError, match="classifier head"):
        extractor.features_and_logits(np.zeros((2, 8, 8, 3), np.uint8), want_logits=True)


def test_unknown_handles_raise(tmp_path):
    with pytest.raises(ExtractorError, match="unknown extractor"):
        load_extractor("inception_v5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExtractorError, match="saved_model.pb"):
        load_extractor(str(tmp_path / "empty"))
