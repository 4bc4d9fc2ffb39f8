"""Downloads always end and stay bounded, against hostile or broken servers on 127.0.0.1.

Each test bounds its own time with an explicit deadline (pytest-timeout is not installed): the
failure this file guards against is a download that never ends."""
import time
import zlib

import pytest

from ganhub.errors import DownloadError, InvalidModuleError
from ganhub.hub import cache as hub_cache
from ganhub.hub import download
from ganhub.hub.resolver import resolve

pytestmark = pytest.mark.slow  # servers that trickle, time out and retry

PATH = "/models/tiny.tar.gz"   # where conftest's `served` fixture puts the tiny module


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.monotonic() - self.start
        assert self.elapsed < self.seconds, f"took {self.elapsed:.1f} s, bound {self.seconds} s"


def _nothing_cached(cache_root):
    modules = cache_root / "modules"
    assert not modules.exists() or not any(modules.iterdir())


@pytest.mark.parametrize("fault", ["ignore_range_drop_half", "long_length"])
def test_a_server_that_never_sends_the_whole_body_is_given_up(served, cache, monkeypatch, fault):
    """A size-limited proxy that ignores Range, or a Content-Length larger than the body: every
    attempt counts and is backed off, so it ends (it used to restart 557 times in 300 s)."""
    url, state, sha = served
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "3")
    state.faults[PATH] = [fault] * 1000
    sleeps = []
    real_sleep = download._sleep_backoff
    monkeypatch.setattr(download, "_sleep_backoff",
                        lambda attempt, deadline: (sleeps.append(attempt), real_sleep(attempt, deadline)))
    with Deadline(30):
        with pytest.raises(DownloadError, match=r"giving up .* after 4 attempts"):
            resolve(url)
    assert state.count(PATH) == 4
    assert sleeps == [0, 1, 2], "a backoff after every unfinished attempt, growing"
    _nothing_cached(cache)


def test_a_pinned_download_from_an_always_truncating_server_also_ends(served, cache, monkeypatch):
    url, state, sha = served
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "2")
    state.faults[PATH] = ["ignore_range_drop_half"] * 1000
    with Deadline(30):
        with pytest.raises(DownloadError, match="giving up"):
            resolve(f"{url}#sha256={sha}")
    assert state.count(PATH) == 3
    _nothing_cached(cache)


def test_a_trickling_server_is_cut_off_by_the_total_timeout(served, cache, monkeypatch):
    """One byte every 0.5 s never trips a per-read timeout; GANHUB_DOWNLOAD_TIMEOUT ends it."""
    url, state, _ = served
    monkeypatch.setenv("GANHUB_DOWNLOAD_TIMEOUT", "2")
    monkeypatch.setenv("GANHUB_READ_TIMEOUT", "60")
    state.slow_delay = 0.5
    state.faults[PATH] = ["trickle"] * 100
    with Deadline(8) as clock:
        with pytest.raises(DownloadError, match="GANHUB_DOWNLOAD_TIMEOUT"):
            resolve(url)
    assert clock.elapsed  # set on exit; the bound is asserted there
    _nothing_cached(cache)


