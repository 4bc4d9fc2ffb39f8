"""evaluate() and `ganhub evaluate` with precision, recall, density, coverage and PPL, checked
against the metric functions applied to independently extracted features."""
import json

import numpy as np
import pytest

import ganhub
from ganhub.cli import main
from ganhub.metrics import FeatureStats, ReferenceFileError, ReferenceStats, load_extractor
from ganhub.metrics.evaluation import compute_reference, evaluate
from ganhub.metrics.ppl import perceptual_path_length
from ganhub.metrics.prdc import precision_recall_density_coverage

PRDC = ("precision", "recall", "density", "coverage")


@pytest.fixture
def real_images():
    return np.random.default_rng(5).integers(0, 256, size=(90, 12, 12, 3), dtype=np.uint8)


def test_prdc_through_evaluate_matches_direct_features(tiny_extractor_dir, stand_in_generator,
                                                       real_images):
    extractor = load_extractor(str(tiny_extractor_dir))
    reference = compute_reference(real_images, extractor, "legacy", dataset="toy", split="test")
    assert reference.provenance["feature_samples"] == 90
    result = evaluate(stand_in_generator, reference=reference, metrics=("fid",) + PRDC,
                      num_samples=90, seed=4, extractor=extractor)
    # Independent route: the same latents, all images at once, features kept as float32 as the
    # reference file and the streamed statistics keep them.
    fake = stand_in_generator(stand_in_generator.sample_latents(90, 4)).astype(np.float64) * 255.0
    fake_features = extractor(fake).astype(np.float32)
    real_features = extractor(real_images).astype(np.float32)
    np.testing.assert_array_equal(reference.features, real_features)
    expected = precision_recall_density_coverage(real_features, fake_features)
    for key in PRDC:
        assert result[key] == pytest.approx(expected[key], rel=1e-12), key
    assert 0 < result["precision"] < 1 and 0 < result["recall"] < 1  # not a degenerate case
    prdc = result["protocol"]["prdc"]
    assert prdc["reference_samples"] == 90 and prdc["generated_samples"] == 90
    assert prdc["k_precision_recall"] == 3 and prdc["k_density_coverage"] == 5


def test_reference_without_feature_sample_is_refused_with_the_fix(tiny_extractor_dir,
                                                                  stand_in_generator, real_images):
    extractor = load_extractor(str(tiny_extractor_dir))
    full = compute_reference(real_images, extractor, "legacy", dataset="toy", split="test")
    stats = FeatureStats.from_features(np.zeros((3, full.mu.shape[0])), keep=0)
    old = ReferenceStats(full.mu, full.sigma, stats.features,
                         {k: v for k, v in full.provenance.items() if k != "feature_samples"})
    with pytest.raises(ReferenceFileError, match="remake it with `ganhub stats toy --split test"):
        evaluate(stand_in_generator, reference=old, metrics=("recall",), num_samples=90,
                 extractor=extractor)


def test_ppl_through_evaluate_matches_a_direct_computation(tiny_extractor_dir, stand_in_generator):
    extractor = load_extractor(str(tiny_extractor_dir))
    result = evaluate(stand_in_generator, metrics="ppl", seed=2, extractor=extractor, ppl_samples=30)
    direct = perceptual_path_length(stand_in_generator, lambda x: extractor(x, "legacy"), 30, seed=2,
                                    progress=False)
    assert result["ppl"] == pytest.approx(direct["ppl"], rel=1e-9)
    ppl = result["protocol"]["ppl"]
    assert ppl["num_samples"] == 30 and ppl["epsilon"] == 1e-4 and ppl["interpolation"] == "lerp"
    assert ppl["feature_network"]["extractor_id"] == extractor.id


def test_bad_ppl_sample_count_fails_before_any_work(stand_in_generator):
    with pytest.raises(ganhub.GanhubError, match="ppl_samples"):
        evaluate(stand_in_generator, metrics="ppl", ppl_samples=0)
    assert stand_in_generator.calls == 0


def test_cli_prints_the_new_metrics(tiny_extractor_dir, stand_in_generator, real_images, tmp_path,
                                    monkeypatch, capsys):
    np.savez(tmp_path / "real.npz", images=real_images)
    ref = tmp_path / "ref.npz"
    assert main(["stats", str(tmp_path / "real.npz"), "-n", "90", "-o", str(ref),
                 "--extractor", str(tiny_extractor_dir)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    args = ["evaluate", "stand-in", "--reference", str(ref), "-n", "90", "--extractor",
            str(tiny_extractor_dir), "--metrics", "precision,recall,density,coverage,ppl",
            "--ppl-samples", "12"]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(0 <= out[k] for k in PRDC) and out["ppl"] > 0
    assert out["protocol"]["ppl"]["num_samples"] == 12
    assert main(args) == 0
    table = capsys.readouterr().out
    for key in PRDC + ("ppl",):
        assert f"\n{key} " in table
    assert "12 samples" in table  # the PPL sample count is said in the output


def test_table_rows_carry_the_new_metrics(tiny_extractor_dir, stand_in_generator, real_images,
                                          monkeypatch):
    from ganhub.metrics import reevaluate
    extractor = load_extractor(str(tiny_extractor_dir))
    reference = compute_reference(real_images, extractor, "legacy", dataset="toy", split="test")
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    row = reevaluate.evaluate_entry({"name": "lab/stand-in", "dataset": "toy"}, reference=reference,
                                    metrics=("fid", "precision", "recall"), num_samples=90, seed=4,
                                    extractor=extractor)
    direct = evaluate(stand_in_generator, reference, ("fid", "precision", "recall"), 90, 4, extractor)
    assert row["measured_precision"] == f"{direct['precision']:.4f}"
    assert row["measured_recall"] == f"{direct['recall']:.4f}"
    assert "measured_density" not in row
    table = reevaluate.markdown([row])
    head = table.splitlines()[0]
    assert "| precision | recall |" in head and "density" not in head
    assert f"| {row['measured_precision']} | {row['measured_recall']} |" in table
    assert "precision" not in reevaluate.markdown([{"module": "m", "status": "ok"}])


def test_a_table_begun_before_the_new_columns_still_resumes(tmp_path):
    import csv
    from ganhub.metrics import reevaluate
    path = tmp_path / "table.csv"
    old_columns = reevaluate.COLUMNS[:reevaluate.COLUMNS.index("status") + 1]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, old_columns)
        writer.writeheader()
        writer.writerow({"module": "a", "measured_fid": "1.0000", "status": "ok"})
    reevaluate._append(path, {"module": "b", "measured_fid": "2.0000", "status": "ok",
                              "measured_precision": "0.5000"})
    rows = reevaluate.read_rows(path)
    assert set(rows) == {"a", "b"} and rows["b"]["measured_fid"] == "2.0000"
