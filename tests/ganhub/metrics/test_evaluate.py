import hashlib
import json

import numpy as np
import pytest

import ganhub
from ganhub.cli import main
from ganhub.errors import ProtocolMismatchError
from ganhub.metrics import (MetricInputError, ReferenceStats, frechet_distance, inception_score,
                            kernel_inception_distance, load_extractor)
from ganhub.metrics.evaluation import compute_reference, evaluate


@pytest.fixture
def real_images():
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, size=(120, 12, 12, 3), dtype=np.uint8)


def test_evaluate_matches_metrics_on_independently_extracted_features(
        tiny_extractor_dir, stand_in_generator, real_images):
    extractor = load_extractor(str(tiny_extractor_dir))
    reference = compute_reference(real_images, extractor, "legacy", dataset="toy", split="test")
    result = evaluate(stand_in_generator, reference=reference, metrics=["fid", "kid", "is"],
                      num_samples=120, seed=3, extractor=extractor)
    # Independent route: the same latents through the generator, all features at once.
    z = stand_in_generator.sample_latents(120, 3)
    fake = stand_in_generator(z).astype(np.float64) * 255.0
    feats, logits = extractor.features_and_logits(fake, "legacy", want_logits=True)
    real = extractor(real_images)
    expected_fid = frechet_distance(feats.mean(0), np.cov(feats, rowvar=False),
                                    real.mean(0), np.cov(real, rowvar=False))
    assert result["fid"] == pytest.approx(expected_fid, rel=1e-6)
    kid, kid_std = kernel_inception_distance(feats, real, num_blocks=1)
    assert result["kid"] == pytest.approx(kid, rel=1e-5, abs=1e-9)
    assert result["is"] == pytest.approx(inception_score(logits)[0], rel=1e-6)
    protocol = result["protocol"]
    assert protocol["extractor_id"] == "savedmodel" and protocol["resize"] == "legacy"
    assert protocol["num_samples"] == 120 and protocol["seed"] == 3
    assert protocol["reference"]["dataset"] == "toy"


def test_evaluate_is_deterministic_in_seed(tiny_extractor_dir, stand_in_generator, real_images):
    extractor = load_extractor(str(tiny_extractor_dir))
    reference = compute_reference(real_images, extractor, "legacy")
    with pytest.warns(UserWarning):  # 60 generated vs 120 reference images
        run = lambda seed: evaluate(stand_in_generator, reference, "fid", 60, seed, extractor)["fid"]
        assert run(1) == run(1) != run(2)


def test_protocol_mismatch_is_an_error(tiny_extractor_dir, stand_in_generator, real_images, tmp_path):
    extractor = load_extractor(str(tiny_extractor_dir))
    path = compute_reference(real_images, extractor, "clean").save(tmp_path / "ref.npz")
    with pytest.raises(ProtocolMismatchError, match="resize"):
        evaluate(stand_in_generator, str(path), "fid", 120, 0, extractor, resize="legacy")


def test_missing_reference_and_unknown_metric(tiny_extractor_dir, stand_in_generator):
    with pytest.raises(MetricInputError, match="reference"):
        evaluate(stand_in_generator, None, "fid", 10, 0, str(tiny_extractor_dir))
    with pytest.raises(MetricInputError, match="unknown metrics"):
        evaluate(stand_in_generator, None, "lpips", 10, 0, str(tiny_extractor_dir))


def test_ms_ssim_needs_no_extractor(stand_in_generator):
    result = evaluate(stand_in_generator, metrics="ms_ssim")
    assert 0.0 < result["ms_ssim"] < 1.0
    assert result["protocol"]["ms_ssim"]["batches"] == 5
    assert "extractor_id" not in result["protocol"]


