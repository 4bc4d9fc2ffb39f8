"""`ganhub serve` against bad data and hostile clients: a module with bad metadata is skipped
and reported (the others stay up), idle sockets are closed, workers are bounded, handles are
percent-encoded, error bodies carry no server paths, links out of the folder are not followed.
Every test bounds its own time."""
import json
import shutil
import socket
import threading
import time

import pytest
import requests

from ganhub import catalog
from ganhub.cli import main
from ganhub.export import package
from ganhub.hub.resolver import resolve
from ganhub.hub.serve import Hub


def _start(directory, **kwargs):
    kwargs.setdefault("samples", False)
    hub = Hub(directory, host="127.0.0.1", port=0, **kwargs)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    return hub


@pytest.fixture
def started():
    hubs = []

    def start(directory, **kwargs):
        hubs.append(_start(directory, **kwargs))
        return hubs[-1]

    yield start
    for hub in hubs:
        hub.close()


def _with_metadata(modules, tmp_path, name, metadata):
    module = tmp_path / f"src-{name}"
    shutil.copytree(modules["tiny_dir"], module)
    (module / "assets" / "ganhub.json").write_text(json.dumps(metadata))
    return module


def test_a_module_with_bad_metadata_is_skipped_and_reported(modules, tmp_path, started, cache,
                                                           monkeypatch, capsys):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    good_meta = json.loads((modules["tiny_dir"] / "assets" / "ganhub.json").read_text())
    bad = _with_metadata(modules, tmp_path, "bad", dict(good_meta, scores=[1, 2]))
    package.pack(bad, served / "bad.tar.gz")
    shutil.copytree(_with_metadata(modules, tmp_path, "worse", "not an object"), served / "worse")
    hub = started(served)
    assert sorted(hub.models) == ["tiny"]
    assert sorted(name for name, _ in hub.skipped) == ["bad.tar.gz", "worse"]
    err = capsys.readouterr().err
    assert "not serving bad.tar.gz" in err and "'scores' should be dict, got list" in err
    assert "not serving worse" in err
    for _ in range(3):  # the page stays up for every client
        page = requests.get(f"{hub.url}/", timeout=10)
        assert page.status_code == 200 and 'data-name="tiny"' in page.text
    index = requests.get(f"{hub.url}/index.json", timeout=10).json()
    assert [m["name"] for m in index["models"]] == ["tiny"]
    monkeypatch.setenv("GANHUB_CATALOGS", f"{hub.url}/index.json")
    catalog._CACHE.clear()
    assert main(["list"]) == 0 and main(["info", "tiny"]) == 0


def test_idle_connections_are_closed(modules, tmp_path, started):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    hub = started(served, idle_timeout=0.5)
    port = hub.server.server_address[1]
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        idle.sendall(b"GET /index.json HTTP/1.1\r\n")  # a request line, then nothing
        while idle.recv(1024):  # b"" once the server closes; socket.timeout after 10 s fails
            pass
    assert time.monotonic() - start < 5, "the server must close a stalled connection"


def test_workers_are_bounded_and_busy_means_503(modules, tmp_path, started):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    before = threading.active_count()
    hub = started(served, max_workers=2, idle_timeout=2)
    port = hub.server.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(10)]
    try:
        time.sleep(0.5)
        # serve_forever + at most 2 workers, however many clients sit idle
        assert threading.active_count() <= before + 1 + 2
        start = time.monotonic()
        busy = requests.get(f"{hub.url}/index.json", timeout=10)
        assert busy.status_code == 503 and time.monotonic() - start < 3
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = requests.get(f"{hub.url}/index.json", timeout=10)
        if response.status_code == 200:
            break
        time.sleep(0.2)
    assert response.status_code == 200, "workers must be released once clients are gone"


def test_handles_in_index_json_are_percent_encoded(modules, tmp_path, started, cache, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    name = "my model #1 100%"
    shutil.copy(modules["tiny_tgz"], served / f"{name}.tar.gz")
    hub = started(served)
    entry = requests.get(f"{hub.url}/index.json", timeout=10).json()["models"][0]
    assert entry["name"] == name
    assert entry["handle"] == f"{hub.url}/my%20model%20%231%20100%25.tar.gz"
    monkeypatch.setenv("GANHUB_CATALOGS", f"{hub.url}/index.json")
    catalog._CACHE.clear()
    got = resolve(name)
    assert got.source == "download" and got.sha256 == modules["tiny_sha"]


def test_error_bodies_carry_no_server_paths(modules, tmp_path, started):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["evil_tgz"], served / "evil.tar.gz")
    hub = started(served, samples=True)
    response = requests.get(f"{hub.url}/samples/evil.png", timeout=60)
    assert response.status_code == 404 and "WriteFile" in response.text
    for leak in (str(hub.workdir), str(served), str(tmp_path), "/tmp/"):
        assert leak not in response.text, response.text
    missing = requests.get(f"{hub.url}/samples/nope.png", timeout=10)
    assert missing.status_code == 404 and str(tmp_path) not in missing.text


def test_links_out_of_the_served_folder_are_not_followed(modules, tmp_path, started, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"\x89PNG secret bytes")
    shutil.copytree(modules["tiny_dir"], outside / "private-module")
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    (served / "tiny.png").symlink_to(outside / "secret.png")              # sample grid -> outside
    (served / "leak.tar.gz").symlink_to(modules["big_tgz"])               # archive -> outside
    (served / "private").symlink_to(outside / "private-module")           # module dir -> outside
    (served / "alias.tar.gz").symlink_to(served / "tiny.tar.gz")          # inside: fine
    hub = started(served)
    assert sorted(hub.models) == ["alias", "tiny"]
    assert sorted(name for name, _ in hub.skipped) == ["leak.tar.gz", "private"]
    assert "outside the served folder" in capsys.readouterr().err
    assert requests.get(f"{hub.url}/leak.tar.gz", timeout=10).status_code == 404
    assert requests.get(f"{hub.url}/private.tar.gz", timeout=10).status_code == 404
    grid = requests.get(f"{hub.url}/samples/tiny.png", timeout=10)
    assert b"secret" not in grid.content and grid.status_code == 404
    assert requests.get(f"{hub.url}/alias.tar.gz", timeout=10).content == \
        modules["tiny_tgz"].read_bytes()


def test_a_module_folder_with_a_link_inside_is_skipped(modules, tmp_path, started):
    served = tmp_path / "served"
    shutil.copytree(modules["tiny_dir"], served / "linked")
    (served / "linked" / "assets" / "passwd").symlink_to("/etc/passwd")
    hub = started(served)
    assert hub.models == {} and [n for n, _ in hub.skipped] == ["linked"]
    assert "symbolic link" in hub.skipped[0][1]
