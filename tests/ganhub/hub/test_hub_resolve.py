"""resolve(): names, directories, archives, URLs; cache hits; verification."""
import shutil

import numpy as np
import pytest

from ganhub import fileio, settings
from ganhub.errors import DownloadError, InvalidModuleError, UnknownModelError
from ganhub.hub import cache as hub_cache
from ganhub.hub.resolver import download_url, resolve, split_sha256_fragment


def _sample(path, n=3):
    import tensorflow as tf
    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](z=tf.zeros([n, 8]))["images"].numpy()
    return out


def test_local_directory_resolves_in_place(cache, modules):
    got = resolve(modules["tiny_dir"])
    assert got.path == modules["tiny_dir"]
    assert got.source == "directory" and got.entry is None
    assert not (cache / "modules").exists(), "a local directory must not be copied into the cache"


def test_missing_path_and_unknown_name_point_to_ganhub_list(cache, tmp_path):
    with pytest.raises(UnknownModelError, match="ganhub list"):
        resolve(tmp_path / "nope")
    with pytest.raises(UnknownModelError, match="model_15_cifar10_resnet_cifar"):
        resolve("compare_gan/model_15_cifar10_resnet_cifa")  # suggestion for a typo


def test_directory_that_is_not_a_saved_model(cache, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "weights.bin").write_bytes(b"0")
    with pytest.raises(InvalidModuleError, match="saved_model.pb"):
        resolve(tmp_path / "x")


def test_archive_is_extracted_once_then_served_from_cache(cache, modules):
    first = resolve(modules["tiny_tgz"])
    assert first.source == "archive" and first.sha256 == modules["tiny_sha"]
    assert first.path == cache / "modules" / modules["tiny_sha"] / "module"
    images = _sample(first.path)
    assert images.shape == (3, 4, 4, 3) and 0 <= images.min() and images.max() <= 1
    np.testing.assert_allclose(images, _sample(modules["tiny_dir"]))
    second = resolve(str(modules["tiny_tgz"]))
    assert second.source == "cache" and second.path == first.path
    assert hub_cache.verify_entry(modules["tiny_sha"]) == []


def test_archive_without_saved_model_is_invalid(cache, tmp_path):
    import tarfile
    (tmp_path / "readme.txt").write_text("hi")
    with tarfile.open(tmp_path / "bad.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "readme.txt", arcname="readme.txt")
    with pytest.raises(InvalidModuleError, match="saved_model.pb"):
        resolve(tmp_path / "bad.tar.gz")
    assert not list((cache / "modules").glob("*"))  # glob of a missing folder is empty too


def test_url_downloads_once_then_hits_cache(cache, modules, fault_server):
    base, state = fault_server
    state.files["/m/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    url = f"{base}/m/tiny.tar.gz"
    first = resolve(url)
    assert first.source == "download" and first.sha256 == modules["tiny_sha"]
    second = resolve(url)
    assert second.source == "cache" and second.path == first.path
    assert state.count("/m/tiny.tar.gz") == 1
    assert not list((cache / "downloads").glob("*")), "the downloaded archive must not linger"


def test_url_sha256_fragment_is_verified(cache, modules, fault_server):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    good = resolve(f"{base}/tiny.tar.gz#sha256={modules['tiny_sha']}")
    assert good.sha256 == modules["tiny_sha"]
    other = "0" * 64
    with pytest.raises(DownloadError, match="sha256"):
        resolve(f"{base}/tiny.tar.gz#sha256={other}")
    assert hub_cache.lookup(other) is None
    assert not list((cache / "downloads").glob("*.part"))


def test_bad_sha256_fragment_is_rejected():
    with pytest.raises(InvalidModuleError):
        split_sha256_fragment("http://h/m.tar.gz#sha256=xyz")
    assert split_sha256_fragment("http://h/m.tar.gz#sha256=" + "A" * 64) == ("http://h/m.tar.gz", "a" * 64)


def test_compressed_format_query_follows_the_tf_hub_convention():
    assert download_url("https://tfhub.dev/google/compare_gan/model_1_celebahq128_resnet19/1") == \
        "https://tfhub.dev/google/compare_gan/model_1_celebahq128_resnet19/1?tf-hub-format=compressed"
    assert download_url("http://127.0.0.1:8000/m.tar.gz") == "http://127.0.0.1:8000/m.tar.gz"
    assert download_url("http://127.0.0.1:8000/models/m") == "http://127.0.0.1:8000/models/m?tf-hub-format=compressed"
    assert download_url("https://x/m?tf-hub-format=compressed") == "https://x/m?tf-hub-format=compressed"


def test_hub_style_url_is_fetched_with_compressed_query(cache, modules, fault_server):
    base, state = fault_server
    state.files["/google/tiny/1"] = modules["tiny_tgz"].read_bytes()
    got = resolve(f"{base}/google/tiny/1")
    assert got.source == "download"
    assert state.requests[0][0] == "/google/tiny/1"


def test_default_entry_resolves_to_the_packaged_model(cache, modules, monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "DEFAULT_MODEL_DIR", tmp_path / "absent")
    with pytest.raises(UnknownModelError, match="not installed"):
        resolve("default")
    packaged = tmp_path / "default"
    shutil.copytree(modules["evil_dir"], packaged)  # built-in entries are not scanned
    monkeypatch.setattr(settings, "DEFAULT_MODEL_DIR", packaged)
    got = resolve("default")
    assert got.path == packaged and got.source == "package" and got.entry["name"] == "default"


def test_archive_hash_is_reused_until_the_file_changes(cache, modules, tmp_path, monkeypatch):
    from ganhub.errors import UntrustedModuleError

    local = tmp_path / "model.tar.gz"
    shutil.copy(modules["tiny_tgz"], local)
    assert resolve(local).sha256 == modules["tiny_sha"]
    real_hash = fileio.sha256_file
    monkeypatch.setattr(fileio, "sha256_file", lambda p: pytest.fail("re-hashed an unchanged archive"))
    assert resolve(local).source == "cache"
    monkeypatch.setattr(fileio, "sha256_file", real_hash)
    shutil.copy(modules["evil_tgz"], local)  # same path, new content
    with pytest.raises(UntrustedModuleError):
        resolve(local)
    assert resolve(local, trust=True).sha256 == modules["evil_sha"]