def test_cli_stats_then_evaluate(tiny_extractor_dir, stand_in_generator, real_images, tmp_path,
                                 monkeypatch, capsys):
    np.savez(tmp_path / "real.npz", images=real_images)
    ref = tmp_path / "ref.npz"
    assert main(["stats", str(tmp_path / "real.npz"), "-n", "120", "-o", str(ref),
                 "--extractor", str(tiny_extractor_dir), "--json"]) == 0
    provenance = json.loads(capsys.readouterr().out)
    assert provenance["num_samples"] == 120 and provenance["resize"] == "legacy"
    assert ReferenceStats.load(ref).features.shape == (120, 6)

    stand_in_generator.metadata["scores"] = {"fid": {"value": 12.5}}
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120",
                 "--metrics", "fid,kid", "--extractor", str(tiny_extractor_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert out["fid"] > 0 and out["kid_std"] is None and out["reported"] == {"fid": 12.5}

    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120",
                 "--extractor", str(tiny_extractor_dir)]) == 0
    table = capsys.readouterr().out
    assert "measured" in table and "12.5000" in table

    # A mismatched protocol is a one-line error and exit code 1.
    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120", "--resize", "clean",
                 "--extractor", str(tiny_extractor_dir)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "resize" in err and len(err.strip().splitlines()) == 1


def test_fewer_samples_than_dimensions_warns_not_crashes(tiny_extractor_dir, stand_in_generator, real_images):
    from ganhub.metrics import SmallSampleWarning
    extractor = load_extractor(str(tiny_extractor_dir))  # 6-d features
    with pytest.warns(SmallSampleWarning):
        reference = compute_reference(real_images[:5], extractor, "legacy")
    with pytest.warns(SmallSampleWarning):
        result = evaluate(stand_in_generator, reference, "fid", 5, 0, extractor)
    assert np.isfinite(result["fid"]) and result["fid"] >= 0


