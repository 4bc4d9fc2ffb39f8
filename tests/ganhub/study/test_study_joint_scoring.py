"""A trial scores FID and KID from one pass over each checkpoint, and `scoring.from_step` leaves the
untrained step-0 checkpoint unscored (the landscape study's cost: one Inception pass per scored
checkpoint instead of one per checkpoint plus one for KID)."""
import sys
from pathlib import Path

import pytest

from ganhub.errors import ConfigError
from ganhub.study import spec as specs
from ganhub.study import trial as trials
from ganhub.training import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ganhub" / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402


def test_from_step_is_checked_and_defaults_to_every_checkpoint():
    base = {"scoring": {"reference": "fashion_mnist_32-test"}}
    assert specs.normalize(base)["scoring"]["from_step"] == 0
    assert specs.normalize({"scoring": {"reference": "x", "from_step": 1}})["scoring"]["from_step"] == 1
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ConfigError, match="from_step"):
            specs.normalize({"scoring": {"reference": "x", "from_step": bad}})


@pytest.mark.slow
def test_trial_scores_fid_and_kid_in_one_pass_from_step_1(tmp_path, fake_fashion_dir, monkeypatch,
                                                          eager_functions):
    import ganhub
    import ganhub.metrics as metrics

    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(fake_fashion_dir))
    extractor = str(write_tiny_extractor(tmp_path / "extractor"))
    scoring = specs.normalize({"scoring": {
        "reference": "fashion_mnist_32-test", "num_samples": 24, "seed": 5, "extractor": extractor,
        "also": ["kid"], "from_step": 1}})["scoring"]
    calls = []
    real = metrics.evaluate

    def counting(generator, **kwargs):
        calls.append((generator.metadata["training"]["steps"], tuple(kwargs["metrics"])))
        return real(generator, **kwargs)

    monkeypatch.setattr(metrics, "evaluate", counting)
    config = trials.trial_config(
        Config(data_dir=str(fake_fashion_dir), width=0.0625, batch_size=8, z_dim=8, steps=2,
               checkpoint_every=1), {"loss": "ns", "penalty": "none", "d_norm": "spectral_norm"},
        {}, 0)
    result = trials.run(config, tmp_path / "run", tmp_path / "module", trials.Scorers(scoring),
                        scoring, name="t", study_info={})
    # step 0 is saved but not scored; each scored checkpoint is one evaluate call for both metrics
    assert sorted(result["checkpoint_scores"]) == [1, 2]
    assert calls == [(1, ("fid", "kid")), (2, ("fid", "kid"))]
    # the numbers equal what a user measures on the exported module, metric by metric
    monkeypatch.setattr(metrics, "evaluate", real)
    module = ganhub.load(str(tmp_path / "module"))
    alone = {m: real(module, reference="fashion_mnist_32-test", metrics=(m,), num_samples=24,
                     seed=5, extractor=extractor)[m] for m in ("fid", "kid")}
    assert result["value"] == pytest.approx(alone["fid"], rel=1e-4)
    assert result["also"]["kid"] == pytest.approx(alone["kid"], rel=1e-4, abs=1e-7)
    assert module.metadata["training"]["steps"] == result["best_step"]
