"""MultiWorkerMirroredStrategy: 2 worker processes on 127.0.0.1 train the tiny SNDCGAN through
``training.loop.Trainer`` with ``make_strategy("multi_worker")`` (what ``ganhub train --strategy
multi_worker`` does), sharing one model dir as they would on a shared file system.

Checked: both exit 0 within a bounded time (killed otherwise), they end with identical generator
weights and losses, the result equals a single-process run of the same global batch split the same
way (MirroredStrategy over 2 logical CPUs: 2 replicas of 4, so BN batch statistics and SN u vectors
are per-replica exactly as across the 2 workers), and only the chief wrote the model dir (the other
worker's checkpoints go to its own temporary dir).
"""
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]  # two TF worker processes

REPO = Path(__file__).resolve().parents[2]


def _from_file(path, name):
    """A helper module of the suite by file path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


write_fake_fashion_mnist = _from_file(REPO / "tests" / "conftest.py",
                                      "_ganhub_tests_conftest").write_fake_fashion_mnist
WORKER = Path(__file__).with_name("multiworker_worker.py")
TIMEOUT = 240  # seconds for all three processes (about 65 s measured on a busy 2-core machine)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start(mode, data_dir, model_dir, out, env_extra, log_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", **env_extra}
    if "TF_CONFIG" not in env_extra:
        env.pop("TF_CONFIG", None)
    stdout = open(log_dir / "stdout", "w")
    stderr = open(log_dir / "stderr", "w")
    proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(data_dir), str(model_dir),
                             str(out)], cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    proc.logs = (log_dir / "stdout", log_dir / "stderr")
    stdout.close()
    stderr.close()
    return proc


def _wait_all(procs, timeout):
    """Wait for every process. If one fails, or the time runs out, kill the rest (a worker whose
    peer died would wait in a collective forever) and fail with their stderr."""
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                why = (f"a process exited with {failed[0].returncode}" if failed
                       else f"not finished within {timeout} s")
                tails = "\n---\n".join(p.logs[1].read_text()[-2000:] for p in procs)
                pytest.fail(f"{why}; the others were killed.\n{tails}")
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _result(proc):
    stderr = proc.logs[1].read_text()
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{stderr[-3000:]}"
    lines = proc.logs[0].read_text().strip().splitlines()
    assert lines, stderr[-3000:]
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiworker")
    data_dir = write_fake_fashion_mnist(root / "fashion")
    model_dir = root / "model"          # shared by both workers
    ports = _free_ports(2)
    cluster_spec = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, tmpdirs, outs = [], [], []
    for index in range(2):
        work = root / f"worker{index}"
        (work / "tmp").mkdir(parents=True)
        tf_config = json.dumps({"cluster": cluster_spec, "task": {"type": "worker", "index": index}})
        outs.append(work / "weights.npz")
        tmpdirs.append(work / "tmp")
        procs.append(_start("multi_worker", data_dir, model_dir, outs[-1],
                            {"TF_CONFIG": tf_config, "TMPDIR": str(work / "tmp")}, work))
    ref_dir = root / "reference"
    ref_dir.mkdir()
    ref = _start("mirrored", data_dir, ref_dir / "model", ref_dir / "weights.npz", {}, ref_dir)
    t0 = time.monotonic()
    _wait_all(procs + [ref], TIMEOUT)
    return {"workers": [_result(p) for p in procs], "reference": _result(ref),
            "weights": [dict(np.load(o)) for o in outs],
            "ref_weights": dict(np.load(ref_dir / "weights.npz")),
            "init_weights": dict(np.load(outs[0].with_suffix(".init.npz"))),
            "model_dir": model_dir, "tmpdirs": tmpdirs, "seconds": time.monotonic() - t0}


def test_both_workers_finish_with_identical_weights_and_losses(cluster):
    w0, w1 = cluster["workers"]
    for w in (w0, w1):
        assert w["mode"] == "multi_worker" and w["replicas"] == 2 and w["step"] == 3
        assert w["variable_kind"] == "MirroredVariable"
        assert all(np.isfinite(w[k]) for k in ("d_loss", "g_loss", "penalty"))
    assert w0["checksum"] == w1["checksum"]
    for key in ("d_loss", "g_loss", "penalty"):
        assert w0[key] == w1[key], key
    a, b = cluster["weights"]  # each worker's own final checkpoint (the non-chief's: its temp dir)
    assert len(a) >= 8 and a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_multi_worker_equals_one_process_with_the_same_replica_split(cluster):
    ref, w0 = cluster["reference"], cluster["workers"][0]
    assert ref["replicas"] == 2 and ref["step"] == 3
    for key in ("d_loss", "g_loss", "penalty"):
        np.testing.assert_allclose(w0[key], ref[key], rtol=1e-5, atol=1e-7, err_msg=key)
    mine, theirs = cluster["weights"][0], cluster["ref_weights"]
    assert mine.keys() == theirs.keys()
    # as in test_distribute: Adam's early steps move a weight by about ±lr·sign(g), so a gradient
    # entry at float-noise level may flip one weight; allow a tiny fraction of such weights
    total = sum(v.size for v in mine.values())
    bad = sum(int(np.sum(np.abs(mine[k] - theirs[k]) > 1e-5)) for k in mine)
    assert bad / total < 0.01, f"{bad} of {total} generator weights differ"
    # training moved the weights: the comparison is not between two untouched initializations
    init = cluster["init_weights"]
    assert init.keys() == mine.keys()
    moved = max(float(np.max(np.abs(mine[k] - init[k]))) for k in mine)
    assert moved > 1e-4


def test_only_the_chief_writes_the_model_dir(cluster):
    w0, w1 = cluster["workers"]
    assert w0["is_chief"] and not w1["is_chief"]
    model_dir = cluster["model_dir"]
    assert Path(w0["checkpoint_dir"]) == model_dir / "checkpoints"
    steps = sorted(int(p.name.split("-")[1].split(".")[0])
                   for p in (model_dir / "checkpoints").glob("ckpt-*.index"))
    assert steps == [0, 2, 3]
    assert (model_dir / "config.json").exists() and (model_dir / "train_state.json").exists()
    assert json.loads((model_dir / "train_state.json").read_text())["step"] == 3
    # the non-chief saved (every worker must take part in a save) into its own temporary dir
    other = Path(w1["checkpoint_dir"])
    assert other.parent == cluster["tmpdirs"][1] and other.name.startswith("ganhub-worker-")
    assert sorted(p.name for p in other.glob("ckpt-*.index")) == \
        ["ckpt-0.index", "ckpt-2.index", "ckpt-3.index"]
    # and the chief made no temporary checkpoint dir of its own
    assert not list(cluster["tmpdirs"][0].glob("ganhub-worker-*"))
