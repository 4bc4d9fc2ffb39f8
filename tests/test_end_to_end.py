"""Issue 2's slice: train → export → load (dir, tar.gz, http) → sample, the CLI, and bad input."""
import json
import re

import numpy as np
import pytest
from PIL import Image

import ganhub
from ganhub.cli import main
from ganhub.training import Config, train


def test_resume_continues_from_the_saved_step(tmp_path, fake_fashion_dir, tiny_config):
    config = Config(data_dir=str(fake_fashion_dir), **tiny_config)
    model_dir = tmp_path / "run"
    assert train(config, model_dir, progress=False)["step"] == 3
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["steps"] == 3
    result = train(config.replace(steps=5), model_dir, progress=False)
    assert result["step"] == 5
    index = (model_dir / "checkpoints" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-5"' in index
    # Rerunning a finished run trains nothing more.
    assert train(config.replace(steps=5), model_dir, progress=False)["step"] == 5


def test_load_directory_archive_and_url_agree(exported, static_server):
    from_dir = ganhub.load(str(exported["path"]))
    from_tgz = ganhub.load(str(exported["archive"]))
    base = static_server(exported["archive"].parent)
    url = f"{base}/{exported['archive'].name}#sha256={exported['sha256']}"
    from_url = ganhub.load(url)
    assert from_dir.z_dim == 16 and from_dir.image_shape == (32, 32, 1)
    assert from_dir.metadata["name"] == "tiny-gan"
    reference = from_dir.sample(6, seed=1)
    np.testing.assert_array_equal(from_tgz.sample(6, seed=1), reference)
    np.testing.assert_array_equal(from_url.sample(6, seed=1), reference)


def test_sample_is_deterministic_across_batch_sizes(exported):
    # The 3-step fixture generator is nearly constant after uint8 rounding, so the float outputs
    # carry the test; the default-model test below checks uint8 variety.
    g = ganhub.load(str(exported["path"]))
    z = g.sample_latents(10, seed=7)
    a, b = g(z, batch_size=3), g(z, batch_size=64)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert np.abs(a - g(g.sample_latents(10, seed=8))).max() > 1e-6  # other seed, other images
    assert np.abs(a[0] - a[1]).max() > 1e-6
    # z_i depends only on (seed, i): a longer draw starts with the same latents
    np.testing.assert_array_equal(g.sample_latents(4, seed=7), z[:4])
    assert z.shape == (10, 16) and z.dtype == np.float32 and z.min() >= -1 and z.max() <= 1
    assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    images = g.sample(10, seed=7, batch_size=3)
    assert images.shape == (10, 32, 32, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, np.rint(a * 255).astype(np.uint8))
    np.testing.assert_array_equal(images, g.sample(10, seed=7, batch_size=64))


def test_embedded_default_model_loads_offline(monkeypatch):
    monkeypatch.setenv("GANHUB_OFFLINE", "1")
    g = ganhub.load("default")
    assert g.image_shape == (32, 32, 1) and g.z_dim == 128
    assert g.metadata["dataset"]["name"] == "fashion_mnist"
    assert g.metadata["architecture"] == "sndcgan"
    images = g.sample(16, seed=0)
    assert images.shape == (16, 32, 32, 1)
    assert images.std() > 10  # not a constant image
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 1  # not one image


def test_embedded_default_model_ships_scores_measured_on_its_own_weights(capsys):
    """Issue 4: FID and KID of the shipped weights, 10k generated vs the 10k Fashion-MNIST test
    images padded to 32×32, offline FID Inception, legacy resize; shown by `ganhub info default`."""
    from ganhub import settings
    meta = json.loads((settings.DEFAULT_MODEL_DIR / "assets" / "ganhub.json").read_text())
    assert set(meta["scores"]) == {"fid", "kid"}
    for score in meta["scores"].values():
        protocol = score["protocol"]
        assert score["source"] == "measured" and score["value"] > 0
        assert protocol["num_samples"] == 10000 and protocol["resize"] == "legacy"
        assert protocol["extractor_id"] == "fid_inception_offline"
        assert protocol["extractor_sha256"] == settings.FID_INCEPTION_SHA256
        ref = protocol["reference"]
        assert (ref["dataset"], ref["split"], ref["num_samples"]) == ("fashion_mnist_32", "test", 10000)
        assert protocol["generator"]["training_steps"] == meta["training"]["steps"]
        assert protocol["generator"]["training_config"] == meta["training"]["config"]
    assert main(["info", "default"]) == 0
    out = capsys.readouterr().out
    fid = f"{meta['scores']['fid']['value']:.6g}"
    assert re.search(rf"score fid +{re.escape(fid)}  \[10,000 generated vs 10,000 fashion_mnist_32 test", out)
    # it ships the generator EMA, and the scores are the EMA's
    weights = meta["training"]["generator_weights"]
    assert weights["kind"] == "ema" and weights["start"] < meta["training"]["steps"]
    assert all(s["protocol"]["generator"]["generator_weights"] == weights
               for s in meta["scores"].values())
    assert re.search(r"\nweights +exponential moving average of G \(decay 0\.999, from step", out)


def test_cli_sample_writes_a_grid_png(exported, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(exported["path"]), "-n", "6", "--ncols", "3", "--seed", "0",
                 "-o", str(out)]) == 0
    with Image.open(out) as image:
        # 3 columns x 2 rows of 32x32 tiles with 2-pixel padding
        assert image.size == (3 * 34 + 2, 2 * 34 + 2)


