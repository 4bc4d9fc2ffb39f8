"""The study: Table 1a/1b spaces, the trial runner (min score over checkpoints), search, analysis."""
import itertools
import json
from math import comb

import numpy as np
import pytest

from ganhub.training import Config
from ganhub.study import analysis, runner, search, space


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
    assert all(lo <= m + 1e-9 and m <= hi + 1.5 for lo, m, hi in
               zip(curve["low"], curve["mean"], curve["high"]))
    np.testing.assert_array_equal(analysis.top_fraction(scores, 0.1), np.sort(scores)[:5])


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


def _fake_train(config, model_dir, progress=False):
    """Writes a checkpoint index with steps 0 and 10 (no TensorFlow training: search plumbing)."""
    ckpt = model_dir / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    paths = [str(ckpt / f"ckpt-{s}") for s in (0, 10)]
    (ckpt / "checkpoint").write_text(
        f'model_checkpoint_path: "{paths[-1]}"\n'
        + "".join(f'all_model_checkpoint_paths: "{p}"\n' for p in paths))


def _lr_score(model_dir, checkpoint):
    config = json.loads((runner.Path(model_dir) / "trial.json").read_text())["config"]
    bonus = 0.0 if checkpoint.endswith("-10") else 5.0
    return 20.0 + 10 * (np.log10(config["learning_rate"]) + 3.5) ** 2 + bonus


def test_grid_and_random_trials_carry_settings_and_seeds(tmp_path):
    base = Config()
    grid = search.grid_trials(base, tmp_path, "wgan_gp", seeds=(0, 1))
    assert len(grid) == 48 and len({t.model_dir for t in grid}) == 48
    assert grid[1].config.seed == 1 and grid[1].config.penalty == "wgan_gp"
    # all checkpoints are kept for the min-over-checkpoints score: 0, 5k … 100k
    assert grid[0].config.keep_checkpoints >= base.steps // base.checkpoint_every + 1 == 21
    rand = search.random_trials(base, tmp_path, 5, "l2", sample_seed=3)
    assert all(space.in_space(t.setting, space.table_1b("l2")) for t in rand)
    results = runner.run_trials(grid[:2], _lr_score, train_fn=_fake_train)
    assert [r["best_step"] for r in results] == [10, 10]


def test_bayesian_search_runs_trials_through_the_runner(tmp_path):
    results, sampler = search.bayesian_search(Config(), tmp_path, 6, _lr_score, penalty="dragan",
                                              train_fn=_fake_train)
    try:
        import torch  # noqa: F401
        expected = "gp"
    except ImportError:
        expected = "tpe"   # the documented fallback without torch
    assert sampler == expected
    assert len(results) == 6
    table = space.table_1b("dragan")
    for r in results:
        assert space.in_space(r["setting"], table) and r["best_step"] == 10
        assert r["value"] == pytest.approx(20 + 10 * (np.log10(r["setting"]["learning_rate"]) + 3.5) ** 2)


def test_checkpoint_generator_serves_the_metrics_interface(trained_dir):
    from ganhub.study.evaluators import CheckpointGenerator
    gen = CheckpointGenerator(trained_dir)
    z = gen.sample_latents(5, seed=3)
    np.testing.assert_array_equal(z, gen.sample_latents(5, seed=3))
    assert z.shape == (5, gen.z_dim) and z.min() >= -1 and z.max() <= 1
    images = gen(z)
    assert images.shape == (5, *gen.image_shape) == (5, 32, 32, 1)
    assert images.min() >= 0 and images.max() <= 1


def test_study_cli_analyze_writes_figures_and_summary(tmp_path, capsys):
    from ganhub.study.__main__ import main
    for group, values in (("a", [30.0, 25.0, 40.0]), ("b", [50.0, 45.0])):
        for i, v in enumerate(values):
            d = tmp_path / group / f"t{i}"
            d.mkdir(parents=True)
            (d / "value").write_text(f"{v}\n")
    assert main(["analyze", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "fig")]) == 0
    summary = json.loads((tmp_path / "fig" / "summary.json").read_text())
    assert summary["a"]["best"] == 25.0 and summary["b"]["runs"] == 2
    assert summary["a"]["budget_curve"]["mean"][0] == pytest.approx(95 / 3)
    assert (tmp_path / "fig" / "budget_curves.png").exists()
