"""`ganhub study` end to end in one process on SQLite: grid and GP searches with tiny real training
(width 1/16, 2 steps), the stand-in scorer (tests/ganhub/study/_study_standin.py) or the real
ganhub.metrics path with a tiny extractor; status, report (figures, budget curve) and publish (a
catalog that ganhub.load reads)."""
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from _study_helpers import tiny_spec, write_spec
from _study_standin import standin_value
from ganhub.cli import main as cli
from ganhub.study import space

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ganhub" / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402  (a shared test helper, not a conftest)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_extractor_dir(tmp_path_factory):
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")


def _trials(storage, name):
    """{variant label: [FrozenTrial]} read straight from optuna."""
    import optuna
    out = {}
    for s in optuna.get_all_study_summaries(f"sqlite:///{storage}", include_best_trial=False):
        if s.study_name.startswith(name + "/"):
            study = optuna.load_study(study_name=s.study_name, storage=f"sqlite:///{storage}")
            out[s.study_name.split("/", 1)[1]] = study.get_trials()
    return out


def _complete(trials):
    return [t for t in trials if t.state.name == "COMPLETE"]


@pytest.mark.slow
def test_grid_study_end_to_end(tmp_path, fake_fashion_dir, eager_functions, capsys, monkeypatch):
    from ganhub.study.worker import Worker
    spec = tiny_spec(fake_fashion_dir, variants={"loss": ["ns", "wgan"]}, best_seeds=2)
    db = tmp_path / "studies.db"
    assert cli(["study", "create", "g", str(write_spec(tmp_path / "spec.json", spec)),
                "--storage", str(db)]) == 0
    assert "2 variant(s), 4 search trial(s)" in capsys.readouterr().out
    assert cli(["study", "create", "g", str(tmp_path / "spec.json"), "--storage", str(db)]) == 1
    assert "study 'g' already exists" in capsys.readouterr().err

    finished = Worker("g", f"sqlite:///{db}", log=lambda m: None).run()
    assert finished == 6   # 2 variants x (2 grid settings + 1 re-run of the best with seed 1)
    trials = _trials(db, "g")
    assert sorted(trials) == ["ns-none-spectral_norm", "wgan-none-spectral_norm"]
    for label, ts in trials.items():
        done = _complete(ts)
        assert len(done) == len(ts) == 3
        for t in done:
            config = json.loads((tmp_path / "ganhub-study" / "g" / t.user_attrs["run_dir"]
                                 / "config.json").read_text())
            assert config["learning_rate"] == t.user_attrs["setting"]["learning_rate"]
            assert config["loss"] == label.split("-")[0] and config["seed"] == t.user_attrs["seed"]
            # every checkpoint scored, the min kept: the stand-in makes the last one best
            expected = {str(s): standin_value(config, s) for s in (0, 1, 2)}
            assert t.user_attrs["checkpoint_scores"] == pytest.approx(expected)
            assert t.value == pytest.approx(min(expected.values())) and t.user_attrs["best_step"] == 2
            # the best checkpoint is kept, the others dropped; the module carries the scores
            run_dir = tmp_path / "ganhub-study" / "g" / t.user_attrs["run_dir"]
            assert sorted(p.name.split(".")[0] for p in (run_dir / "checkpoints").glob("ckpt-*.index")) == ["ckpt-2"]
            meta = json.loads(open(f"{t.user_attrs['module']}/assets/ganhub.json").read())
            assert meta["training"]["steps"] == 2
            assert meta["scores"]["fid"]["value"] == pytest.approx(t.value)
            assert meta["scores"]["fid"]["protocol"]["checkpoint_scores"] == pytest.approx(expected)
        search = [t for t in done if t.user_attrs["phase"] == "search"]
        rerun, = [t for t in done if t.user_attrs["phase"] == "seeds"]
        best = min(search, key=lambda t: t.value)
        assert best.user_attrs["setting"] == {"learning_rate": 3e-4}   # closest to 10^-3.5
        assert rerun.user_attrs["setting"] == best.user_attrs["setting"]
        assert (rerun.user_attrs["seed"], rerun.user_attrs["rerun_of"]) == (1, best.number)

    assert cli(["study", "status", "g", "--storage", str(db), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(v["done"], v["left"], v["failed"]) for v in status["variants"]] == [(3, 0, 0)] * 2
    assert status["variants"][1]["best"] == pytest.approx(100 + standin_value(
        {"learning_rate": 3e-4, "steps": 2, "loss": "ns"}, 2))

    out = tmp_path / "report"
    assert cli(["study", "report", "g", "--storage", str(db), "-o", str(out)]) == 0
    for name in ("top5_fid.png", "budget_curve.png", "seed_spread.png"):
        assert (out / name).read_bytes()[:8] == PNG and (out / name).stat().st_size > 5000
    summary = json.loads((out / "summary.json").read_text())
    for label, s in summary["variants"].items():
        assert s["trials"] == 2
        curve = s["budget_curve"]
        assert np.all(np.diff(curve["mean"]) <= 1e-12) and curve["mean"][-1] == pytest.approx(s["best"])
    rows = list(csv.DictReader(open(out / "best.csv")))
    assert [r["variant"] for r in rows] == sorted(trials)
    assert float(rows[0]["median_fid_over_seeds"]) == pytest.approx(
        standin_value({"learning_rate": 3e-4, "steps": 2, "loss": "ns"}, 2))
    assert "| ns-none-spectral_norm |" in (out / "report.md").read_text()

    hub = tmp_path / "hub"
    assert cli(["study", "publish", "g", str(hub), "--storage", str(db)]) == 0
    catalog = json.loads((hub / "catalog.json").read_text())
    assert [e["name"] for e in catalog["models"]] == ["g-ns-none-spectral_norm",
                                                       "g-wgan-none-spectral_norm"]
    # `ganhub serve` serves the folder: the same names and archives as the catalog
    import threading
    import urllib.request

    from ganhub.hub.serve import Hub
    server = Hub(hub, port=0, samples=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"{server.url}/index.json", timeout=30) as response:
            served = json.loads(response.read())
    finally:
        server.close()
    assert {e["name"]: e["sha256"] for e in served["models"]} == {
        e["name"]: e["sha256"] for e in catalog["models"]}
    monkeypatch.setenv("GANHUB_CATALOGS", str(hub / "catalog.json"))
    import ganhub
    gen = ganhub.load("g-ns-none-spectral_norm")
    images = gen.sample(3, seed=0)
    assert images.shape == (3, 32, 32, 1) and images.dtype == np.uint8
    assert gen.metadata["scores"]["fid"]["value"] == pytest.approx(
        catalog["models"][0]["scores"]["fid"]["value"])


@pytest.mark.slow
def test_gp_study_searches_table_1b_with_optuna_gp(tmp_path, fake_fashion_dir, eager_functions,
                                                   monkeypatch):
    import optuna

    from ganhub.study import spec as specs
    from ganhub.study.worker import Worker, create
    calls = []
    original = optuna.samplers.GPSampler.sample_relative

    def counting(self, study, trial, search_space):
        result = original(self, study, trial, search_space)
        calls.append(dict(result))
        return result

    monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", counting)
    spec = specs.normalize(tiny_spec(fake_fashion_dir, search="gp", budget=4, grid=None,
                                     gp_startup_trials=2,
                                     variants={"penalty": ["wgan_gp"]}))
    db = tmp_path / "gp.db"
    create("gp", spec, f"sqlite:///{db}")
    assert Worker("gp", f"sqlite:///{db}", log=lambda m: None).run() == 4
    trials, = _trials(db, "gp").values()
    done = _complete(trials)
    assert len(done) == len(trials) == 4
    table = space.table_1b("wgan_gp")
    assert set(table) == {"learning_rate", "beta1", "beta2", "disc_iters", "penalty_lambda"}
    for t in done:
        assert t.params == t.user_attrs["setting"] and space.in_space(t.params, table)
        lr = t.params["learning_rate"]
        assert t.value == pytest.approx(20 + 10 * (math.log10(lr) + 3.5) ** 2)
    # after 2 random start-up trials, the GP suggested the other two from the data
    suggested = [c for c in calls if c]
    assert len(suggested) == 2
    assert [t.params for t in done[2:]] == pytest.approx(suggested)


@pytest.mark.slow
def test_study_with_real_metrics_scores_and_exports_what_a_user_measures(
        tmp_path, fake_fashion_dir, tiny_extractor_dir, eager_functions, monkeypatch):
    """The real scorer: ganhub.metrics FID per checkpoint (tiny extractor, 24 samples), KID on
    the selected checkpoint; the module's metadata holds both and a user's evaluation of the
    exported module gives the same numbers."""
    import ganhub
    from ganhub.metrics.evaluation import evaluate
    from ganhub.study import spec as specs
    from ganhub.study.worker import Worker, create
    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(fake_fashion_dir))
    scoring = {"reference": "fashion_mnist_32-test", "num_samples": 24, "seed": 5,
               "extractor": str(tiny_extractor_dir), "also": ["kid", "precision", "recall"]}
    spec = specs.normalize(tiny_spec(fake_fashion_dir, grid=[{"learning_rate": 2e-4}],
                                     scoring=scoring))
    db = tmp_path / "m.db"
    create("m", spec, f"sqlite:///{db}")
    assert Worker("m", f"sqlite:///{db}", log=lambda m: None).run() == 1
    (t,), = _trials(db, "m").values()
    scores = {int(k): v for k, v in t.user_attrs["checkpoint_scores"].items()}
    assert sorted(scores) == [0, 1, 2] and len(set(scores.values())) == 3
    assert all(np.isfinite(v) and 0 < v < 31337 for v in scores.values())
    assert t.value == min(scores.values()) and t.user_attrs["best_step"] == min(scores, key=scores.get)
    gen = ganhub.load(t.user_attrs["module"])
    assert gen.metadata["training"]["steps"] == t.user_attrs["best_step"]
    user = evaluate(gen, reference="fashion_mnist_32-test", metrics=("fid", "kid", "precision", "recall"),
                    num_samples=24, seed=5, extractor=str(tiny_extractor_dir))
    assert user["fid"] == pytest.approx(t.value, rel=1e-4)
    assert user["kid"] == pytest.approx(t.user_attrs["kid"], rel=1e-4, abs=1e-7)
    assert gen.metadata["scores"]["kid"]["value"] == pytest.approx(t.user_attrs["kid"])
    for m in ("precision", "recall"):   # beyond FID, through the study's scorer too
        assert gen.metadata["scores"][m]["value"] == pytest.approx(user[m])
    # the module records the protocol as `ganhub evaluate` does: nothing differs from the
    # user's run, and the extractor's sha256 and the reference's provenance are there
    from ganhub.metrics.evaluation import protocol_differences
    from ganhub.metrics.extractors import load_extractor
    recorded = gen.metadata["scores"]["fid"]["protocol"]
    assert protocol_differences(recorded, user["protocol"]) == []
    assert recorded["extractor_sha256"] == load_extractor(str(tiny_extractor_dir)).sha256
    assert recorded["reference"] == user["protocol"]["reference"]
    assert recorded["reference"]["dataset"] == "fashion_mnist_32"
    assert recorded["reference"]["split"] == "test"
    assert recorded["ganhub_version"] == user["protocol"]["ganhub_version"]
    assert recorded["metrics"] == ["fid", "kid", "precision", "recall"]
    assert recorded["study"]["name"] == "m" and recorded["checkpoint_scores"]


