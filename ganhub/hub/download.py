"""HTTP download of one file into the cache's download area: retries, resume, verification.

A download goes to a process-unique ``<key>.<host>.<pid>.<rand>.part`` file. After a dropped
connection it resumes with ``Range``; a partial file left by a dead process is adopted (renamed to
our own name) and resumed too. Connection errors, timeouts, short bodies and 5xx are retried with
exponential backoff, at most GANHUB_HTTP_RETRIES times in all, within GANHUB_DOWNLOAD_TIMEOUT
seconds in all; other 4xx fail at once. Bytes are bounded by the pinned size or
GANHUB_MAX_DOWNLOAD. Proxies come from the usual environment variables (requests'
``trust_env``). Size and sha256 are checked before the file is handed back.
"""
import hashlib
import os
import random
import socket
import sys
import time
import uuid
from pathlib import Path

from ganhub import fileio, settings
from ganhub.errors import DownloadError, OfflineError

CHUNK = 1 << 20
BACKOFF_BASE = 0.5
BACKOFF_MAX = 10.0
_HOST = socket.gethostname()


def _user_agent():
    try:
        from ganhub import __version__
    except ImportError:
        __version__ = "0"
    return f"ganhub/{__version__}"


def partial_owner_alive(path, stale_after):
    """Partial files are named <key>.<host>.<pid>.<rand>.part."""
    parts = path.name.split(".")
    try:
        host, pid = parts[-4], int(parts[-3])
    except (IndexError, ValueError):
        return False
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if host == _HOST:
        return fileio.pid_alive(pid)
    return age <= stale_after


def _adopt_partial(downloads, key, mine):
    """Rename the largest orphaned partial of ``key`` to ``mine``; return bytes adopted.

    Called under the key's lock, so a partial of this key from our own pid is an abandoned
    earlier attempt, not a download in progress.
    """
    own = f".{_HOST}.{os.getpid()}."
    candidates = []
    for path in downloads.glob(f"{key}.*.part"):
        if path != mine and (own in path.name
                             or not partial_owner_alive(path, settings.lock_stale_after())):
            try:
                candidates.append((path.stat().st_size, path))
            except FileNotFoundError:
                pass
    candidates.sort(reverse=True)
    for size, path in candidates:
        try:
            os.rename(path, mine)
        except FileNotFoundError:
            continue
        for _, other in candidates:
            if other != path:
                try:
                    other.unlink()
                except FileNotFoundError:
                    pass
        return size
    return 0


def _hash_prefix(path):
    return fileio.sha256_hasher(path, CHUNK)


