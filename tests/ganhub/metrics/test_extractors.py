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


def test_callable_saved_model_with_4d_outputs_like_tfgan(tmp_path):
    """TF-GAN's module is called as model(images) → {"pool_3": [N,1,1,d], "logits": [N,k]}."""
    class TfganLike(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 299, 299, 3], tf.float32)])
        def __call__(self, images):
            pooled = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
            return {"pool_3": tf.concat([pooled, -pooled], -1), "logits": tf.reduce_mean(images, [1, 2])}

    path = tmp_path / "tfgan_like"
    tf.saved_model.save(TfganLike(), str(path), signatures={})
    extractor = load_extractor(str(path))
    assert extractor.input_size == 299 and extractor.has_logits
    images = np.full((2, 4, 4, 3), 192, np.uint8)
    feats, logits = extractor.features_and_logits(images, "legacy", want_logits=True)
    np.testing.assert_allclose(feats, [[0.5, 0.5, 0.5, -0.5, -0.5, -0.5]] * 2, rtol=1e-6)
    assert logits.shape == (2, 3)


def test_extractor_by_url_through_tensorflow_hub(tiny_extractor_dir, tmp_path, monkeypatch):
    import functools
    import http.server
    import tarfile
    import threading

    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "tiny.tar.gz", "w:gz") as tar:
        for item in tiny_extractor_dir.iterdir():
            tar.add(item, arcname=item.name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tiny.tar.gz"
        extractor = load_extractor(url)
    finally:
        server.shutdown()
        server.server_close()
    assert extractor.id == url and extractor.sha256 == directory_sha256(tiny_extractor_dir)
    local = load_extractor(str(tiny_extractor_dir))
    images = np.random.default_rng(1).integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(extractor(images), local(images))
