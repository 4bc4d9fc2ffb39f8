"""Issue 16, items 1 and 2: the served page draws the same samples as `ganhub sample`, formats
numbers and protocols for people, and fits a phone and a desktop window (headless Chromium)."""
import html.parser
import json
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest
import requests
from PIL import Image

from ganhub import describe, settings
from ganhub.cli import main
from ganhub.hub.page import format_score
from ganhub.hub.serve import Hub

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
PAGE_BACKGROUND = (0xFA, 0xFA, 0xFA)

MEASURED_PROTOCOL = {
    "num_samples": 10000, "seed": 0, "resize": "legacy", "kid_blocks": 10,
    "extractor_id": "fid_inception_offline", "extractor_sha256": settings.FID_INCEPTION_SHA256,
    "reference": {"dataset": "fashion_mnist_32", "split": "test", "num_samples": 10000,
                  "source_sha256": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"},
    "generator": {"name": "scored", "training_steps": 50000, "generator_weights": {"kind": "ema"}},
}


def _scored_module(source, target):
    """A copy of a fixture module whose metadata carries scores as ganhub evaluations write them
    (long floats, a protocol dict) and a uniform z: what made the page hard to read."""
    shutil.copytree(source, target)
    meta_path = target / "assets" / "ganhub.json"
    meta = json.loads(meta_path.read_text())
    meta["name"] = target.name
    meta["z_distribution"] = {"high": 1.0, "low": -1.0, "name": "uniform"}
    meta["penalty"] = {"type": "wgan_gp", "lambda": 10.0}
    meta["scores"] = {
        "fid": {"value": 12.299593247426287, "protocol": MEASURED_PROTOCOL, "source": "measured"},
        "kid": {"value": 0.0041786896542991055, "std": 0.0006424253580443041,
                "protocol": MEASURED_PROTOCOL, "source": "measured"}}
    meta_path.write_text(json.dumps(meta))
    return target


def _reference(path):
    """A reference file (the served page lists it with its 64-hex sha256, a long line)."""
    from ganhub.metrics.stats import FeatureStats, ReferenceStats
    features = np.random.default_rng(0).normal(size=(40, 6))
    ReferenceStats.from_stats(FeatureStats.from_features(features, keep=40),
                              extractor_id="fid_inception_offline",
                              extractor_sha256=settings.FID_INCEPTION_SHA256, resize="legacy",
                              dataset="fashion_mnist_32", split="test").save(path)


@pytest.fixture(scope="module")
def chromium():
    path = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
                None)
    assert path, "headless Chromium is required: apt-get install -y chromium"
    return path


@pytest.fixture
def page_hub(modules, tmp_path, cache):
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    _scored_module(modules["tiny_dir"], served / "scored-with-a-rather-long-module-name-to-wrap")
    _reference(served / "fashion_mnist_32-test-with-a-long-reference-name.npz")
    hub = Hub(served, host="127.0.0.1", port=0)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    yield hub
    hub.close()


