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
    downloads = Path(downloads)
    budget = _Budget(url, expected_size)
    download = _Download(url, _claim_part_file(downloads, key), budget,
                         expected_sha256=expected_sha256, heartbeat=heartbeat, label=label or url)
    try:
        return download.run()
    except OSError as exc:  # DownloadError is one too: storage_error hands it back unchanged
        raise fileio.storage_error(exc, downloads) from None
    finally:
        download.close()


def _claim_part_file(downloads, key):
    """A new process-unique part file for ``key``, holding the bytes of any orphaned partial."""
    part = downloads / f"{key}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
        _adopt_partial(downloads, key, part)
        part.touch(exist_ok=True)
    except OSError as exc:
        raise fileio.storage_error(exc, downloads) from None
    return part


def _session():
    import requests  # imported here: `ganhub list` and `ganhub cache` must stay fast
    session = requests.Session()
    session.headers["User-Agent"] = _user_agent()
    session.headers["Accept-Encoding"] = "identity"  # the bytes as stored: sizes and hashes exact
    return session


def _http_errors():
    """(errors after which an attempt is retried, every other requests error)."""
    import requests
    import urllib3
    transient = (requests.ConnectionError, requests.Timeout,
                 requests.exceptions.ChunkedEncodingError,
                 requests.exceptions.ContentDecodingError, urllib3.exceptions.HTTPError)
    return transient, requests.RequestException


class _Download:
    """One file's download into its part file, as named steps: ``run`` repeats ``_attempt``
    (GET from the resume point, ``_check_response``, ``_receive``, ``_verify``) and books every
    unfinished attempt with the budget, which backs off or gives up."""

    def __init__(self, url, part, budget, *, expected_sha256, heartbeat, label):
        self.url = url
        self.part = part
        self.budget = budget
        self.expected_size = budget.expected_size
        self.expected_sha256 = expected_sha256.lower() if expected_sha256 else None
        self.heartbeat = heartbeat
        self.label = label
        self.session = _session()
        self.progress = None
        self.restarted_after_mismatch = False

    def run(self):
        """Attempts until one gives a whole, verified file: (path, sha256, size)."""
        while True:
            try:
                return self._attempt()
            except _Retryable as exc:
                if exc.truncate:
                    self._discard()
                self.budget.failed(str(exc))

    def _attempt(self):
        """One GET from the end of the part file. _Retryable when it did not finish."""
        self.budget.check_time()
        offset = self._resume_offset()
        transient, request_error = _http_errors()
        digest = None
        try:
            with self._get(offset) as response:
                if response.status_code == 416 and offset:
                    # Server says our partial is already the whole file (or junk): check it.
                    total, resumed = offset, True
                else:
                    start, total = self._check_response(response, offset)
                    resumed, digest = start > 0, self._receive(response, start, total)
        except transient as exc:
            if _name_not_resolved(exc):  # no network or no such host: retrying won't help
                raise DownloadError(f"cannot download {self.url}: the host name could not be "
                                    f"resolved (no network, or no such host)") from None
            raise _Retryable(_short(exc)) from None
        except request_error as exc:
            raise DownloadError(f"cannot download {self.url}: {_short(exc)}") from None
        except _TooBig:
            self._discard()  # these bytes are not the file
            raise
        if digest is None:  # nothing received: the part file as it is
            digest = _hash_prefix(self.part)
        return self._verify(total, digest, resumed)

    def _resume_offset(self):
        """Bytes already in the part file; an adopted partial longer than the file is junk."""
        offset = self.part.stat().st_size
        if offset and self.expected_size is not None and offset > self.expected_size:
            self._discard()
            offset = 0
        return offset

    def _get(self, offset):
        """The streamed response to a GET of the file from byte ``offset`` (Range when > 0)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        return self.session.get(self.url, headers=headers, stream=True,
                                timeout=self.budget.request_timeout(), allow_redirects=True)

    def _check_response(self, response, offset):
        """(byte the body starts at, announced file size or None); raises on bad statuses."""
        status = response.status_code
        if status >= 500 or status == 429:
            raise _Retryable(f"HTTP {status} from {response.url}")
        if status >= 400:
            raise DownloadError(f"HTTP {status} {response.reason} for {self.url}")
        if status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != offset:
                raise _Retryable(f"server resumed at byte {start}, not {offset}", truncate=True)
        else:  # 200: the whole file, our partial is useless
            start = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if self.expected_size is not None and total is not None and total != self.expected_size:
            raise DownloadError(f"{self.url} is {total} bytes, the catalog expects "
                                f"{self.expected_size}")
        if total is not None:
            self.budget.check_size(total, "the file the server announces")
        return start, total

    def _receive(self, response, offset, total):
        """Write the body into the part file from ``offset`` within the byte and time budget;
        return the sha256 of the part file's bytes."""
        digest = _hash_prefix(self.part) if offset else hashlib.sha256()
        self.progress = _progress(self.progress, total or self.expected_size, offset, self.label)
        sink = _Sink(open(self.part, "ab" if offset else "wb"), digest)
        try:
            for block in _blocks(response):
                self.budget.check_size(offset + len(block))
                sink.put(block)
                offset += len(block)
                if self.progress is not None:
                    self.progress.update(len(block))
                if self.heartbeat is not None:
                    self.heartbeat()
                self.budget.check_time()
        finally:
            sink.close()  # every received byte is on disk and hashed after this
        return digest

    def _verify(self, total, digest, resumed):
        """(path, sha256, size) when the part file is whole and matches the pins."""
        size = self.part.stat().st_size
        if total is not None and size != total:
            raise _Retryable(f"got {size} of {total} bytes")
        sha = digest.hexdigest()
        problem = None
        if self.expected_size is not None and size != self.expected_size:
            problem = f"size {size} bytes, expected {self.expected_size}"
        elif self.expected_sha256 is not None and sha != self.expected_sha256:
            problem = f"sha256 {sha}, expected {self.expected_sha256}"
        if problem is None:
            return self.part, sha, size
        if resumed and not self.restarted_after_mismatch:
            # The resumed prefix may be what is wrong: one clean retry.
            self.restarted_after_mismatch = True
            raise _Retryable(problem, truncate=True)
        self._discard()
        raise DownloadError(f"downloaded {self.url} but it does not match: {problem}; "
                            f"the file was discarded")

    def _discard(self):
        self.part.write_bytes(b"")

    def close(self):
        """Keep partial bytes for resume, unless they are empty or known to be bad."""
        try:
            if self.part.exists() and self.part.stat().st_size == 0:
                self.part.unlink()
        except OSError:
            pass
        if self.progress is not None:
            self.progress.close()
        self.session.close()


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
