"""Helpers for the study tests and benchmarks/study.py: tiny specs, worker processes, and a
throwaway PostgreSQL server on 127.0.0.1 (Debian's postgresql: initdb / pg_ctl in a temp dir)."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def tiny_spec(data_dir, **overrides):
    """A spec whose trials take seconds: width 1/16, 2 steps, checkpoints at 0, 1, 2, the
    stand-in scorer (tests/ganhub/study/_study_standin.py), 1 s heartbeats, 4 s grace."""
    spec = {
        "config": {"data_dir": str(data_dir), "width": 0.0625, "batch_size": 8, "z_dim": 8,
                   "steps": 2, "checkpoint_every": 1},
        "variants": {"loss": ["ns"], "penalty": ["none"], "d_norm": ["spectral_norm"]},
        "search": "grid", "grid": [{"learning_rate": 1e-3}, {"learning_rate": 3e-4}],
        "seeds": [0], "best_seeds": 1,
        "scoring": {"scorer": "_study_standin:scorer"},
        "heartbeat_seconds": 1, "grace_seconds": 4, "run_functions_eagerly": True,
    }
    spec.update(overrides)
    return spec


def write_spec(path, spec):
    Path(path).write_text(json.dumps(spec))
    return Path(path)


def worker_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(name, storage, log_path, max_trials=None, **env):
    """`ganhub study worker NAME --storage STORAGE` as a child process (its own process group)."""
    cmd = [sys.executable, "-m", "ganhub", "study", "worker", name, "--storage", str(storage)]
    if max_trials:
        cmd += ["--max-trials", str(max_trials)]
    log = open(log_path, "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=worker_env(**env),
                            start_new_session=True)


def wait_for(predicate, timeout, what, interval=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- PostgreSQL -----------------------------------------------------------------------------------

def postgres_bindir():
    """Folder of initdb / pg_ctl: `pg_config --bindir`, else Debian's /usr/lib/postgresql/*/bin."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    raise RuntimeError("PostgreSQL is not installed (initdb/pg_ctl not found): run "
                       "scripts/setup-tests.sh, which installs Debian's postgresql")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server():
    """Yield a postgresql:// URL of a fresh cluster in a temp dir on 127.0.0.1 (trust auth),
    stopped and deleted afterwards. initdb refuses root, so as root it runs as the `postgres`
    user, in a folder of its own under the system temp dir (pytest's are private to root)."""
    import tempfile
    bindir = postgres_bindir()
    tmp_dir = Path(tempfile.mkdtemp(prefix="ganhub-pg-"))
    data, sock = tmp_dir / "pgdata", tmp_dir / "pgsock"
    sock.mkdir(parents=True, exist_ok=True)
    prefix = []
    if os.geteuid() == 0:
        import pwd
        user = pwd.getpwnam("postgres")
        for p in (tmp_dir, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
        os.chmod(tmp_dir, 0o755)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *cmd: subprocess.run(prefix + list(cmd), check=True, capture_output=True,  # noqa: E731
                                      text=True, cwd=str(tmp_dir))
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp_dir / "pg.log"), "-w", "-t", "60",
        "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "study")
        yield f"postgresql://postgres@127.0.0.1:{port}/study"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                 "stop"], capture_output=True, cwd=str(tmp_dir))
        shutil.rmtree(tmp_dir, ignore_errors=True)