def test_reference_from_fashion_mnist_style_idx_and_cache(tiny_extractor_dir, tmp_path, monkeypatch):
    import gzip
    from ganhub.metrics.evaluation import reference_from_data
    images = np.random.default_rng(2).integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    header = np.array([2051, 30, 28, 28], dtype=">u4").tobytes()
    (tmp_path / "fm").mkdir()
    with gzip.open(tmp_path / "fm" / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + images.tobytes())
    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    extractor = load_extractor(str(tiny_extractor_dir))
    ref = reference_from_data("fashion_mnist", "test", 20, extractor, "legacy")
    expected = extractor(images[:20, ..., None])
    np.testing.assert_allclose(ref.mu, expected.mean(0), rtol=1e-10)
    assert ref.provenance["dataset"] == "fashion_mnist" and ref.provenance["num_samples"] == 20
    idx_bytes = (tmp_path / "fm" / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert ref.provenance["source_sha256"] == hashlib.sha256(idx_bytes).hexdigest()
    cached = list((tmp_path / "cache" / "references").glob("*.npz"))
    assert len(cached) == 1
    def no_extraction(*args, **kwargs):
        raise AssertionError("the cached reference should have been read back")

    monkeypatch.setattr(extractor, "features_and_logits", no_extraction)
    again = reference_from_data("fashion_mnist", "test", 20, extractor, "legacy")
    np.testing.assert_array_equal(again.sigma, ref.sigma)
    assert again.provenance == json.loads(json.dumps(ref.provenance))
    assert again.provenance["image_shape"] == [28, 28, 1]
    padded = reference_from_data("fashion_mnist_32", "test", 20, load_extractor(str(tiny_extractor_dir)), "legacy")
    assert padded.provenance["image_shape"] == [32, 32, 1] and padded.provenance["dataset"] == "fashion_mnist_32"
    expected32 = load_extractor(str(tiny_extractor_dir))(np.pad(images[:20, ..., None], ((0, 0), (2, 2), (2, 2), (0, 0))))
    np.testing.assert_allclose(padded.mu, expected32.mean(0), rtol=1e-10)


def test_inception_score_without_classifier_head_fails_before_sampling(tmp_path, stand_in_generator):
    import tensorflow as tf
    from ganhub.metrics import MetricUnavailableError

    class NoHead(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
        def serve(self, x):
            return {"pool_3": tf.reduce_mean(x, axis=[1, 2])}

    module = NoHead()
    tf.saved_model.save(module, str(tmp_path / "nohead"), signatures={"serving_default": module.serve})
    with pytest.raises(MetricUnavailableError, match="classifier head"):
        evaluate(stand_in_generator, None, "is", 10, 0, str(tmp_path / "nohead"))
    assert stand_in_generator.calls == 0


def test_reference_of_other_image_shape_warns(tiny_extractor_dir, real_images):
    from _standin import StandInGenerator
    extractor = load_extractor(str(tiny_extractor_dir))
    reference = compute_reference(real_images, extractor, "legacy")  # 12×12×3
    with pytest.warns(UserWarning, match="fashion_mnist_32"):
        evaluate(StandInGenerator(image_shape=(10, 10, 3)), reference, "fid", 120, 0, extractor)


def test_protocol_differences_name_each_field_that_changes_a_score():
    from ganhub.metrics.evaluation import protocol_differences
    run = {"num_samples": 10000, "seed": 0, "extractor_id": "fid_inception_offline", "resize": "legacy",
           "reference": {"dataset": "fashion_mnist_32", "split": "test", "num_samples": 10000}}
    assert protocol_differences(run, dict(run, seed=5)) == []  # the latent seed is not a protocol change
    other = dict(run, num_samples=2000, resize="clean",
                 reference=dict(run["reference"], num_samples=2000))
    assert protocol_differences(other, run) == [
        "num_samples: reported 2000, this run 10000",
        "resize: reported clean, this run legacy",
        "reference num_samples: reported 2000, this run 10000",
    ]
    assert protocol_differences("FID, 10k vs 10k, TF1 bilinear", run) == []
    assert protocol_differences(None, run) == []
    # a study trial's protocol (the zoo's scores) names its reference and extractor as strings
    trial = {"num_samples": 2000, "seed": 0, "extractor": "fid_inception_offline",
             "resize": "legacy", "reference": "fashion_mnist_32-test"}
    assert protocol_differences(trial, run) == ["num_samples: reported 2000, this run 10000"]
    assert protocol_differences(dict(trial, extractor="tfgan_inception",
                                     reference="mnist_32-train"), run) == [
        "num_samples: reported 2000, this run 10000",
        "extractor_id: reported tfgan_inception, this run fid_inception_offline",
        "reference dataset: reported mnist_32, this run fashion_mnist_32",
        "reference split: reported train, this run test",
    ]


def test_summarize_protocol():
    from ganhub.describe import summarize_protocol
    protocol = {"num_samples": 10000, "seed": 0, "extractor_id": "fid_inception_offline",
                "extractor_sha256": "7ff4a85c3a6378f0dfc8", "resize": "legacy", "kid_blocks": 10,
                "reference": {"dataset": "fashion_mnist_32", "split": "test", "num_samples": 10000}}
    assert summarize_protocol(protocol) == (
        "10,000 generated vs 10,000 fashion_mnist_32 test images, fid_inception_offline "
        "(7ff4a85c3a63), resize legacy, seed 0, KID blocks 10")
    # a study trial's short form: the reference by name; a study reads its first num_samples
    # images (nothing says so outside a study)
    short = {"num_samples": 2000, "seed": 0, "extractor": "fid_inception_offline",
             "resize": "legacy", "reference": "fashion_mnist_32-test"}
    assert summarize_protocol(short) == (
        "2,000 generated vs fashion_mnist_32 test images, fid_inception_offline, resize legacy, "
        "seed 0")
    assert summarize_protocol({**short, "study": {"name": "s", "trial": 1}}).startswith(
        "2,000 generated vs 2,000 fashion_mnist_32 test images, ")
    assert summarize_protocol("free text") == "free text"
    assert summarize_protocol(None) == "protocol not given"


def test_cli_notes_a_reported_score_measured_under_another_protocol(
        tiny_extractor_dir, stand_in_generator, real_images, tmp_path, monkeypatch, capsys):
    ref = tmp_path / "ref.npz"
    np.savez(tmp_path / "real.npz", images=real_images)
    assert main(["stats", str(tmp_path / "real.npz"), "-n", "120", "-o", str(ref),
                 "--extractor", str(tiny_extractor_dir)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    stand_in_generator.metadata["scores"] = {
        "fid": {"value": 12.5, "protocol": {"num_samples": 10000, "resize": "legacy"}}}
    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120",
                 "--extractor", str(tiny_extractor_dir)]) == 0
    table = capsys.readouterr().out
    assert "not directly comparable" in table and "num_samples: reported 10000, this run 120" in table
    assert "resize" not in table.split("not directly comparable")[1]
    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120", "--json",
                 "--extractor", str(tiny_extractor_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reported_protocol_notes"] == {"fid": ["num_samples: reported 10000, this run 120"]}

    stand_in_generator.metadata["scores"] = {"fid": {"value": 12.5, "protocol": dict(
        out["protocol"])}}
    assert main(["evaluate", "stand-in", "--reference", str(ref), "-n", "120",
                 "--extractor", str(tiny_extractor_dir)]) == 0
    assert "note:" not in capsys.readouterr().out


def test_concurrent_reference_requests_compute_it_once(tiny_extractor_dir, tmp_path, monkeypatch):
    """Two study workers asking for the same reference: one computes it (holding the cache lock),
    the other waits and reads the saved file; a request after the lock timed out computes it."""
    import threading
    import time

    from ganhub.metrics import evaluation
    from ganhub.training.data import write_idx
    (tmp_path / "fm").mkdir()
    write_idx(tmp_path / "fm" / "t10k-images-idx3-ubyte.gz",
              np.random.default_rng(3).integers(0, 256, size=(12, 28, 28), dtype=np.uint8))
    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    extractor = load_extractor(str(tiny_extractor_dir))
    real, calls, started = evaluation.compute_reference, [], threading.Event()

    def slow(*args, **kwargs):
        calls.append(threading.get_ident())
        started.set()
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "compute_reference", slow)
    out = {}

    def ask(name):
        out[name] = evaluation.reference_from_data("fashion_mnist", "test", 10, extractor, "legacy")

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert started.wait(30)
    ask("second")   # waits on the lock, then reads the first one's file
    first.join()
    assert len(calls) == 1
    np.testing.assert_array_equal(out["first"].mu, out["second"].mu)
    assert out["second"].provenance == json.loads(json.dumps(out["first"].provenance))
    assert not list((tmp_path / "cache" / "locks").glob("reference-*"))   # released
    # a lock nobody releases (another live process here): after GANHUB_LOCK_TIMEOUT it computes
    from ganhub.hub import cache as hub_cache
    monkeypatch.setenv("GANHUB_LOCK_TIMEOUT", "0.5")
    key_lock = next((tmp_path / "cache").glob("references/*.npz")).stem
    held = hub_cache.lock(f"reference-{key_lock}").acquire()
    for f in (tmp_path / "cache" / "references").glob("*.npz"):
        f.unlink()
    ask("third")
    assert len(calls) == 2
    held.release()


@pytest.mark.parametrize("junk", [
    {"generator": "x"}, {"generator": {"training_steps": 5, "generator_weights": [1]}},
    {"reference": ["a"]}, {"reference": {"num_samples": [3], "dataset": {"a": 1}}},
    {"num_samples": None, "seed": {"x": 1}, "kid_blocks": [], "extractor_sha256": 7},
    {"extractor": 3, "resize": None}])
def test_protocol_readers_take_junk_metadata(junk):
    """A module's metadata is untrusted: the readers behind `ganhub info` and the served page
    describe whatever shape they get, one line, no exception."""
    from ganhub import describe
    from ganhub.hub.page import protocol_sentence
    line = describe.summarize_protocol(junk)
    assert isinstance(line, str) and "\n" not in line and "generated" in line
    short, details = protocol_sentence(junk)
    assert "generated" in short and all(isinstance(d, str) for d in details)
