"""The study spec (checked before TensorFlow) and the scheduling rules workers share through the
storage: budget = finished trials, no overshoot by concurrent workers, duplicates skipped, seed
re-runs of the best setting."""
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from optuna.trial import TrialState

from ganhub.errors import ConfigError
from ganhub.study import schedule
from ganhub.study import spec as specs

W, R, C, F, P = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAIL,
                 TrialState.PRUNED)


def T(number, state, value=None, params=None, **attrs):
    return SimpleNamespace(number=number, state=state, value=value, params=params or {},
                           user_attrs=attrs)


def gp_spec(**kw):
    return specs.normalize({"search": "gp", "budget": 3, "scoring": {"reference": "x"}, **kw})


VARIANT = {"loss": "ns", "penalty": "none", "d_norm": "spectral_norm"}


def test_spec_defaults_and_variants_product():
    spec = specs.normalize({"variants": {"loss": ["ns", "wgan"], "penalty": ["none", "wgan_gp"]},
                            "scoring": {"reference": "cifar10-test", "also": ["kid"]}})
    assert spec["search"] == "grid" and spec["seeds"] == [0] and spec["best_seeds"] == 5
    labels = [specs.variant_label(v) for v in specs.variants(spec)]
    assert labels == ["ns-none-spectral_norm", "ns-wgan_gp-spectral_norm",
                      "wgan-none-spectral_norm", "wgan-wgan_gp-spectral_norm"]
    # Table 1a: 12 settings without a penalty, 24 with one (λ ∈ {1, 10})
    assert [specs.search_budget(spec, v) for v in specs.variants(spec)] == [12, 24, 12, 24]
    assert spec["scoring"]["also"] == ["kid"] and spec["scoring"]["num_samples"] == 10_000


def test_kid_is_measured_beside_fid_when_samples_are_few():
    few = specs.normalize({"scoring": {"reference": "x", "num_samples": 2000}})
    assert few["scoring"]["also"] == ["kid"]
    assert specs.normalize({"scoring": {"reference": "x"}})["scoring"]["also"] == []
    assert specs.normalize({"scoring": {"reference": "x", "num_samples": 2000,
                                        "also": []}})["scoring"]["also"] == []   # as asked


@pytest.mark.parametrize("bad,words", [
    ({"search": "bayes"}, "search must be one of grid, gp, random"),
    ({"search": "gp"}, "give a budget"),
    ({"budget": 0}, "budget must be a positive integer"),
    ({"config": {"loss": "wgan"}}, "list them under variants"),
    ({"variants": {"norm": ["sn"]}}, "variants must be an object with keys among"),
    ({"seeds": [0, 0]}, "distinct integers"),
    ({"scoring": {}}, "scoring.reference is missing"),
    ({"heartbeat_seconds": 10, "grace_seconds": 15}, "at least twice heartbeat_seconds"),
    ({"grid": [{"seed": 3}]}, "grid settings may not set seed"),
    ({"budgett": 3}, "unknown key(s) budgett"),
])
def test_bad_specs_name_the_problem(bad, words):
    spec = {"scoring": {"reference": "x"}, **bad}
    with pytest.raises(ConfigError) as info:
        specs.normalize(spec)
    assert words in str(info.value)


def test_grid_settings_times_seeds_cut_to_the_budget():
    spec = specs.normalize({"grid": [{"learning_rate": 1e-3}, {"learning_rate": 1e-4}],
                            "seeds": [0, 1, 2], "budget": 4, "scoring": {"reference": "x"}})
    assert specs.search_settings(spec, VARIANT) == [
        ({"learning_rate": 1e-3}, 0), ({"learning_rate": 1e-3}, 1), ({"learning_rate": 1e-3}, 2),
        ({"learning_rate": 1e-4}, 0)]


def test_fresh_trials_beyond_the_budget_are_surplus_whatever_the_timing():
    spec = gp_spec()
    trials = [T(0, C, 30.0, phase="search"), T(1, R), T(2, P, surplus="x"), T(3, R)]
    # trial 3 sees two live search trials below it (0 and 1; 2 is surplus): admitted
    assert schedule.admit(spec, VARIANT, 3, {}, trials) is None
    # a fourth concurrent fresh trial has three below it: surplus, so the budget is not overshot
    assert schedule.admit(spec, VARIANT, 4, {}, trials + [T(4, R)])[0] == "surplus"
    # a queued copy of a failed trial (it has a phase) always runs
    assert schedule.admit(spec, VARIANT, 5, {"phase": "search"}, trials) is None
    grid = specs.normalize({"scoring": {"reference": "x"}})
    assert schedule.admit(grid, VARIANT, 0, {}, [])[0] == "surplus"  # no queued grid trial left


def test_an_enqueued_key_runs_once():
    spec = gp_spec()
    trials = [T(5, F, key="seeds:0:1"), T(6, C, 1.0, key="seeds:0:1"), T(7, R, key="seeds:0:1")]
    assert schedule.admit(spec, VARIANT, 7, {"phase": "seeds", "key": "seeds:0:1"}, trials) == (
        "duplicate_of", 6)
    # a failed lower trial does not block its retry
    assert schedule.admit(spec, VARIANT, 6, {"phase": "seeds", "key": "seeds:0:1"}, trials) is None


