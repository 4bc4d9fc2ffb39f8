"""Untrusted-op scan, and the TF1 Hub format fixture (the compare_gan module layout)."""
import numpy as np
import pytest

from ganhub.errors import UntrustedModuleError
from ganhub.hub import cache as hub_cache
from ganhub.hub import scan
from ganhub.hub.resolver import resolve


def test_clean_modules_have_no_untrusted_ops(modules):
    # TF2 SavedModels carry SaveV2/RestoreV2 in their saver functions: not flagged
    assert scan.find_untrusted_ops(modules["tiny_dir"]) == []
    assert scan.find_untrusted_ops(modules["tf1_dir"]) == []


def test_writefile_module_is_refused_naming_the_op(cache, modules):
    with pytest.raises(UntrustedModuleError, match="WriteFile") as info:
        resolve(modules["evil_dir"])
    assert "trust=True" in str(info.value)
    assert resolve(modules["evil_dir"], trust=True).path == modules["evil_dir"]


def test_downloaded_writefile_module_is_refused_and_the_verdict_remembered(
        cache, modules, fault_server, monkeypatch):
    base, state = fault_server
    state.files["/evil.tar.gz"] = modules["evil_tgz"].read_bytes()
    url = f"{base}/evil.tar.gz"
    with pytest.raises(UntrustedModuleError, match="WriteFile"):
        resolve(url)
    # cached, but still refused; the scan is not repeated
    assert hub_cache.lookup(modules["evil_sha"]) is not None
    monkeypatch.setattr(scan, "find_untrusted_ops", lambda path: pytest.fail("scanned twice"))
    with pytest.raises(UntrustedModuleError, match="WriteFile"):
        resolve(url)
    trusted = resolve(url, trust=True)
    assert trusted.source == "cache" and state.count("/evil.tar.gz") == 1


def test_scan_runs_nothing(cache, modules):
    """Scanning and refusing never run the graph; calling the module does (the control shows
    that the sentinel would appear if anything had run it)."""
    import tensorflow as tf
    sentinel = modules["evil_sentinel"]
    sentinel.unlink(missing_ok=True)
    scan.find_untrusted_ops(modules["evil_dir"])
    with pytest.raises(UntrustedModuleError):
        resolve(modules["evil_dir"])
    assert not sentinel.exists()
    loaded = tf.saved_model.load(str(modules["evil_dir"]))
    loaded.signatures["serving_default"](z=tf.zeros([1, 8]))
    assert sentinel.exists()
    sentinel.unlink()


def test_py_func_is_refused(cache, tmp_path):
    import tensorflow as tf

    class Hooked(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, z):
            return {"images": tf.numpy_function(lambda x: x, [z], tf.float32)}

    module = Hooked()
    tf.saved_model.save(module, str(tmp_path / "hooked"), signatures=module.__call__)
    with pytest.raises(UntrustedModuleError, match="PyFunc"):
        resolve(tmp_path / "hooked")


def test_tf1_hub_module_loads_through_resolve(cache, modules, fault_server):
    import tensorflow as tf
    import tensorflow_hub as hub

    base, state = fault_server
    state.files["/google/compare_gan/tiny_tf1/1"] = modules["tf1_tgz"].read_bytes()
    got = resolve(f"{base}/google/compare_gan/tiny_tf1/1")
    assert (got.path / "tfhub_module.pb").read_bytes() == b"\x08\x01"
    module = hub.load(str(got.path))
    generator = module.signatures["generator"]
    z = tf.random.uniform([64, 128], -1, 1, seed=0)
    images = generator(z=z)["default"].numpy()
    assert images.shape == (64, 8, 8, 3)
    assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
    # a fixed batch of 64: any other batch size is rejected by the module itself
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        generator(z=tf.zeros([10, 128]))


def test_tf1_hub_module_samples_10_images_through_ganhub_load(cache, modules, fault_server,
                                                              monkeypatch, tmp_path):
    """A catalog entry shaped like the compare_gan ones (TF1 Hub, fixed batch 64) end to end."""
    import json

    import ganhub
    from ganhub import catalog

    base, state = fault_server
    state.files["/google/compare_gan/tiny_tf1/1"] = modules["tf1_tgz"].read_bytes()
    entry = dict(catalog.get_entry("compare_gan/model_11_cifar10_resnet_cifar"))
    for key in ("catalog", "builtin"):
        entry.pop(key)
    entry.update(name="lab/tiny_tf1", handle=f"{base}/google/compare_gan/tiny_tf1/1",
                 sha256=modules["tf1_sha"], size=modules["tf1_tgz"].stat().st_size,
                 integrity="pinned", image_shape=[8, 8, 3])
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"catalog_version": 1, "name": "lab", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(extra))
    catalog._CACHE.clear()
    generator = ganhub.load("lab/tiny_tf1")
    images = generator.sample(10, seed=3)
    assert images.shape == (10, 8, 8, 3) and images.dtype == np.uint8
    assert images.std() > 0
    np.testing.assert_array_equal(images, ganhub.load("lab/tiny_tf1").sample(10, seed=3))
    assert state.count("/google/compare_gan/tiny_tf1/1") == 1
