"""The study: Table 1a/1b spaces, the trial runner (min score over checkpoints), analysis."""
import itertools
import json
from math import comb

import numpy as np
import pytest

from ganhub.training import Config
from ganhub.study import analysis, runner, space


def test_table_1a_is_the_recalled_24_point_grid():
    grid = space.table_1a("wgan_gp")
    assert len(grid) == 24
    assert {(g["learning_rate"], g["penalty_lambda"]) for g in grid} == set(
        itertools.product((2e-4, 1e-4, 1e-3), (1.0, 10.0)))
    assert {(g["beta1"], g["beta2"], g["disc_iters"]) for g in grid} == {
        (0.5, 0.9, 5), (0.5, 0.999, 1), (0.5, 0.999, 5), (0.9, 0.999, 5)}
    assert len(space.table_1a("none")) == 12   # λ is irrelevant without a penalty
    for g in grid:
        Config(**g)  # every grid point is a valid config


@pytest.mark.parametrize("penalty,lam_range", [("none", None), ("dragan", (0.1, 100)), ("l2", (1e-4, 10))])
def test_table_1b_sampling_stays_in_range_and_is_log_uniform(penalty, lam_range):
    table = space.table_1b(penalty)
    settings = space.sample(table, 400, seed=1, penalty=penalty)
    assert all(space.in_space(s, table) for s in settings)
    lrs = np.log10([s["learning_rate"] for s in settings])
    assert lrs.min() < -4.7 and lrs.max() > -2.3 and abs(np.median(lrs) + 3.5) < 0.3  # log-uniform
    assert {s["disc_iters"] for s in settings} == {1, 2, 3, 4, 5}
    if lam_range:
        lams = [s["penalty_lambda"] for s in settings]
        assert lam_range[0] <= min(lams) and max(lams) <= lam_range[1]
    Config(**settings[0])


def test_expected_min_matches_brute_force_over_subsets():
    x = [30.0, 25.0, 41.0, 28.0, 33.0, 26.5]
    for k in range(1, 7):
        brute = np.mean([min(c) for c in itertools.combinations(x, k)])
        assert analysis.expected_min(x, k) == pytest.approx(brute)
        assert len(list(itertools.combinations(x, k))) == comb(6, k)


def test_budget_curve_decreases_to_the_best_run():
    rng = np.random.default_rng(0)
    scores = rng.normal(40, 8, size=50)
    curve = analysis.budget_curve(scores, n_boot=300)
    assert curve["mean"][0] == pytest.approx(scores.mean())
    assert curve["mean"][-1] == pytest.approx(scores.min())
    assert np.all(np.diff(curve["mean"]) <= 1e-9)
    # the band is made of running minima of bootstrap draws: non-increasing too
    assert np.all(np.diff(curve["low"]) <= 0) and np.all(np.diff(curve["high"]) <= 0)
    assert all(lo <= m + 1e-9 and m <= hi + 1.5 for lo, m, hi in
               zip(curve["low"], curve["mean"], curve["high"]))
    np.testing.assert_array_equal(analysis.top_fraction(scores, 0.1), np.sort(scores)[:5])
    np.testing.assert_array_equal(analysis.top_fraction(scores, 0.05, at_least=4), np.sort(scores)[:4])


def test_expected_min_of_thousands_of_trials_does_not_overflow():
    # E[min of k draws without replacement from 0..n-1] = (n - k) / (k + 1)
    n = 5000
    for k in (1, 3, 40, 2500):
        assert analysis.expected_min(np.arange(n, dtype=float), k) == pytest.approx((n - k) / (k + 1))


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(1)
    groups = {"NS/SN": rng.normal(30, 3, 20), "WGAN/GP": rng.normal(38, 6, 20)}
    box = analysis.plot_distributions(groups, tmp_path / "fid.png")
    curves = {k: analysis.budget_curve(v, n_boot=50) for k, v in groups.items()}
    budget = analysis.plot_budget_curves(curves, tmp_path / "budget.png")
    for path in (box, budget):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_run_trial_scores_every_checkpoint_keeps_the_min_and_resumes(tmp_path, fake_fashion_dir,
                                                                     eager_functions):
    config = Config(data_dir=str(fake_fashion_dir), width=0.0625, batch_size=8, z_dim=8, steps=2,
                    checkpoint_every=1, keep_checkpoints=5)
    trial = runner.Trial("t0", config, tmp_path / "t0", {"learning_rate": 2e-4})
    calls = []

    def evaluate(model_dir, checkpoint):
        step = int(checkpoint.rsplit("-", 1)[1])
        calls.append(step)
        return {0: 50.0, 1: 30.0, 2: float("nan")}[step]

    result = runner.run_trial(trial, evaluate)
    assert sorted(calls) == [0, 1, 2]
    assert result["scores"] == {0: 50.0, 1: 30.0, 2: runner.NAN_SCORE}
    assert (result["value"], result["best_step"]) == (30.0, 1)
    assert float((tmp_path / "t0" / "value").read_text()) == 30.0
    # rerun: training is complete and scored checkpoints are not evaluated again
    again = runner.run_trial(trial, evaluate)
    assert sorted(calls) == [0, 1, 2] and again["value"] == 30.0
    assert analysis.run_scores(tmp_path) == [(json.loads((tmp_path / "t0" / "trial.json").read_text()), 30.0)]


