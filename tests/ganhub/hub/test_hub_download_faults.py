"""Downloads against a misbehaving server on 127.0.0.1: drops, wrong bytes, 5xx, slow, redirects."""
import pytest

from ganhub.errors import DownloadError
from ganhub.hub import cache as hub_cache
from ganhub.hub.resolver import resolve

PATH = "/models/tiny.tar.gz"   # where conftest's `served` fixture puts the tiny module


def test_dropped_connection_is_resumed_with_range(served):
    url, state, sha = served
    state.faults[PATH] = ["drop_half"]
    got = resolve(f"{url}#sha256={sha}")
    assert got.sha256 == sha and got.source == "download"
    assert state.count(PATH, ranged=False) == 1
    assert state.count(PATH, ranged=True) == 1, "the second request must resume, not restart"
    assert hub_cache.verify_entry(sha) == []


def test_dropped_connection_without_pinned_hash_still_completes(served):
    url, state, sha = served
    state.faults[PATH] = ["drop_half", "drop_half"]
    assert resolve(url).sha256 == sha
    assert state.count(PATH, ranged=True) == 2


def test_wrong_bytes_are_rejected_and_nothing_is_cached(served, cache):
    url, state, sha = served
    state.faults[PATH] = ["wrong"]
    with pytest.raises(DownloadError, match="does not match: sha256"):
        resolve(f"{url}#sha256={sha}")
    assert hub_cache.lookup(sha) is None
    assert not list((cache / "modules").glob("*"))  # glob of a missing folder is empty too
    assert not list((cache / "downloads").glob("*.part"))
    # the server heals: the next load succeeds
    assert resolve(f"{url}#sha256={sha}").sha256 == sha


def test_wrong_bytes_after_resume_trigger_one_clean_retry(served):
    url, state, sha = served
    # first response drops half way; the resumed range is ignored and the full body is corrupt;
    # the clean retry gets good bytes
    state.faults[PATH] = ["drop_half", "wrong"]
    assert resolve(f"{url}#sha256={sha}").sha256 == sha
    assert state.count(PATH) == 3


def test_500_then_200_is_retried(served):
    url, state, sha = served
    state.faults[PATH] = ["500", "500"]
    assert resolve(url).sha256 == sha
    assert state.count(PATH) == 3


def test_persistent_500_gives_up_with_a_clear_error(served, monkeypatch):
    url, state, _ = served
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "2")
    state.faults[PATH] = ["500"] * 10
    with pytest.raises(DownloadError, match=r"giving up .* 3 attempts: HTTP 500"):
        resolve(url)
    assert state.count(PATH) == 3


def test_404_fails_at_once(served):
    url, state, _ = served
    with pytest.raises(DownloadError, match="HTTP 404"):
        resolve(url.replace("tiny", "missing"))
    assert len(state.requests) == 1


def test_slow_server_hits_the_read_timeout_then_resumes(served, monkeypatch):
    url, state, sha = served
    monkeypatch.setenv("GANHUB_READ_TIMEOUT", "0.2")
    state.slow_delay = 0.6  # longer than the read timeout between 2 kB blocks
    state.step = 2048
    state.faults[PATH] = ["slow"]
    got = resolve(f"{url}#sha256={sha}")
    assert got.sha256 == sha
    assert state.count(PATH, ranged=True) >= 1


def test_slow_but_steady_server_completes(served):
    url, state, sha = served
    state.slow_delay = 0.01
    state.faults[PATH] = ["slow"]
    assert resolve(url).sha256 == sha
    assert state.count(PATH) == 1


def test_redirects_are_followed(served):
    url, state, sha = served
    base = url[: -len(PATH)]
    state.redirects["/tfhub/google/tiny/1"] = f"{base}/kaggle/tiny"
    state.redirects["/kaggle/tiny"] = PATH
    got = resolve(f"{base}/tfhub/google/tiny/1")
    assert got.sha256 == sha
    assert [p for p, _ in state.requests] == ["/tfhub/google/tiny/1", "/kaggle/tiny", PATH]


def test_server_ignoring_range_restarts_cleanly(served):
    url, state, sha = served
    state.faults[PATH] = ["drop_half", "ignore_range"]
    assert resolve(f"{url}#sha256={sha}").sha256 == sha
    assert hub_cache.verify_entry(sha) == []


def test_pinned_size_mismatch_is_reported(served, monkeypatch, tmp_path):
    url, state, sha = served
    import json
    catalog_file = tmp_path / "extra.json"
    catalog_file.write_text(json.dumps({"catalog_version": 1, "name": "extra", "models": [
        {"name": "extra/tiny", "handle": url, "sha256": sha, "size": 5, "integrity": "pinned"}]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(catalog_file))
    with pytest.raises(DownloadError, match="expects 5"):
        resolve("extra/tiny")


def test_proxy_environment_is_honoured(served, monkeypatch):
    """requests reads HTTP_PROXY: pointing it at a dead port must make the download fail."""
    url, state, _ = served
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "0")
    with pytest.raises(DownloadError):
        resolve(url)
    assert state.requests == [], "the request must have gone to the proxy, not the server"
