"""Scores measured by `ganhub evaluate` written into an export's metadata (export.scores)."""
import json

import pytest

from ganhub.export.scores import scores_from_evaluation
from ganhub.cli import main
from ganhub.errors import BadInputError


@pytest.fixture(scope="module")
def evaluation(exported, tmp_path_factory):
    """`ganhub evaluate EXPORT --metrics ms_ssim --json` (MS-SSIM needs no Inception network)."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["evaluate", str(exported["path"]), "--metrics", "ms_ssim", "--json"]) == 0
    path = tmp_path_factory.mktemp("eval") / "eval.json"
    path.write_text(out.getvalue())
    return path


def test_export_writes_the_scores_of_an_evaluation_of_the_same_checkpoint(
        evaluation, trained_dir, tmp_path, capsys):
    measured = json.loads(evaluation.read_text())
    assert 0.0 < measured["ms_ssim"] < 1.0
    assert measured["protocol"]["generator"]["training_steps"] == 3
    out = tmp_path / "scored"
    assert main(["export", str(trained_dir), str(out), "--scores", str(evaluation)]) == 0
    meta = json.loads((out / "assets" / "ganhub.json").read_text())
    score = meta["scores"]["ms_ssim"]
    assert score["value"] == measured["ms_ssim"] and score["source"] == "measured"
    assert score["protocol"] == measured["protocol"] and "std" not in score
    card = (tmp_path / "scored.md").read_text()
    assert f"ms_ssim: {measured['ms_ssim']:.4g}" in card and "seed 0" in card


def test_scores_of_other_weights_are_refused_and_nothing_is_written(evaluation, trained_dir, tmp_path,
                                                                    capsys):
    other = json.loads(evaluation.read_text())
    other["protocol"]["generator"]["training_steps"] = 4
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    out = tmp_path / "scored"
    assert main(["export", str(trained_dir), str(out), "--scores", str(path)]) == 1
    err = capsys.readouterr().err
    assert "step 4" in err and "step 3" in err
    assert not out.exists() and not (tmp_path / "scored.tar.gz").exists()


@pytest.mark.parametrize("content, message", [
    ("not json", "not the JSON"),
    ('{"fid": 3.0}', "no 'protocol'"),
])
def test_unreadable_evaluation_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "eval.json"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        scores_from_evaluation(path)
    with pytest.raises(BadInputError, match="no such evaluation file"):
        scores_from_evaluation(tmp_path / "missing.json")


def test_scores_keep_value_std_and_protocol_and_refuse_non_finite_values():
    protocol = {"num_samples": 10, "metrics": ["fid", "kid"],
                "generator": {"training_steps": 7, "training_config": {"a": 1}}}
    metadata = {"training": {"steps": 7, "config": {"a": 1}}}
    scores = scores_from_evaluation({"fid": 12.0, "kid": 0.01, "kid_std": 0.002, "protocol": protocol},
                                    metadata)
    assert scores == {
        "fid": {"value": 12.0, "protocol": protocol, "source": "measured"},
        "kid": {"value": 0.01, "std": 0.002, "protocol": protocol, "source": "measured"},
    }
    with pytest.raises(BadInputError, match="another config"):
        scores_from_evaluation({"fid": 1.0, "protocol": protocol},
                               {"training": {"steps": 7, "config": {"a": 2}}})
    with pytest.raises(BadInputError, match="not a finite number"):
        scores_from_evaluation({"fid": float("nan"), "protocol": protocol})
    with pytest.raises(BadInputError, match="none of"):
        scores_from_evaluation({"protocol": protocol})
    with pytest.raises(BadInputError, match="which metrics it measured"):
        scores_from_evaluation({"fid": 1.0, "protocol": {"num_samples": 10}})
    with pytest.raises(BadInputError, match="which weights"):
        scores_from_evaluation({"fid": 1.0, "protocol": {"num_samples": 10}}, metadata)
