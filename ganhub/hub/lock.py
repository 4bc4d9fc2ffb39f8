"""An inter-process lock built on O_CREAT|O_EXCL, for caches on file systems where flock is a no-op.

The lock file holds the owner's host, pid and a random token. The owner refreshes the file's mtime
(``heartbeat``) while it works; a waiter takes the lock over when the owner's pid is gone (same host)
or the heartbeat is older than ``stale_after``. Takeover renames the stale file to a unique name
before deleting it, so two waiters cannot both delete a fresh lock. The lock only avoids duplicate
downloads: cache entries are installed by atomic rename, so correctness never depends on it.
"""
import json
import os
import socket
import time
import uuid
from pathlib import Path

from ganhub import fileio
from ganhub.errors import DownloadError

_HOST = socket.gethostname()


def _read_owner(path):
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


class FileLock:
    def __init__(self, path, *, timeout, stale_after, poll=0.1):
        self.path = Path(path)
        self.timeout = timeout
        self.stale_after = stale_after
        self.poll = poll
        self.token = uuid.uuid4().hex
        self._last_beat = 0.0
        self.held = False

    def _try_create(self):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"host": _HOST, "pid": os.getpid(), "token": self.token,
                       "created": time.time()}, fh)
        self._last_beat = time.monotonic()
        return True

    def _is_stale(self):
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        owner = _read_owner(self.path)
        if owner is None:
            # Being written right now, or garbage: only an old one counts as stale.
            return age > self.stale_after
        if owner.get("host") == _HOST and not fileio.pid_alive(int(owner.get("pid", -1))):
            return True
        return age > self.stale_after

    def _break_stale(self):
        grave = self.path.with_name(f"{self.path.name}.stale-{uuid.uuid4().hex}")
        owner = _read_owner(self.path)
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return
        taken = _read_owner(grave)
        if owner is not None and taken is not None and taken.get("token") != owner.get("token"):
            # Someone broke it and re-locked between our read and our rename: give it back.
            try:
                os.link(grave, self.path)
            except FileExistsError:
                pass
        try:
            os.unlink(grave)
        except FileNotFoundError:
            pass

    def owner_description(self):
        owner = _read_owner(self.path) or {}
        return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"

    def acquire(self):
        deadline = time.monotonic() + self.timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self._try_create():
                self.held = True
                return self
            if self._is_stale():
                self._break_stale()
                continue
            if time.monotonic() >= deadline:
                raise DownloadError(
                    f"timed out after {self.timeout:.0f} s waiting for the cache lock {self.path} "
                    f"held by {self.owner_description()}; if no ganhub process is running there, "
                    f"delete the lock file (or raise GANHUB_LOCK_TIMEOUT)")
            time.sleep(self.poll)

    def heartbeat(self, min_interval=1.0):
        """Tell waiters we are alive; cheap enough to call from a download loop."""
        now = time.monotonic()
        if self.held and now - self._last_beat >= min_interval:
            self._last_beat = now
            try:
                os.utime(self.path)
            except FileNotFoundError:
                pass

    def release(self):
        if not self.held:
            return
        self.held = False
        owner = _read_owner(self.path)
        if owner is not None and owner.get("token") == self.token:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