def _gzip_bomb(expanded=300 * 2**20):
    """A gzip stream of ``expanded`` zero bytes, built without holding them in memory (~300 kB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(2**20)
    parts = [compressor.compress(chunk) for _ in range(expanded // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_gzip_content_encoding_is_not_expanded(served, cache, monkeypatch):
    """300 kB sent with Content-Encoding: gzip used to be expanded to 300 MB on every attempt."""
    url, state, _ = served
    bomb = _gzip_bomb()
    assert len(bomb) < 400_000
    state.files["/bomb.tar.gz"] = bomb
    state.headers["/bomb.tar.gz"] = {"Content-Encoding": "gzip"}
    written = []
    real_put = download._Sink.put
    monkeypatch.setattr(download._Sink, "put",
                        lambda self, block: (written.append(len(block)), real_put(self, block)))
    with Deadline(30):
        with pytest.raises(InvalidModuleError):
            resolve(url.replace(PATH, "/bomb.tar.gz"))
    assert sum(written) == len(bomb), "exactly the bytes sent, never the decoded body"
    assert state.accept_encoding == ["identity"]
    _nothing_cached(cache)


def test_a_legitimate_gzip_content_encoding_keeps_the_pinned_size(served, cache):
    """Servers often label a .tar.gz 'Content-Encoding: gzip': the file is the bytes as sent."""
    url, state, sha = served
    state.headers[PATH] = {"Content-Encoding": "gzip"}
    got = resolve(f"{url}#sha256={sha}")
    assert got.sha256 == sha and hub_cache.verify_entry(sha) == []


def test_downloads_stop_at_the_maximum_while_the_body_arrives(cache, modules, fault_server,
                                                             monkeypatch):
    """No Content-Length to refuse up front: the download stops once it passes the maximum."""
    base, state = fault_server
    state.files["/big.tar.gz"] = modules["big_tgz"].read_bytes()
    state.faults["/big.tar.gz"] = ["no_length"] * 10
    monkeypatch.setenv("GANHUB_MAX_DOWNLOAD", "100000")
    written = []
    real_put = download._Sink.put
    monkeypatch.setattr(download._Sink, "put",
                        lambda self, block: (written.append(len(block)), real_put(self, block)))
    with Deadline(30):
        with pytest.raises(DownloadError, match="GANHUB_MAX_DOWNLOAD"):
            resolve(f"{base}/big.tar.gz")
    assert sum(written) <= 100000, "nothing past the maximum is written"
    assert state.count("/big.tar.gz") == 1, "not retried"
    assert not list((cache / "downloads").glob("*.part"))


def test_an_announced_size_over_the_maximum_is_refused_before_reading(cache, modules, fault_server,
                                                                     monkeypatch):
    base, state = fault_server
    state.files["/big.tar.gz"] = modules["big_tgz"].read_bytes()
    monkeypatch.setenv("GANHUB_MAX_DOWNLOAD", "100000")
    monkeypatch.setattr(download._Sink, "put", lambda self, block: pytest.fail("read the body"))
    with Deadline(30):
        with pytest.raises(DownloadError, match="over 100000 bytes"):
            resolve(f"{base}/big.tar.gz")


def test_more_bytes_than_the_pinned_size_stop_the_download(served, cache, monkeypatch, tmp_path):
    import json

    url, state, sha = served
    size = len(state.files[PATH])
    state.files[PATH] = state.files[PATH] + bytes(200_000)
    state.faults[PATH] = ["no_length"] * 10
    catalog_file = tmp_path / "extra.json"
    catalog_file.write_text(json.dumps({"catalog_version": 1, "name": "extra", "models": [
        {"name": "extra/tiny", "handle": url, "sha256": sha, "size": size, "integrity": "pinned"}]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(catalog_file))
    with Deadline(30):
        with pytest.raises(DownloadError, match=f"over {size} bytes, the size the catalog pins"):
            resolve("extra/tiny")
    _nothing_cached(cache)


def test_a_server_that_accepts_and_never_answers_is_cut_off(cache, monkeypatch):
    """Per-request timeouts are clipped to what is left of GANHUB_DOWNLOAD_TIMEOUT."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # read nothing, answer nothing
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("GANHUB_DOWNLOAD_TIMEOUT", "1.5")
    monkeypatch.setenv("GANHUB_READ_TIMEOUT", "60")
    try:
        with Deadline(8):
            with pytest.raises(DownloadError, match="GANHUB_DOWNLOAD_TIMEOUT"):
                resolve(f"http://127.0.0.1:{listener.getsockname()[1]}/m.tar.gz")
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
    _nothing_cached(cache)


def test_an_unresolvable_host_fails_at_once_without_retries(cache, monkeypatch):
    """No network (or no such host): the DNS failure is final, not retried with backoff."""
    import socket
    import time

    from ganhub.errors import DownloadError
    from ganhub.hub.resolver import resolve

    calls = []

    def no_dns(*args, **kwargs):
        calls.append(args[0])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "5")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="host name could not be resolved"):
        resolve("http://models.invalid/m.tar.gz")
    assert time.monotonic() - start < 5
    assert len(calls) == 1
