"""`ganhub evaluate <compare_gan name>` on a published-style module, with no network.

The module is a TF1 Hub format fixture shaped like the compare_gan ones ('generator' signature,
z float32 [64, 128] fixed batch, images in [0, 1]), packed as .tar.gz and reached through a catalog
entry copied from compare_gan.json (GANHUB_CATALOGS), pinned by sha256 and carrying the study's
reported scores. Features come from the tiny SavedModel extractor of conftest.py.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import ganhub
from ganhub import catalog
from ganhub.cli import main
from ganhub.generator import Generator
from ganhub.metrics import frechet_distance, kernel_inception_distance, load_extractor
from ganhub.metrics.evaluation import compute_reference

HUB_CONFTEST = Path(__file__).resolve().parents[1] / "hub" / "conftest.py"
NAME = "lab/tiny_compare_gan"
N, SEED = 70, 7  # 70 = one full batch of 64 + a padded chunk of 6


def _build_tf1_hub_module(path):
    spec = importlib.util.spec_from_file_location("_ganhub_hub_conftest", HUB_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tf1_hub_module(path)  # fixed batch 64, z_dim 128, 8x8x3


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from ganhub.export import package

    base = tmp_path_factory.mktemp("published")
    module_dir = _build_tf1_hub_module(base / "tf1")
    tgz = base / "tiny_compare_gan.tar.gz"
    sha = package.pack(module_dir, tgz)
    return {"dir": module_dir, "tgz": tgz, "sha256": sha}


@pytest.fixture
def lab_catalog(published, tmp_path, monkeypatch):
    """An extra catalog with one entry shaped like compare_gan's, pointing at the fixture archive."""
    template = catalog.get_entry("compare_gan/model_11_cifar10_resnet_cifar")
    entry = {k: v for k, v in template.items() if k not in ("catalog", "builtin")}
    assert entry["format"] == "tf1-hub" and entry["z"]["batch_size"] == 64
    assert entry["scores"]["fid"]["value"] == 28.12
    entry.update(name=NAME, handle=str(published["tgz"]), sha256=published["sha256"],
                 size=published["tgz"].stat().st_size, integrity="pinned", image_shape=[8, 8, 3])
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({"catalog_version": 1, "name": "lab", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(path))
    monkeypatch.setenv("GANHUB_OFFLINE", "1")  # a local archive: nothing may go to the network
    catalog._CACHE.clear()
    yield entry
    catalog._CACHE.clear()


@pytest.fixture
def reference(tiny_extractor_dir, tmp_path):
    real = np.random.default_rng(11).integers(0, 256, size=(N, 8, 8, 3), dtype=np.uint8)
    extractor = load_extractor(str(tiny_extractor_dir))
    path = compute_reference(real, extractor, "legacy", dataset="toy", split="test").save(
        tmp_path / "ref.npz")
    return {"path": path, "real": real, "extractor": extractor}


def _direct_images(module_dir, z):
    """The module's own signature, called by hand in batches of 64 (the tail zero-padded)."""
    import tensorflow as tf
    fn = tf.saved_model.load(str(module_dir), tags=[]).signatures["generator"]
    padded = np.concatenate([z, np.zeros((128 - len(z), z.shape[1]), np.float32)])
    return np.concatenate([fn(z=tf.constant(padded[i:i + 64]))["default"].numpy()
                           for i in (0, 64)])[:len(z)]


def test_evaluate_published_tf1_module_prints_measured_and_reported(
        lab_catalog, published, reference, tiny_extractor_dir, monkeypatch, capsys):
    calls = []
    original_run = Generator._run

    def recording_run(self, z):
        calls.append(z.shape)
        return original_run(self, z)

    monkeypatch.setattr(Generator, "_run", recording_run)
    assert main(["evaluate", NAME, "--reference", str(reference["path"]), "-n", str(N),
                 "--seed", str(SEED), "--metrics", "fid,kid", "--extractor",
                 str(tiny_extractor_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    # 70 samples through a fixed-batch-64 module: one full batch, then 6 padded to 64
    assert calls == [(64, 128), (64, 128)]

    # measured: finite, and what the same features give when computed directly
    assert np.isfinite(out["fid"]) and out["fid"] > 0 and np.isfinite(out["kid"])
    assert out["kid_std"] is None  # one KID block has no spread: null, not NaN
    generator = ganhub.load(NAME)
    assert generator.fixed_batch == 64 and generator.image_shape == (8, 8, 3)
    z = generator.sample_latents(N, SEED)
    images = _direct_images(published["dir"], z)
    np.testing.assert_array_equal(generator(z), images)
    extractor = reference["extractor"]
    feats = extractor(np.clip(images, 0, 1).astype(np.float64) * 255.0, "legacy")
    real = extractor(reference["real"], "legacy")
    expected_fid = frechet_distance(feats.mean(0), np.cov(feats, rowvar=False),
                                    real.mean(0), np.cov(real, rowvar=False))
    assert out["fid"] == pytest.approx(expected_fid, rel=1e-6)
    assert out["kid"] == pytest.approx(kernel_inception_distance(feats, real, num_blocks=1)[0],
                                       rel=1e-5, abs=1e-9)

    # reported: the catalog entry's published scores (the TF1 module has no metadata of its own)
    assert out["reported"] == {"fid": 28.12, "is": 7.57}
    protocol = out["protocol"]
    assert protocol["num_samples"] == N and protocol["seed"] == SEED
    assert protocol["extractor_id"] == "savedmodel" and protocol["reference"]["dataset"] == "toy"

    # the table: measured and reported side by side
    assert main(["evaluate", NAME, "--reference", str(reference["path"]), "-n", str(N),
                 "--seed", str(SEED), "--metrics", "fid", "--extractor",
                 str(tiny_extractor_dir)]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["fid"] == [f"{out['fid']:.4f}", "28.1200"]


def test_evaluate_refuses_an_archive_that_does_not_match_the_pinned_sha256(
        lab_catalog, published, reference, tiny_extractor_dir, tmp_path, monkeypatch, capsys):
    entry = dict(lab_catalog, sha256="0" * 64)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"catalog_version": 1, "name": "lab", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(path))
    catalog._CACHE.clear()
    assert main(["evaluate", NAME, "--reference", str(reference["path"]), "-n", str(N),
                 "--metrics", "fid", "--extractor", str(tiny_extractor_dir)]) == 1
    assert "sha256" in capsys.readouterr().err
