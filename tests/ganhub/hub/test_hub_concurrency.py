"""Several processes, killed processes, stale locks and offline mode."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from ganhub.errors import DownloadError, OfflineError
from ganhub.hub import cache as hub_cache
from ganhub.hub.lock import FileLock
from ganhub.hub.resolver import resolve

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]  # concurrent client processes

RESOLVE = ("import json, sys; from ganhub.hub.resolver import resolve; "
           "r = resolve(sys.argv[1], trust=True); "
           "print(json.dumps({'path': str(r.path), 'source': r.source, 'sha256': r.sha256}))")


def _spawn(subprocess_env, url, cache_root, **env):
    return subprocess.Popen([sys.executable, "-c", RESOLVE, url], env=subprocess_env(cache_root, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_processes_one_download_all_succeed(cache, modules, fault_server, subprocess_env):
    base, state = fault_server
    path = "/big.tar.gz"
    state.files[path] = modules["big_tgz"].read_bytes()
    state.faults[path] = ["slow"] * 4  # every request is slow, so the processes overlap
    state.slow_delay = 0.01
    url = f"{base}{path}#sha256={modules['big_sha']}"
    procs = [_spawn(subprocess_env, url, cache) for _ in range(4)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert state.count(path) == 1, f"expected one download, got requests {state.requests}"
    assert len({r["path"] for r in results}) == 1
    assert sorted(r["source"] for r in results) == ["cache", "cache", "cache", "download"]
    assert hub_cache.verify_entry(modules["big_sha"]) == []
    assert not list((cache / "locks").glob("*.lock")), "the lock must be released"


def test_killed_download_leaves_a_cache_the_next_load_repairs(cache, modules, fault_server,
                                                              subprocess_env):
    base, state = fault_server
    path = "/big.tar.gz"
    data = modules["big_tgz"].read_bytes()
    state.files[path] = data
    state.faults[path] = ["slow"]
    state.slow_delay = 0.05
    url = f"{base}{path}"
    proc = _spawn(subprocess_env, url, cache)
    downloads = cache / "downloads"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list(downloads.glob("*.part")) if downloads.exists() else []
        if parts and parts[0].stat().st_size > len(data) // 4:
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the download never got going")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The kill leaves a partial file and a lock owned by a dead pid, and no entry.
    assert list((cache / "locks").glob("*.lock"))
    assert hub_cache.entries() == []
    partial = list(downloads.glob("*.part"))[0].stat().st_size
    assert 0 < partial < len(data)

    got = resolve(url, trust=True)
    assert got.source == "download" and got.sha256 == modules["big_sha"]
    assert state.count(path, ranged=True) == 1, "the next load must resume the partial download"
    assert hub_cache.verify_entry(got.sha256) == []
    assert not list(downloads.glob("*.part"))


def test_lock_held_by_a_live_process_times_out_with_a_clear_message(cache, tmp_path):
    path = tmp_path / "x.lock"
    holder = FileLock(path, timeout=1, stale_after=60).acquire()
    waiter = FileLock(path, timeout=0.3, stale_after=60)
    with pytest.raises(DownloadError, match=rf"waiting for the cache lock .* pid {os.getpid()}"):
        waiter.acquire()
    holder.release()
    assert waiter.acquire().held
    waiter.release()
    assert not path.exists()


def test_lock_without_heartbeat_is_taken_over(cache, tmp_path):
    """Where pids cannot be checked (another host), staleness is judged by the heartbeat."""
    path = tmp_path / "x.lock"
    path.write_text(json.dumps({"host": "some-other-host", "pid": 1, "token": "t"}))
    old = time.time() - 10
    os.utime(path, (old, old))
    lock = FileLock(path, timeout=5, stale_after=5)
    start = time.monotonic()
    lock.acquire()
    assert time.monotonic() - start < 1
    assert json.loads(path.read_text())["token"] == lock.token
    lock.release()
    # a fresh lock from another host is respected
    path.write_text(json.dumps({"host": "some-other-host", "pid": 1, "token": "t"}))
    with pytest.raises(DownloadError):
        FileLock(path, timeout=0.3, stale_after=5).acquire()


def test_offline_with_cache_loads_without_opening_a_socket(cache, modules, fault_server, monkeypatch):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    url = f"{base}/tiny.tar.gz"
    online = resolve(url)

    def no_sockets(*args, **kwargs):
        raise AssertionError("offline mode opened a socket")

    monkeypatch.setattr(socket, "socket", no_sockets)
    monkeypatch.setattr(socket, "create_connection", no_sockets)
    monkeypatch.setenv("GANHUB_OFFLINE", "1")
    got = resolve(url)
    assert got.path == online.path and got.source == "cache"
    monkeypatch.delenv("GANHUB_OFFLINE")
    assert resolve(url, offline=True).path == online.path
    assert state.count("/tiny.tar.gz") == 1


def test_offline_without_cache_fails_at_once(cache, modules, fault_server, monkeypatch):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()

    def no_sockets(*args, **kwargs):
        raise AssertionError("offline mode opened a socket")

    monkeypatch.setattr(socket, "socket", no_sockets)
    monkeypatch.setattr(socket, "create_connection", no_sockets)
    start = time.monotonic()
    with pytest.raises(OfflineError, match=r"offline mode is on .* not in the cache .*ganhub download"):
        resolve(f"{base}/tiny.tar.gz", offline=True)
    with pytest.raises(OfflineError, match="compare_gan/model_11_cifar10_resnet_cifar"):
        resolve("compare_gan/model_11_cifar10_resnet_cifar", offline=True)
    assert time.monotonic() - start < 1
    assert state.requests == []


def test_offline_still_resolves_local_archives(cache, modules, monkeypatch):
    monkeypatch.setenv("GANHUB_OFFLINE", "1")
    assert resolve(modules["tiny_tgz"]).sha256 == modules["tiny_sha"]