def test_served_grid_has_the_pixels_of_ganhub_sample(page_hub, modules, tmp_path):
    """The page's grid used to go through to_uint8 twice: every pixel 0 or 255."""
    served = requests.get(f"{page_hub.url}/samples/tiny.png", timeout=120)
    assert served.status_code == 200, served.text
    out = tmp_path / "cli.png"
    assert main(["sample", str(modules["tiny_tgz"]), "-n", str(settings.SERVE_SAMPLE_COUNT),
                 "--seed", str(settings.SAMPLE_SEED), "-o", str(out)]) == 0
    (tmp_path / "served.png").write_bytes(served.content)
    with Image.open(tmp_path / "served.png") as a, Image.open(out) as b:
        page, cli = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(page, cli)
    # the tiny module's sigmoid outputs are grey; the double conversion made them 0/255
    tiles = page[2:-2, 2:-2]
    assert len(np.unique(tiles)) > 10 and 0 < np.median(tiles) < 255


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.body = [], {}

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.body = dict(attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_page_formats_scores_protocol_z_and_penalty(page_hub):
    page = requests.get(f"{page_hub.url}/", timeout=30).text
    parsed = _Text()
    parsed.feed(page)
    text = " ".join(" ".join(parsed.text).split())
    assert "12.30" in text and "0.0042 ± 0.0006" in text
    assert not re.search(r"\d\.\d{6,}", text), "a float printed with all its digits"
    assert "{'" not in text and "':" not in text, "a Python dict repr on the page"
    # the protocol as a short sentence, its details on demand
    assert "<summary>10,000 generated vs 10,000 fashion_mnist_32 test images</summary>" in page
    assert "features: fid_inception_offline (sha256 7ff4a85c3a63…)" in text
    assert "scored: EMA weights at step 50,000" in text
    # z and penalty as info, list and the model card write them
    assert describe.format_z({"dim": 8, "distribution": {"name": "uniform", "low": -1.0, "high": 1.0},
                             "batch_size": None}) in text
    assert "8-d uniform(-1, 1), any batch size" in text and "wgan_gp (λ=10)" in text
    assert "99.00" in text  # the tiny module's score, to its two decimals


@pytest.mark.parametrize("value, std, text", [
    (12.299593247426287, None, "12.30"), (0.0041786896542991055, 0.0006424253580443041,
                                          "0.0042 ± 0.0006"),
    (163.51, None, "163.51"), (0.32, None, "0.32"), (0.0, None, "0.00"), ("n/a", None, "n/a")])
def test_format_score(value, std, text):
    assert format_score(value, std) == text


def _chromium_dom(chromium, url, width, height, tmp_path):
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           f"--window-size={width},{height}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parsed = _Text()
    parsed.feed(proc.stdout)
    return parsed.body, proc.stdout


def _chromium_screenshot(chromium, url, width, height, path, tmp_path):
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           f"--window-size={width},{height}", f"--screenshot={path}", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_page_fits_phone_and_desktop_windows(page_hub, chromium, width, height, tmp_path):
    """Nothing sticks out past the window's right edge (the page's own script counts such
    elements), and the screenshot's right margin is bare page background: no card is cut off."""
    for name in ("tiny", "scored-with-a-rather-long-module-name-to-wrap"):  # render grids first
        assert requests.get(f"{page_hub.url}/samples/{name}.png", timeout=120).status_code == 200
    body, dom = _chromium_dom(chromium, f"{page_hub.url}/", width, height, tmp_path)
    assert body.get("data-ready") == "yes", "the page's script did not run"
    assert body.get("data-overflow") == "0", f"{body.get('data-overflow')} elements overflow"
    assert dom.count('data-samples="loaded"') == 2
    assert dom.count('class="card reference"') == 1 and 'id="references"' in dom
    shot = _chromium_screenshot(chromium, f"{page_hub.url}/", width, height,
                                tmp_path / f"page-{width}.png", tmp_path)
    assert shot.shape[:2] == (height, width)
    right_margin = shot[:, -6:].reshape(-1, 3)
    assert (right_margin == PAGE_BACKGROUND).all(), "content reaches the right edge of the window"
    # the sample grids were drawn: grey levels, not only the page's flat colours
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 50


def test_a_pinned_url_survives_a_restart(modules, tmp_path, cache):
    """A SavedModel folder is packed at every start: the same folder must give the same archive,
    or the page's `#sha256=` load line stops working after a restart."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copytree(modules["tiny_dir"], served / "folder")
    shas = []
    for _ in range(2):
        hub = Hub(served, host="127.0.0.1", port=0, samples=False)
        shas.append(hub.models["folder"].sha256)
        hub.server.server_close()
        hub._tmp.cleanup()
    assert shas[0] == shas[1]


def test_a_client_that_hangs_up_is_no_traceback(modules, tmp_path, cache, capfd):
    """A browser that leaves while a sample grid renders: the reply's write fails, which used to
    print a traceback from socketserver for every such client."""
    import socket
    import struct
    import time
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(modules["tiny_tgz"], served / "tiny.tar.gz")
    shutil.copy(modules["big_tgz"], served / "big.tar.gz")
    hub = Hub(served, host="127.0.0.1", port=0)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        for path in ("/samples/tiny.png", "/big.tar.gz", "/"):
            client = socket.create_connection(hub.server.server_address[:2], timeout=10)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            client.close()  # a reset, before the reply
        # waits for the grid the first client asked for, then for the replies to have failed
        assert requests.get(f"{hub.url}/samples/tiny.png", timeout=120).status_code == 200
        time.sleep(1.0)
        assert requests.get(f"{hub.url}/index.json", timeout=10).status_code == 200  # still serving
    finally:
        hub.close()
    assert "Traceback" not in capfd.readouterr().err