def test_next_action_waits_on_running_trials_then_queues_the_seed_reruns():
    spec = gp_spec(best_seeds=3)
    assert schedule.next_action(spec, VARIANT, []) == schedule.RUN
    running = [T(0, C, 30.0, {"learning_rate": 1e-3}, phase="search", seed=0),
               T(1, C, 20.0, {"learning_rate": 2e-4}, phase="search", seed=0),
               T(2, R, phase="search")]
    assert schedule.next_action(spec, VARIANT, running) == schedule.WAIT  # 2 may still die
    failed = running[:2] + [T(2, F, phase="search"), T(3, W, phase="search")]
    assert schedule.next_action(spec, VARIANT, failed) == schedule.RUN    # its queued copy
    done = running[:2] + [T(2, C, 25.0, {"learning_rate": 5e-4}, phase="search", seed=0)]
    assert schedule.next_action(spec, VARIANT, done) == schedule.ENQUEUE_SEEDS
    reruns = schedule.seed_reruns(spec, done)
    assert [(p, a["seed"], a["rerun_of"]) for p, a in reruns] == [
        ({"learning_rate": 2e-4}, 1, 1), ({"learning_rate": 2e-4}, 2, 1)]
    queued = done + [T(4 + i, C, 21.0, p, **a) for i, (p, a) in enumerate(reruns)]
    assert schedule.next_action(spec, VARIANT, queued) == schedule.DONE


def test_grid_seeds_already_run_count_towards_best_seeds():
    spec = specs.normalize({"grid": [{"learning_rate": 1e-3}], "seeds": [0, 4], "best_seeds": 3,
                            "scoring": {"reference": "x"}})
    s = {"learning_rate": 1e-3}
    trials = [T(0, C, 30.0, phase="search", setting=s, seed=0),
              T(1, C, 31.0, phase="search", setting=s, seed=4)]
    (params, attrs), = schedule.seed_reruns(spec, trials)
    assert params == {} and attrs["setting"] == s and attrs["seed"] == 1


def test_cli_checks_the_spec_before_importing_tensorflow(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"search": "gp", "scoring": {"reference": "x"}}))
    code = ("import sys\nfrom ganhub.cli import main\nrc = main(['study', 'create', 'a', "
            f"{str(spec)!r}, '--storage', {str(tmp_path / 'db.sqlite')!r}])\n"
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'\nsys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"ganhub study: error: {spec}: give a budget (finished trials per variant) for search \"gp\""]
    assert not (tmp_path / "db.sqlite").exists()   # nothing written
    out = subprocess.run([sys.executable, "-m", "ganhub", "study", "status", "nope", "--storage",
                          str(tmp_path / "none.db")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "no study database at" in out.stderr
    assert "Traceback" not in out.stderr


def test_storage_errors_are_one_line_and_hide_the_password(tmp_path, capsys):
    import socket

    from ganhub.cli import main
    from ganhub.study import storage
    db = tmp_path / "s.db"
    storage.open_storage(storage.storage_url(db))   # an empty optuna database
    assert main(["study", "status", "nope", "--storage", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no study named 'nope'" in err
    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["study", "status", "x", "--storage",
                 f"postgresql://me:s3cret@127.0.0.1:{port}/db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open study storage postgresql://me:***@" in err
    assert "s3cret" not in err
    (tmp_path / "junk.db").write_text("not a database")
    assert main(["study", "report", "x", "-o", str(tmp_path / "r"), "--storage",
                 str(tmp_path / "junk.db")]) == 1
    assert "file is not a database" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_overhead_benchmark_runs_against_the_current_worker(tmp_path):
    """benchmarks/study.py drives the real Worker with instant trials; keep it runnable."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "study.py"
    spec = importlib.util.spec_from_file_location("bench_study", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.bench_scheduling(f"sqlite:///{tmp_path / 'b.db'}", 4, "random", tmp_path)
    assert row["trials"] == 4 and 0 < row["per_trial_s"] < 30


def test_failed_queued_trials_are_retried_until_max_retry():
    spec = gp_spec(max_retry=2)
    run = {"phase": "search", "setting": {"learning_rate": 1e-3}, "seed": 0, "run_dir": "runs/a/t1"}
    # grid:0 failed once (no live copy): queued again with its setting, seed and run folder
    # grid:1 failed but has a heartbeat copy waiting; grid:2 finished after a failure
    # grid:3 failed 3 times > max_retry 2: given up; a fresh sampled trial has no key: not queued
    trials = [T(0, F, {"x": 1}, key="grid:0:0", worker="h:1", **run),
              T(1, F, key="grid:1:0"), T(2, W, key="grid:1:0"),
              T(3, F, key="grid:2:0"), T(4, C, 1.0, key="grid:2:0"),
              T(5, F, key="grid:3:0"), T(6, F, key="grid:3:0"), T(7, F, key="grid:3:0"),
              T(8, F, phase="search"), T(9, F, key="seeds:4:1", duplicate_of=3)]
    trials[0].params = {"x": 1}
    again, exhausted = schedule.retries(spec, trials)
    assert again == [({"x": 1}, {**run, "key": "grid:0:0"})]   # the worker's host:pid is not kept
    assert exhausted == [("grid:3:0", 3)]
    # the retry of the latest failure: a second failure of grid:0 still retries (2 <= max_retry)
    again, _ = schedule.retries(spec, trials + [T(10, F, key="grid:0:0", run_dir="runs/a/t1")])
    assert again == [({}, {"key": "grid:0:0", "run_dir": "runs/a/t1"})]
    again, exhausted = schedule.retries(spec, trials + [T(10, F, key="grid:0:0"),
                                                        T(11, F, key="grid:0:0")])
    assert again == [] and sorted(exhausted) == [("grid:0:0", 3), ("grid:3:0", 3)]
    # the worker's next step: RETRY while something is to be queued again, never once given up
    assert schedule.next_action(spec, VARIANT, trials) == schedule.RETRY
    given_up = trials + [T(10, F, key="grid:0:0"), T(11, F, key="grid:0:0")]
    assert schedule.next_action(spec, VARIANT, given_up) != schedule.RETRY