def test_checkpoint_generator_serves_the_metrics_interface(trained_dir):
    from ganhub.study.evaluators import CheckpointGenerator
    gen = CheckpointGenerator(trained_dir)
    z = gen.sample_latents(5, seed=3)
    np.testing.assert_array_equal(z, gen.sample_latents(5, seed=3))
    assert z.shape == (5, gen.z_dim) and z.min() >= -1 and z.max() <= 1
    images = gen(z)
    assert images.shape == (5, *gen.image_shape) == (5, 32, 32, 1)
    assert images.min() >= 0 and images.max() <= 1


def test_python_m_ganhub_study_says_where_the_old_commands_moved(capsys):
    from ganhub.study.__main__ import main
    assert main(["analyze", "runs/a"]) == 2
    assert "ganhub study report NAME -o DIR" in capsys.readouterr().err
    assert main(["bayes", "--n", "3"]) == 2
    assert '"search": "gp"' in capsys.readouterr().err


def test_drop_checkpoints_keeps_the_best_loadable_and_is_idempotent(tmp_path, trained_dir):
    import shutil

    from ganhub.study.trial import drop_checkpoints
    from ganhub.training import load_generator
    run = tmp_path / "run"
    shutil.copytree(trained_dir, run)
    steps = [s for s, _ in runner.checkpoints(run)]
    assert len(steps) >= 2 and 2 in steps
    for _ in range(2):
        drop_checkpoints(run, 2)
        assert [s for s, _ in runner.checkpoints(run)] == [2]
        assert {p.name.split(".")[0] for p in (run / "checkpoints").glob("ckpt-*")} == {"ckpt-2"}
    _, _, state = load_generator(run, weights="raw")
    assert state["step"] == 2


def test_a_retried_trial_with_a_result_only_finishes_the_clean_up(tmp_path, trained_dir):
    """Killed after result.json and before the clean-up: the retry neither trains nor scores."""
    import shutil

    from ganhub.fileio import write_json_atomic
    from ganhub.study import trial
    run = tmp_path / "run"
    shutil.copytree(trained_dir, run)
    write_json_atomic(run / trial.RESULT_FILE, {
        "value": 30.0, "best_step": 2, "checkpoint_scores": {"0": 50.0, "2": 30.0},
        "diverged": None, "module": str(tmp_path / "m"), "also": {}, "timings": {}})

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    result = trial.run(None, run, tmp_path / "m", scorers=None, scoring={}, name="x",
                       study_info={}, train_fn=no_training)
    assert result["checkpoint_scores"] == {0: 50.0, 2: 30.0} and result["value"] == 30.0
    assert [s for s, _ in runner.checkpoints(run)] == [2]


def test_a_diverged_checkpoint_scores_nan_through_the_real_evaluator(monkeypatch):
    """NaN images are a NonFiniteInputError in ganhub.metrics; the study's evaluator turns exactly
    that into NaN (recorded as 31337), and lets every other bad input through as an error."""
    import math

    import numpy as np

    from ganhub.study import evaluators

    class Stub:
        z_dim, image_shape, name = 4, (16, 16, 1), "stub"
        z_distribution = {"name": "uniform", "low": -1.0, "high": 1.0}
        fill = float("nan")

        def __init__(self, model_dir, checkpoint=None, weights="raw"):
            self.metadata = {"name": self.name}

        def sample_latents(self, n, seed):
            return np.zeros((n, self.z_dim), np.float32)

        def __call__(self, z):
            return np.full((len(z), *self.image_shape), self.fill, np.float32)

    monkeypatch.setattr(evaluators, "CheckpointGenerator", Stub)
    evaluate = evaluators.metrics_evaluator(None, "ms_ssim", num_samples=128, seed=0)
    assert math.isnan(evaluate("run", "ckpt-1"))
    Stub.fill = 0.5   # finite images score as usual (identical images: MS-SSIM 1)
    assert evaluators.metrics_evaluator(None, "ms_ssim", num_samples=128, seed=0)(
        "run", "ckpt-1") == pytest.approx(1.0)