def test_oversubscription_note_counts_live_workers_only(tmp_path, fake_fashion_dir, monkeypatch):
    """The "N workers on this machine" note counts RUNNING trials of live worker processes here,
    not a trial a killed worker left RUNNING (optuna fails it only after the heartbeat grace)."""
    import os
    import subprocess

    from ganhub.study.worker import Worker
    spec = tiny_spec(fake_fashion_dir)
    db = tmp_path / "studies.db"
    assert cli(["study", "create", "o", str(write_spec(tmp_path / "spec.json", spec)),
                "--storage", str(db)]) == 0
    notes = []
    worker = Worker("o", f"sqlite:///{db}", log=notes.append)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)   # room for max(1, 4 // 4) = 1 worker
    dead = subprocess.Popen(["true"])
    dead.wait()
    study = next(iter(worker.studies.values()))
    trial = study.ask()
    trial.set_user_attr("worker", f"{worker.host}:{dead.pid}")
    worker._warn_if_oversubscribed()
    assert notes == []
    trial.set_user_attr("worker", f"{worker.host}:{os.getpid()}")
    worker._warn_if_oversubscribed()
    assert len(notes) == 1 and "2 workers on this 4-core machine" in notes[0]


def _worker_stops_at_once(tmp_path, capsys, spec):
    """Create study "s" from ``spec``, run a worker: it must exit 1 with one line and leave every
    trial queued (none taken, none failed) and nothing trained. Returns the line."""
    db = tmp_path / "studies.db"
    assert cli(["study", "create", "s", str(write_spec(tmp_path / "spec.json", spec)),
                "--storage", str(db)]) == 0
    capsys.readouterr()
    assert cli(["study", "worker", "s", "--storage", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert [t.state.name for ts in _trials(db, "s").values() for t in ts] == ["WAITING"] * 2
    assert not (tmp_path / "ganhub-study" / "s" / "runs").exists()
    return err


def test_a_missing_data_set_stops_the_worker_before_any_trial(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    err = _worker_stops_at_once(tmp_path, capsys, tiny_spec(missing))
    assert "fashion_mnist train images not found" in err and str(missing) in err


def test_a_missing_extractor_stops_the_worker_before_any_training(tmp_path, fake_fashion_dir,
                                                                   capsys, monkeypatch):
    """The scoring extractor and reference are loaded before the first trial: a missing one is
    one line, not a failure after each trial's training."""
    monkeypatch.setenv("GANHUB_FASHION_MNIST_DIR", str(fake_fashion_dir))
    missing = tmp_path / "no-extractor"
    err = _worker_stops_at_once(tmp_path, capsys, tiny_spec(fake_fashion_dir, scoring={
        "reference": "fashion_mnist_32-test", "num_samples": 8, "extractor": str(missing)}))
    assert str(missing) in err


def test_a_trial_that_raised_is_run_again_in_its_run_folder(tmp_path, fake_fashion_dir,
                                                            eager_functions):
    """A worker error (not a death) fails the trial; the worker queues it again with the same
    setting, seed and run folder, so the grid point is finished, not lost; a grid point failing
    more than max_retry times is given up on, with a note."""
    from ganhub.study.worker import Worker
    from ganhub.training import train
    spec = tiny_spec(fake_fashion_dir, grid=[{"learning_rate": 1e-3}], max_retry=1)
    db = tmp_path / "studies.db"
    assert cli(["study", "create", "r", str(write_spec(tmp_path / "spec.json", spec)),
                "--storage", str(db)]) == 0
    calls = []

    def flaky(config, run_dir, progress=False):
        calls.append(str(run_dir))
        if len(calls) == 1:
            raise OSError("No space left on device")
        return train(config, run_dir, progress=progress)

    notes = []
    assert Worker("r", f"sqlite:///{db}", log=notes.append, train_fn=flaky).run() == 1
    failed, done = _trials(db, "r")["ns-none-spectral_norm"]
    assert (failed.state.name, done.state.name) == ("FAIL", "COMPLETE")
    assert done.user_attrs["run_dir"] == failed.user_attrs["run_dir"] and calls[0] == calls[1]
    assert done.user_attrs["key"] == failed.user_attrs["key"] == "grid:0:0"
    assert any("failed: No space left on device" in n for n in notes)
    from ganhub.study.results import format_status, status
    st = status(f"sqlite:///{db}", "r")
    (row,) = st["variants"]
    assert (row["done"], row["failed"], row["retried"], row["left"]) == (1, 0, 1, 0)
    assert "1 trial(s) cut short or failed were queued again" in format_status(st)

    spec2 = tiny_spec(fake_fashion_dir, grid=[{"learning_rate": 1e-3}, {"learning_rate": 3e-4}],
                      max_retry=1)
    assert cli(["study", "create", "x", str(write_spec(tmp_path / "spec2.json", spec2)),
                "--storage", str(db)]) == 0

    def broken(config, run_dir, progress=False):
        raise OSError("disk on fire")

    notes.clear()
    with pytest.raises(Exception, match="3 trials failed in a row"):
        Worker("x", f"sqlite:///{db}", log=notes.append, train_fn=broken).run()
    trials = _trials(db, "x")["ns-none-spectral_norm"]
    # each failed point is queued again behind the points already waiting
    assert [(t.user_attrs["key"], t.state.name) for t in trials] == [
        ("grid:0:0", "FAIL"), ("grid:1:0", "FAIL"), ("grid:0:0", "FAIL"), ("grid:1:0", "WAITING")]
    # grid:0 has failed twice > max_retry 1: given up; grid:1 runs once more, fails, is given up
    notes.clear()
    assert Worker("x", f"sqlite:///{db}", log=notes.append, train_fn=broken).run() == 0
    assert [n.split(": ", 1)[1] for n in notes if "not queued again" in n] == [
        "ns-none-spectral_norm grid:0:0 failed 2 times (max_retry 1); not queued again",
        "ns-none-spectral_norm grid:1:0 failed 2 times (max_retry 1); not queued again"]
    assert [t.state.name for t in _trials(db, "x")["ns-none-spectral_norm"]] == ["FAIL"] * 4
    (row,) = status(f"sqlite:///{db}", "x")["variants"]
    assert (row["done"], row["failed"], row["retried"]) == (0, 4, 0)   # given up: failed


@pytest.mark.slow
def test_a_worker_told_to_leave_when_waiting_stops_behind_a_live_trial_not_a_dead_one(
        tmp_path, fake_fashion_dir, eager_functions, capsys):
    """`worker --leave-when-waiting` (a script serving several studies): when only another
    worker's trial is left it stops with exit code 75 instead of waiting; a trial whose worker is
    dead (no heartbeat for grace_seconds) is failed and its copy run first."""
    import time

    from ganhub.study.worker import Worker
    spec = tiny_spec(fake_fashion_dir)   # 2 grid trials, 1 s heartbeats, 4 s grace
    db = tmp_path / "studies.db"
    for name in ("live", "dead"):
        assert cli(["study", "create", name, str(write_spec(tmp_path / "spec.json", spec)),
                    "--storage", str(db)]) == 0
    url = f"sqlite:///{db}"
    live = next(iter(Worker("live", url, log=lambda m: None).studies.values())).ask()
    capsys.readouterr()
    started = time.monotonic()
    assert cli(["study", "worker", "live", "--storage", str(db), "--leave-when-waiting"]) == 75
    assert time.monotonic() - started < 60
    assert "worker finished 1 trial(s) of study live; other workers' trials still run" in (
        capsys.readouterr().out)
    states = {t.number: t.state.name for t in _trials(db, "live")["ns-none-spectral_norm"]}
    assert states == {live.number: "RUNNING", 1 - live.number: "COMPLETE"}

    # both grid points taken: one by a dead worker (a last heartbeat, then silence), one live
    worker = Worker("dead", url, log=lambda m: None)
    study = next(iter(worker.studies.values()))
    dead, live = study.ask(), study.ask()
    worker.storage.record_heartbeat(dead._trial_id)
    time.sleep(spec["grace_seconds"] + 1)
    assert worker.run(leave_when_waiting=True) == 1 and worker.left_waiting
    trials = _trials(db, "dead")["ns-none-spectral_norm"]
    assert [t.state.name for t in trials] == ["FAIL", "RUNNING", "COMPLETE"]
    assert trials[2].system_attrs["failed_trial"] == dead.number
