"""The study scores checkpoints with the real ganhub.metrics evaluator, any number of times in one
process (calling ganhub.metrics.evaluate used to replace it by its submodule: the second checkpoint
got "'module' object is not callable")."""
import sys
from pathlib import Path

import numpy as np
import pytest

from ganhub.study import runner
from ganhub.study.evaluators import metrics_evaluator
from ganhub.training import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ganhub" / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402  (a shared test helper, not a conftest)


@pytest.fixture(scope="module")
def tiny_extractor_dir(tmp_path_factory):
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")


@pytest.mark.slow
def test_study_scores_three_checkpoints_twice_with_real_fid(tmp_path, fake_fashion_dir, monkeypatch,
                                                           tiny_extractor_dir, eager_functions):
    import ganhub
    from ganhub.export import export_module
    from ganhub.metrics import evaluate

    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(fake_fashion_dir))
    config = Config(data_dir=str(fake_fashion_dir), width=0.0625, batch_size=8, z_dim=8, steps=2,
                    checkpoint_every=1, keep_checkpoints=5)
    results = []
    for run in ("a", "b"):  # two trials, one process: every checkpoint through the same evaluator
        evaluator = metrics_evaluator("fashion_mnist_32-test", "fid", num_samples=24, seed=5,
                                      extractor=str(tiny_extractor_dir))
        trial = runner.Trial(run, config, tmp_path / run)
        results.append(runner.run_trial(trial, evaluator))
    for result in results:
        assert sorted(result["scores"]) == [0, 1, 2]
        values = list(result["scores"].values())
        assert all(np.isfinite(v) and 0 < v < runner.NAN_SCORE for v in values)
        assert len(set(values)) == 3   # other weights, other scores
        assert result["value"] == min(values)
    # same config and seed: the same weights, so the same scores
    assert results[0]["scores"] == pytest.approx(results[1]["scores"], rel=1e-6)

    # The study's number for a checkpoint is what a user gets from its exported module.
    exported = export_module(tmp_path / "a", tmp_path / "m1", archive=False, weights="raw",
                             checkpoint=str(tmp_path / "a" / "checkpoints" / "ckpt-1"))
    assert exported["metadata"]["training"]["steps"] == 1
    user = evaluate(ganhub.load(str(tmp_path / "m1")), reference="fashion_mnist_32-test",
                    num_samples=24, seed=5, extractor=str(tiny_extractor_dir))
    assert user["fid"] == pytest.approx(results[0]["scores"][1], rel=1e-4)
