"""`ganhub serve`: archives, index.json and the HTML page (rendered in headless Chromium)."""
import html.parser
import shutil
import subprocess
import threading

import pytest
import requests

from ganhub import catalog
from ganhub.hub import cache as hub_cache
from ganhub.hub.resolver import resolve
from ganhub.hub.serve import Hub

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--dump-dom"]


@pytest.fixture
def hub(modules, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    shutil.copy(f"{modules['tiny_tgz']}.sha256", served / "tiny.tar.gz.sha256")
    shutil.copytree(modules["big_dir"], served / "big")  # a bare SavedModel dir, packed on start
    shutil.copytree(modules["evil_dir"], served / "evil")
    hub = Hub(served, host="127.0.0.1", port=0)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield hub
    hub.close()


def _find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, which scripts/setup-tests.sh installs. Never skipped: without a browser
    the test fails and says why."""
    path = _find_chromium()
    assert path, ("headless Chromium is required for this test: run `apt-get install -y chromium` "
                  "(as root) before `python -m pytest`")
    return path


class _Cards(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.body, self._in_load = {}, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        if tag == "div" and "card" in (attrs.get("class") or "").split():
            self._card = attrs["data-name"]
            self.cards[self._card] = {"attrs": attrs, "load": ""}
        if tag == "code" and attrs.get("class") == "load":
            self._in_load = self._card

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_load = None

    def handle_data(self, data):
        if self._in_load:
            self.cards[self._in_load]["load"] += data


@pytest.mark.browser
@pytest.mark.slow
def test_page_renders_a_card_per_model_in_headless_chromium(hub, modules, chromium):
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"{hub.url}/"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = _Cards()
    page.feed(proc.stdout)
    assert page.body.get("data-ready") == "yes", "the page's script did not run"
    assert sorted(page.cards) == ["big", "evil", "tiny"]
    # sample grids were rendered by the server and decoded by the browser
    assert page.cards["tiny"]["attrs"].get("data-samples") == "loaded"
    assert page.cards["big"]["attrs"].get("data-samples") == "loaded"
    # the untrusted module is listed, but the server refuses to run it for samples
    assert page.cards["evil"]["attrs"].get("data-samples") == "failed"
    assert page.cards["tiny"]["load"] == (
        f'ganhub.load("{hub.url}/tiny.tar.gz#sha256={modules["tiny_sha"]}")')
    assert "fid" in proc.stdout and "99.0" in proc.stdout and "tiny_dense" in proc.stdout


def test_index_json_is_a_catalog_that_resolves(hub, modules, cache, monkeypatch):
    index = requests.get(f"{hub.url}/index.json", timeout=10).json()
    assert index["catalog_version"] == catalog.CATALOG_VERSION
    tiny = next(m for m in index["models"] if m["name"] == "tiny")
    assert tiny["sha256"] == modules["tiny_sha"] and tiny["integrity"] == "pinned"
    assert tiny["z"]["dim"] == 8 and tiny["architecture"] == "tiny_dense"
    monkeypatch.setenv("GANHUB_CATALOGS", f"{hub.url}/index.json")
    catalog._CACHE.clear()
    got = resolve("big")
    assert got.source == "download" and got.entry["catalog"].startswith("served:")
    assert hub_cache.verify_entry(got.sha256) == []


def test_archive_supports_range_and_head(hub, modules):
    data = modules["tiny_tgz"].read_bytes()
    url = f"{hub.url}/tiny.tar.gz"
    assert requests.get(url, timeout=10).content == data
    part = requests.get(url, headers={"Range": "bytes=100-"}, timeout=10)
    assert part.status_code == 206 and part.content == data[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    assert requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=10).status_code == 416
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    assert requests.get(f"{hub.url}/tiny.tar.gz.sha256", timeout=10).text.split()[0] == modules["tiny_sha"]
    assert requests.get(f"{hub.url}/nope.tar.gz", timeout=10).status_code == 404


def test_tensorflow_hub_and_ganhub_load_from_the_server(hub, modules, cache, tmp_path, monkeypatch):
    import numpy as np
    import tensorflow as tf
    import tensorflow_hub as tf_hub

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "tfhub"))
    plain = tf_hub.load(f"{hub.url}/tiny.tar.gz")
    z = tf.random.stateless_normal([2, 8], seed=[1, 2])
    expected = plain.signatures["serving_default"](z=z)["images"].numpy()
    got = resolve(f"{hub.url}/tiny.tar.gz#sha256={modules['tiny_sha']}")
    ours = tf.saved_model.load(str(got.path)).signatures["serving_default"](z=z)["images"].numpy()
    np.testing.assert_array_equal(ours, expected)
    # hub-style handle without the suffix, as tensorflow_hub would request it
    assert resolve(f"{hub.url}/tiny").sha256 == modules["tiny_sha"]