def test_cli_sample_out_dir_writes_one_png_per_image(exported, tmp_path):
    out = tmp_path / "images"
    assert main(["sample", str(exported["path"]), "-n", "3", "--out-dir", str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["sample_0000.png", "sample_0001.png", "sample_0002.png"]
    with Image.open(files[0]) as image:
        assert image.size == (32, 32) and image.mode == "L"


def test_cli_train_and_export(tmp_path, fake_fashion_dir, tiny_config):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data_dir": str(fake_fashion_dir), **tiny_config}))
    model_dir, out = tmp_path / "run", tmp_path / "module"
    assert main(["train", str(config), "--model-dir", str(model_dir), "--set", "steps=2",
                 "--quiet"]) == 0
    assert json.loads((model_dir / "config.json").read_text())["steps"] == 2
    assert main(["export", str(model_dir), str(out), "--name", "cli-gan"]) == 0
    assert ganhub.load(str(out)).metadata["training"]["steps"] == 2
    assert (tmp_path / "module.tar.gz").is_file() and (tmp_path / "module.md").is_file()


# --- bad input: a specific exception (API) or a one-line error and a non-zero exit (CLI) ----------

def _make_non_generator_module(path):
    import tensorflow as tf

    class Classifier(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="images")])
        def classify(self, images):
            return {"logits": tf.reduce_mean(images, axis=[1, 2])}

    m = Classifier()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.classify})
    return path


@pytest.mark.parametrize("handle, error", [
    ("no-such-model", ganhub.UnknownModelError),
    ("/no/such/path/module", ganhub.UnknownModelError),
])
def test_bad_handles_raise_specific_errors(handle, error):
    with pytest.raises(error, match="ganhub list"):
        ganhub.load(handle)


def test_directory_that_is_not_a_savedmodel(tmp_path):
    with pytest.raises(ganhub.InvalidModuleError, match="not a SavedModel"):
        ganhub.load(str(tmp_path))


def test_module_without_z_input(tmp_path):
    path = _make_non_generator_module(tmp_path / "classifier")
    with pytest.raises(ganhub.InvalidModuleError, match=r"no generator signature.*images"):
        ganhub.load(str(path))


@pytest.mark.parametrize("n, seed, message", [
    (0, 0, "n must be a positive integer"),
    (-3, 0, "n must be a positive integer"),
    (2.5, 0, "n must be a positive integer"),
    (2, 1.5, "seed must be a non-negative integer"),
    (2, "1", "seed must be a non-negative integer"),
])
def test_sample_argument_errors(exported, n, seed, message):
    g = ganhub.load(str(exported["path"]))
    with pytest.raises(ganhub.BadInputError, match=message):
        g.sample(n, seed=seed)


