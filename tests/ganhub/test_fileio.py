import hashlib
import json
import os
import subprocess
import sys

import pytest

from ganhub import fileio


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    fileio.write_json_atomic(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "x.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".npz"
            tmp.write_bytes(b"half")
            raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = fileio.write_text_atomic(tmp_path / "t.txt", "hi")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_sha256_file_matches_hashlib(tmp_path):
    data = os.urandom(3 * fileio.CHUNK + 17)
    (tmp_path / "f").write_bytes(data)
    assert fileio.sha256_file(tmp_path / "f", chunk=4096) == hashlib.sha256(data).hexdigest()


def test_pid_alive():
    assert fileio.pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not fileio.pid_alive(proc.pid)
    assert not fileio.pid_alive(0) and not fileio.pid_alive(-5) and not fileio.pid_alive(None)
