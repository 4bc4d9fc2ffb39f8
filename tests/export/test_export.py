"""export/: SavedModel layout, signature, metadata, archive, TF Hub compatibility."""
import hashlib
import json
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ganhub.export import export_module
from ganhub.export.metadata import validate
from ganhub.errors import ConfigError, GanhubError, InvalidModuleError


def test_savedmodel_layout_and_metadata(exported, trained_dir):
    path = exported["path"]
    assert (path / "saved_model.pb").is_file()
    meta = json.loads((path / "assets" / "ganhub.json").read_text())
    assert meta == exported["metadata"]
    validate(meta)
    assert meta["architecture"] == "sndcgan" and meta["loss"] == "ns"
    assert meta["normalization"] == {"generator": "batch_norm", "discriminator": "spectral_norm"}
    assert meta["z_dim"] == 16 and meta["image_shape"] == [32, 32, 1]
    assert meta["z_distribution"] == {"name": "uniform", "low": -1.0, "high": 1.0}
    assert meta["dataset"]["name"] == "fashion_mnist" and meta["dataset"]["split"] == "train"
    assert "zero-padded" in meta["dataset"]["preprocessing"]
    training = meta["training"]
    assert training["steps"] == 3 and training["batch_size"] == 8 and training["disc_iters"] == 1
    assert training["tensorflow_version"] == tf.__version__
    assert training["config"]["width"] == 0.0625
    assert training["lr_schedule"] == "constant"
    assert meta["scores"] == {}
    assert "script" not in training


def test_script_is_recorded(trained_dir, tmp_path):
    meta = export_module(trained_dir, tmp_path / "m", archive=False, script="python train.py")["metadata"]
    assert meta["training"]["script"] == "python train.py"


def test_archive_sha256_and_layout(exported):
    archive = exported["archive"]
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert digest == exported["sha256"]
    assert archive.with_name(archive.name + ".sha256").read_text().split()[0] == digest
    assert exported["size"] == archive.stat().st_size
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    # TF Hub's compressed format: the SavedModel's contents at the archive root
    assert {"saved_model.pb", "assets/ganhub.json", "variables/variables.index"} <= names


def test_serving_signature_inference_mode(exported):
    loaded = tf.saved_model.load(str(exported["path"]))
    fn = loaded.signatures["serving_default"]
    spec = fn.structured_input_signature[1]["z"]
    assert spec.shape.as_list() == [None, 16] and spec.dtype == tf.float32
    z = tf.random.stateless_uniform([5, 16], [1, 2], -1, 1)
    images = fn(z=z)["images"].numpy()
    assert images.shape == (5, 32, 32, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    # Inference mode: an example's image does not depend on the rest of the batch.
    single = fn(z=z[:1])["images"].numpy()
    np.testing.assert_allclose(single[0], images[0], atol=1e-5)
    # Calling twice changes nothing (no BN moving-average updates in the exported graph).
    np.testing.assert_array_equal(fn(z=z)["images"].numpy(), images)


def test_matches_the_trained_generator(exported, trained_dir):
    from ganhub.training import load_generator

    _, generator, _ = load_generator(trained_dir)
    z = tf.random.stateless_uniform([4, 16], [3, 4], -1, 1)
    expected = generator(z, training=False).numpy()
    got = tf.saved_model.load(str(exported["path"])).signatures["serving_default"](z=z)["images"]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_plain_tensorflow_hub_load_and_keras_layer(exported):
    import tensorflow_hub as hub
    import tf_keras

    module = hub.load(str(exported["path"]))
    out = module.signatures["serving_default"](z=tf.zeros([2, 16]))["images"]
    assert out.shape == (2, 32, 32, 1)
    model = tf_keras.Sequential([tf_keras.Input([16]), hub.KerasLayer(str(exported["path"]))])
    np.testing.assert_allclose(model(tf.zeros([2, 16])).numpy(), out.numpy(), atol=1e-6)


def test_tensorflow_hub_load_from_http(exported, static_server):
    import tensorflow_hub as hub

    base = static_server(exported["archive"].parent)
    module = hub.load(f"{base}/{exported['archive'].name}")
    out = module.signatures["serving_default"](z=tf.zeros([1, 16]))["images"]
    assert out.shape == (1, 32, 32, 1)


def test_export_refuses_to_overwrite_and_leaves_nothing(exported, trained_dir, tmp_path):
    with pytest.raises(GanhubError, match="already exists"):
        export_module(trained_dir, exported["path"])
    missing = tmp_path / "not-trained"
    missing.mkdir()
    with pytest.raises(ConfigError, match="config.json is missing"):
        export_module(missing, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_metadata_validation_names_the_problem(exported):
    meta = dict(exported["metadata"])
    del meta["z_dim"]
    meta["image_shape"] = "32x32"
    with pytest.raises(InvalidModuleError, match=r"missing 'z_dim'.*'image_shape' should be list"):
        validate(meta)


SIBLINGS = (".tar.gz", ".tar.gz.sha256", ".md")


def _copy_export(exported, tmp_path):
    """A private copy of the session's export: OUT plus OUT.tar.gz, its .sha256 and OUT.md."""
    src = exported["path"]
    out = tmp_path / src.name
    shutil.copytree(src, out)
    for suffix in SIBLINGS:
        shutil.copy(src.with_name(src.name + suffix), out.with_name(out.name + suffix))
    return out


def _snapshot(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_overwrite_keeps_the_previous_export(exported, trained_dir, tmp_path, monkeypatch, error):
    out = _copy_export(exported, tmp_path)
    (out / "marker").write_text("previous export")
    before = _snapshot(out)
    real_replace = os.replace

    def replace(src, dst):
        if Path(src).name == "module":  # the new module into place, after the old one moved aside
            raise error
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(type(error)):
        export_module(trained_dir, out, overwrite=True, archive=False)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name] + [out.name + suffix for suffix in SIBLINGS]), "no staging dir may be left"


def test_overwrite_without_archive_removes_the_replaced_exports_files(exported, trained_dir, tmp_path):
    out = _copy_export(exported, tmp_path)
    (out / "marker").write_text("previous export")
    export_module(trained_dir, out, overwrite=True, archive=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert (out / "saved_model.pb").is_file() and not (out / "marker").exists()


def test_overwrite_with_archive_replaces_the_model_card_and_sidecar(exported, trained_dir, tmp_path):
    out = _copy_export(exported, tmp_path)
    card = out.with_name(out.name + ".md")
    sidecar = out.with_name(out.name + ".tar.gz.sha256")
    card.write_text("old card\n")
    sidecar.write_text("old sidecar\n")
    with open(card) as card_reader, open(sidecar) as sidecar_reader:  # never a truncated file
        result = export_module(trained_dir, out, overwrite=True)
        assert card_reader.read() == "old card\n" and sidecar_reader.read() == "old sidecar\n"
    assert card.read_text().startswith(f"# {out.name}\n")
    assert sidecar.read_text().split()[0] == result["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name] + [out.name + suffix for suffix in SIBLINGS])
