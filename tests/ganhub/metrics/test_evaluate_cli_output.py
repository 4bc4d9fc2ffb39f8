"""Issue 16, items 7 and 8: `ganhub evaluate` shows a progress total, says in --help what 10k
images cost on a CPU, and prints a protocol note once for all the metrics it applies to."""
import re

import numpy as np
import pytest

import ganhub
from ganhub.cli import main
from ganhub.metrics import load_extractor
from ganhub.metrics.evaluation import compute_reference


@pytest.fixture
def reference_npz(tmp_path, tiny_extractor_dir):
    images = np.random.default_rng(5).integers(0, 256, size=(64, 12, 12, 3), dtype=np.uint8)
    reference = compute_reference(images, load_extractor(str(tiny_extractor_dir)), "legacy",
                                  dataset="noise", split="test")
    return reference.save(tmp_path / "ref.npz")


def test_progress_bar_has_a_total(tiny_extractor_dir, stand_in_generator, reference_npz,
                                  monkeypatch, capsys):
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    monkeypatch.delenv("GANHUB_DISABLE_PROGRESS")
    assert main(["evaluate", "stand-in", "-r", str(reference_npz), "-n", "40", "--metrics",
                 "fid,kid", "--extractor", str(tiny_extractor_dir)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"generate and score: +\d+%\|.*\| \d+/40 ", err), err  # a total, so an ETA


def test_a_protocol_note_is_printed_once_for_every_metric_it_concerns(
        tiny_extractor_dir, stand_in_generator, reference_npz, monkeypatch, capsys):
    protocol = {"num_samples": 10000, "extractor_id": "fid_inception_offline", "resize": "legacy"}
    stand_in_generator.metadata["scores"] = {
        "fid": {"value": 12.3, "protocol": protocol}, "kid": {"value": 0.004, "protocol": protocol}}
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    assert main(["evaluate", "stand-in", "-r", str(reference_npz), "-n", "40", "--metrics",
                 "fid,kid", "--extractor", str(tiny_extractor_dir)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: fid and kid were reported under another"), out
    assert out.count("num_samples: reported 10000, this run 40") == 1


def test_help_says_what_ten_thousand_images_cost_and_that_kid_is_unbiased(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "images/s" in text and "-n 10000 takes about" in text and "min" in text
    assert "biases FID upwards" in text and "KID is unbiased" in text


def test_python_api_progress_bars_have_totals(tiny_extractor_dir, stand_in_generator,
                                              reference_npz, capsys):
    """ganhub.metrics.evaluate (what the study's workers run) counts generated images to a total."""
    from ganhub.metrics import evaluate
    evaluate(stand_in_generator, reference=str(reference_npz), metrics=("fid",), num_samples=40,
             extractor=str(tiny_extractor_dir), progress=True)
    err = capsys.readouterr().err
    assert re.search(r"generated: +\d+%\|.*\| \d+/40 ", err), err
