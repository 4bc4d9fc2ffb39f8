"""Study workers as separate processes sharing one storage, SQLite and a real PostgreSQL server
(started on 127.0.0.1 in a temp dir): no trial runs twice, and a worker killed with SIGKILL in the
middle of a trial has that trial retried (same run folder) and finished by the other worker."""
import os
import signal

import pytest

from _study_helpers import postgres_server, start_worker, tiny_spec, wait_for, write_spec
from ganhub.cli import main as cli

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "studies.db")
    return request.getfixturevalue("postgres_url")


def _study_trials(storage, name):
    import optuna

    from ganhub.study.storage import storage_url
    url = storage_url(storage)
    study = optuna.load_study(study_name=f"{name}/ns-none-spectral_norm", storage=url)
    return study.get_trials()


def _finish(proc, log, timeout=600):
    rc = proc.wait(timeout=timeout)
    assert rc == 0, log.read_text()[-3000:]
    return log.read_text()


def test_two_workers_share_one_study_without_duplicates(storage, tmp_path, fake_fashion_dir, capsys):
    name = f"two{os.getpid()}{tmp_path.name[-6:]}".replace("_", "")
    lrs = [1e-3, 3e-4, 2e-4, 1e-4, 5e-4, 7e-4]
    spec = tiny_spec(fake_fashion_dir, grid=[{"learning_rate": lr} for lr in lrs])
    assert cli(["study", "create", name, str(write_spec(tmp_path / "s.json", spec)),
                "--storage", storage, "--workdir", str(tmp_path / "work")]) == 0
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_worker(name, storage, log) for log in logs]
    outs = [_finish(p, log) for p, log in zip(procs, logs)]
    trials = _study_trials(storage, name)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) == len(trials) == 6
    assert sorted(t.user_attrs["setting"]["learning_rate"] for t in done) == sorted(lrs)
    assert len({t.user_attrs["run_dir"] for t in done}) == 6
    counts = [int(out.rsplit("worker finished ", 1)[1].split()[0]) for out in outs]
    assert sum(counts) == 6 and min(counts) >= 1, counts   # both worked, nothing twice
    assert len({t.user_attrs["worker"] for t in done}) == 2


def test_sigkilled_worker_trial_is_retried_and_finished_by_the_other(storage, tmp_path,
                                                                    fake_fashion_dir):
    name = f"kill{os.getpid()}{tmp_path.name[-6:]}".replace("_", "")
    spec = tiny_spec(fake_fashion_dir)   # 2 grid trials, 1 s heartbeat, 4 s grace
    assert cli(["study", "create", name, str(write_spec(tmp_path / "s.json", spec)),
                "--storage", storage, "--workdir", str(tmp_path / "work")]) == 0
    hold = tmp_path / "hold"
    hold.write_text("")
    victim = start_worker(name, storage, tmp_path / "victim.log", GANHUB_TEST_HOLD=hold)
    # the victim trained its first trial and is scoring it: kill it there
    reached = wait_for(lambda: list(tmp_path.glob("hold.*")), 300, "the victim to reach scoring")
    run_dir = reached[0].read_text()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    hold.unlink()
    (killed,) = [t for t in _study_trials(storage, name) if t.state.name == "RUNNING"]
    assert str(tmp_path / "work" / killed.user_attrs["run_dir"]) == run_dir

    survivor = start_worker(name, storage, tmp_path / "survivor.log")
    out = _finish(survivor, tmp_path / "survivor.log")
    assert "worker finished 2 trial(s)" in out
    trials = {t.number: t for t in _study_trials(storage, name)}
    assert trials[killed.number].state.name == "FAIL"   # declared dead after the grace period
    retry, = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert retry.state.name == "COMPLETE"
    assert retry.user_attrs["run_dir"] == killed.user_attrs["run_dir"]   # resumed, same folder
    assert retry.user_attrs["setting"] == killed.user_attrs["setting"]
    done = [t for t in trials.values() if t.state.name == "COMPLETE"]
    assert len(done) == 2 and len({t.user_attrs["key"] for t in done}) == 2   # none lost or twice
    assert len(trials) == 3


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_worker_queues_its_trial_again(tmp_path, fake_fashion_dir, sig):
    """Ctrl-C (SIGINT) or SIGTERM mid-trial: the worker exits 130 and its trial is queued again
    at once (same run folder), instead of waiting out the grace period as after a SIGKILL."""
    storage = str(tmp_path / "studies.db")
    spec = tiny_spec(fake_fashion_dir, grid=[{"learning_rate": 1e-3}])
    assert cli(["study", "create", "int", str(write_spec(tmp_path / "s.json", spec)),
                "--storage", storage]) == 0
    hold = tmp_path / "hold"
    hold.write_text("")
    victim = start_worker("int", storage, tmp_path / "victim.log", GANHUB_TEST_HOLD=hold)
    wait_for(lambda: list(tmp_path.glob("hold.*")), 300, "the victim to reach scoring")
    os.killpg(victim.pid, sig)
    assert victim.wait(timeout=60) == 130, (tmp_path / "victim.log").read_text()[-2000:]
    log = (tmp_path / "victim.log").read_text()
    assert "interrupted and queued again" in log
    assert "Traceback" not in log and "because of the following error: KeyboardInterrupt" in log
    failed, copy = _study_trials(storage, "int")
    assert (failed.state.name, copy.state.name) == ("FAIL", "WAITING")
    assert copy.system_attrs["failed_trial"] == failed.number
    assert copy.user_attrs["run_dir"] == failed.user_attrs["run_dir"]