def test_call_with_wrong_z_shape(exported):
    g = ganhub.load(str(exported["path"]))
    with pytest.raises(ganhub.BadInputError, match=r"z must have shape \[n, 16\]"):
        g(np.zeros((2, 15), np.float32))


@pytest.mark.parametrize("args, message", [
    (["no-such-model"], "unknown model 'no-such-model'"),
    (["{module}", "-n", "0"], "expected a positive integer, got 0"),
    (["{module}", "--seed", "abc"], "the seed must be an integer"),
    (["{module}", "-o", "{tmp}/missing/dir/x.png"], "does not exist"),
    (["{module}", "-o", "{tmp}"], "is a folder"),
    (["{tmp}/not-a-module"], "not a SavedModel"),
])
def test_cli_errors_are_one_line_and_non_zero(exported, tmp_path, capsys, args, message):
    (tmp_path / "not-a-module").mkdir()
    args = [a.format(module=exported["path"], tmp=tmp_path) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(["sample", *args]))
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-module"]  # nothing written


def test_cli_unwritable_out_dir_leaves_nothing(exported, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os
        if os.access(locked, os.W_OK):  # root ignores permissions: make the target a file instead
            locked.chmod(0o700)
            locked.rmdir()
            locked.write_text("a file")
        code = main(["sample", str(exported["path"]), "-n", "2", "--out-dir", str(locked)])
    finally:
        if locked.is_dir():
            locked.chmod(0o700)
    assert code == 1
    assert "error" in capsys.readouterr().err
    assert not locked.is_dir() or not list(locked.iterdir())


@pytest.mark.slow
def test_served_export_and_reference_re_evaluate_in_one_command(exported, fake_fashion_dir, tmp_path,
                                                                monkeypatch, capsys):
    """Issue 14's path for ganhub's own modules: an export and a `ganhub stats` reference served
    side by side; the export names its reference (fashion_mnist_32, as trained), `ganhub evaluate
    NAME` uses it without --reference, and `--table` scores the served catalog."""
    import csv
    import shutil
    import sys
    import threading
    from pathlib import Path

    from ganhub import catalog
    from ganhub.hub.serve import Hub

    sys.path.insert(0, str(Path(__file__).resolve().parent / "ganhub" / "metrics"))
    from _standin import write_tiny_extractor
    extractor = str(write_tiny_extractor(tmp_path / "extractor"))
    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(fake_fashion_dir))

    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(exported["archive"], folder / "tiny-gan.tar.gz")
    assert main(["stats", "fashion_mnist_32", "-n", "40", "--extractor", extractor,
                 "-o", str(folder / "fm32-test-40.npz")]) == 0
    hub = Hub(folder, host="127.0.0.1", port=0, samples=False)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GANHUB_CATALOGS", f"{hub.url}/index.json")
        catalog._CACHE.clear()
        capsys.readouterr()
        assert main(["list", "--kind", "reference"]) == 0
        assert "fm32-test-40" in capsys.readouterr().out

        entry = catalog.get_entry("tiny-gan")
        assert entry["reference"] == {"dataset": "fashion_mnist_32", "split": "test",
                                      "num_samples": 10000}
        assert main(["evaluate", "tiny-gan", "-n", "40", "--extractor", extractor, "--json"]) == 0
        default = json.loads(capsys.readouterr().out)
        assert default["protocol"]["reference"]["dataset"] == "fashion_mnist_32"
        assert main(["evaluate", "tiny-gan", "-n", "40", "--extractor", extractor, "--json",
                     "--reference", "fm32-test-40"]) == 0
        served = json.loads(capsys.readouterr().out)
        assert served["fid"] == pytest.approx(default["fid"], rel=1e-9)  # the same 40 images

        table = tmp_path / "table.csv"
        assert main(["evaluate", "--table", str(table), "--dataset", "fashion_mnist", "-n", "40",
                     "--reference", "fm32-test-40", "--extractor", extractor]) == 0
        with open(table, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["module"] == "tiny-gan"]
        assert len(rows) == 1 and rows[0]["status"] == "ok"
        assert float(rows[0]["measured_fid"]) == pytest.approx(served["fid"], abs=1e-4)
    finally:
        hub.close()
        catalog._CACHE.clear()