def _sleep_backoff(attempt, deadline):
    """Sleep before the next attempt (exponential, jittered), never past ``deadline``."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** attempt)) * (0.75 + 0.5 * random.random())
    time.sleep(max(0.0, min(delay, deadline - time.monotonic())))


class _TooBig(DownloadError):
    """More bytes than the pinned size or GANHUB_MAX_DOWNLOAD."""


class _Budget:
    """What one download may spend: attempts that did not finish, total time, bytes."""

    def __init__(self, url, expected_size):
        self.url = url
        self.retries = settings.http_retries()
        self.timeout = settings.download_timeout()
        self.deadline = time.monotonic() + self.timeout
        self.max_bytes = settings.max_download_bytes()
        self.expected_size = expected_size
        self.failures = 0

    def failed(self, reason):
        """Count an attempt that did not finish; raise when none are left, else back off."""
        self.failures += 1
        if self.failures > self.retries:
            raise DownloadError(f"giving up on {self.url} after {self.failures} attempts: {reason} "
                                f"(no attempt finished; GANHUB_HTTP_RETRIES={self.retries})")
        self.check_time()
        _sleep_backoff(self.failures - 1, self.deadline)
        self.check_time()

    def check_time(self):
        if time.monotonic() >= self.deadline:
            raise DownloadError(f"giving up on {self.url}: the download took longer than "
                                f"{self.timeout:g} s (GANHUB_DOWNLOAD_TIMEOUT)")

    def request_timeout(self):
        """(connect, read) timeouts, never beyond the deadline."""
        left = max(0.05, self.deadline - time.monotonic())
        return (min(settings.http_connect_timeout(), left), min(settings.http_read_timeout(), left))

    def check_size(self, size, what="the download"):
        """Stop as soon as the bytes exceed the pinned size or GANHUB_MAX_DOWNLOAD."""
        if self.expected_size is not None and size > self.expected_size:
            raise _TooBig(f"{self.url}: {what} is over {self.expected_size} bytes, the size the "
                                f"catalog pins; stopped and discarded it")
        if size > self.max_bytes:
            raise _TooBig(f"{self.url}: {what} is over {self.max_bytes} bytes "
                                f"(GANHUB_MAX_DOWNLOAD); stopped and discarded it")


def fetch(url, downloads, key, *, expected_sha256=None, expected_size=None, heartbeat=None,
          offline=False, label=None):
    """Download ``url`` into ``downloads``; return (path, sha256, size). The caller owns the file.

    Every attempt that does not finish counts against GANHUB_HTTP_RETRIES and is followed by a
    backoff (a server that always drops half way ends too); the whole download is bounded by
    GANHUB_DOWNLOAD_TIMEOUT (a trickling server ends too) and its bytes by the pinned size or
    GANHUB_MAX_DOWNLOAD, checked while the body arrives. The body is read raw, as sent
    (``Accept-Encoding: identity``; no transparent decoding of a ``Content-Encoding``).
    """
    if offline:
        raise OfflineError(f"offline mode is on: not downloading {url}")
    import requests  # imported here: `ganhub list` and `ganhub cache` must stay fast
    import urllib3

    downloads = Path(downloads)
    mine = downloads / f"{key}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
        _adopt_partial(downloads, key, mine)
        mine.touch(exist_ok=True)
    except OSError as exc:
        raise fileio.storage_error(exc, downloads) from None

    budget = _Budget(url, expected_size)
    session = requests.Session()
    session.headers["User-Agent"] = _user_agent()
    session.headers["Accept-Encoding"] = "identity"
    restarted_after_mismatch = False
    progress = None
    try:
        while True:
            budget.check_time()
            offset = mine.stat().st_size
            if offset and expected_size is not None and offset > expected_size:
                mine.write_bytes(b"")  # an adopted partial longer than the file: junk
                offset = 0
            digest = _hash_prefix(mine) if offset else hashlib.sha256()
            sink = None
            resumed = offset > 0
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            total = None
            try:
                with session.get(url, headers=headers, stream=True,
                                 timeout=budget.request_timeout(), allow_redirects=True) as response:
                    status = response.status_code
                    if status == 416 and offset:
                        # Server says our partial is already the whole file (or junk): check it.
                        total = offset
                    elif status >= 500 or status == 429:
                        raise _Retryable(f"HTTP {status} from {response.url}")
                    elif status >= 400:
                        raise DownloadError(f"HTTP {status} {response.reason} for {url}")
                    else:
                        if status == 206:
                            start, total = _content_range(response.headers.get("Content-Range"))
                            if start != offset:
                                raise _Retryable(f"server resumed at byte {start}, not {offset}",
                                                 truncate=True)
                        else:  # 200: whole file, our partial is useless
                            if offset:
                                resumed = False
                                offset = 0
                                digest = hashlib.sha256()
                            length = response.headers.get("Content-Length")
                            total = int(length) if length and length.isdigit() else None
                        if expected_size is not None and total is not None and total != expected_size:
                            raise DownloadError(
                                f"{url} is {total} bytes, the catalog expects {expected_size}")
                        if total is not None:
                            budget.check_size(total, "the file the server announces")
                        progress = _progress(progress, total or expected_size, offset, label or url)
                        mode = "ab" if offset else "wb"
                        sink = _Sink(open(mine, mode), digest)
                        for block in _blocks(response):
                            budget.check_size(offset + len(block))
                            sink.put(block)
                            offset += len(block)
                            if progress is not None:
                                progress.update(len(block))
                            if heartbeat is not None:
                                heartbeat()
                            budget.check_time()
            except _Retryable as exc:
                if exc.truncate:
                    mine.write_bytes(b"")
                budget.failed(str(exc))
                continue
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError,
                    urllib3.exceptions.HTTPError) as exc:
                if _name_not_resolved(exc):  # no network or no such host: retrying won't help
                    raise DownloadError(f"cannot download {url}: the host name could not be "
                                        f"resolved (no network, or no such host)") from None
                budget.failed(_short(exc))
                continue
            except requests.RequestException as exc:
                raise DownloadError(f"cannot download {url}: {_short(exc)}") from None
            except _TooBig:
                mine.write_bytes(b"")  # these bytes are not the file
                raise
            finally:
                if sink is not None:
                    sink.close()  # every received byte is on disk and hashed after this
            size = mine.stat().st_size
            if total is not None and size != total:
                budget.failed(f"got {size} of {total} bytes")
                continue
            sha = digest.hexdigest() if status != 416 else _hash_prefix(mine).hexdigest()
            problem = None
            if expected_size is not None and size != expected_size:
                problem = f"size {size} bytes, expected {expected_size}"
            elif expected_sha256 is not None and sha != expected_sha256.lower():
                problem = f"sha256 {sha}, expected {expected_sha256.lower()}"
            if problem:
                mine.write_bytes(b"")
                if resumed and not restarted_after_mismatch:
                    # The resumed prefix may be what is wrong: one clean retry.
                    restarted_after_mismatch = True
                    budget.failed(problem)
                    continue
                raise DownloadError(f"downloaded {url} but it does not match: {problem}; "
                                    f"the file was discarded")
            return mine, sha, size
    except OSError as exc:
        raise fileio.storage_error(exc, downloads) from None
    finally:
        # Keep partial bytes for resume, unless they are empty or known to be bad.
        try:
            if mine.exists() and mine.stat().st_size == 0:
                mine.unlink()
        except OSError:
            pass
        if progress is not None:
            progress.close()
        session.close()


class _Sink:
    """Writes received blocks and hashes them on a worker thread, so hashing overlaps the socket
    reads (hashlib releases the GIL on large buffers); measured faster here than also moving the
    writes to the worker. ``close`` waits for the hash to catch up."""

    def __init__(self, file, hasher):
        import queue
        import threading
        self._file = file
        self._hasher = hasher
        self._queue = queue.Queue(maxsize=64)
        self._error = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            block = self._queue.get()
            if block is None:
                return
            self._hasher.update(block)

    def put(self, block):
        try:
            self._file.write(block)
        except OSError as exc:
            self._error = exc
            error = fileio.storage_error(exc, Path(self._file.name).parent)
            if error is exc:
                raise DownloadError(f"cannot write the download to {self._file.name}: {exc}") from None
            raise error from None
        self._queue.put(block)

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._file.close()


def _blocks(response):
    """Body blocks as they arrive. read1 hands over every byte received before a dropped
    connection (iter_content would lose the last partial block), so the resume point is exact."""
    raw = response.raw
    while True:
        block = raw.read1(CHUNK, decode_content=False)  # the bytes as sent: no gzip bomb, exact sizes
        if not block:
            return
        yield block


class _Retryable(Exception):
    def __init__(self, message, truncate=False):
        super().__init__(message)
        self.truncate = truncate


def _content_range(value):
    """'bytes 100-199/200' -> (100, 200); total None if '*'."""
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/")
        start = int(span.split("-")[0])
        return start, (None if total == "*" else int(total))
    except (AttributeError, ValueError):
        raise _Retryable(f"bad Content-Range {value!r}", truncate=True) from None


def _progress(existing, total, initial, label):
    if settings.progress_disabled():
        return None
    if existing is not None:
        existing.close()
    from tqdm.auto import tqdm
    name = label.rsplit("/", 1)[-1] or label
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"ganhub {name}"[:40], file=sys.stderr, leave=False)


def _name_not_resolved(exc):
    """True when a requests/urllib3 error comes from a failed DNS lookup (socket.gaierror)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, socket.gaierror) or type(exc).__name__ == "NameResolutionError":
            return True
        nested = [getattr(exc, "reason", None), *(a for a in getattr(exc, "args", ())
                                                  if isinstance(a, BaseException))]
        nested = [n for n in nested if isinstance(n, BaseException)]
        exc = nested[0] if nested else (exc.__cause__ or exc.__context__)
    return False


def _short(exc):
    """The error's text, whole words only, at most about 300 characters."""
    text = " ".join(str(exc).split())
    if len(text) <= 300:
        return text
    return text[:300].rsplit(" ", 1)[0] + " ..."
