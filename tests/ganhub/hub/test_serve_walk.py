"""`ganhub serve` shows latent walks on each model card: /walks/<name>.gif."""
import io
import shutil
import threading

import numpy as np
import pytest
import requests
from PIL import Image, ImageSequence

from ganhub import settings
from ganhub.hub.serve import Hub


def _start(served, **kwargs):
    hub = Hub(served, host="127.0.0.1", port=0, **kwargs)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    return hub


@pytest.fixture
def served(modules, tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    shutil.copy(modules["tiny_tgz"], folder / "tiny.tar.gz")
    shutil.copytree(modules["evil_dir"], folder / "evil")
    return folder


def test_card_shows_a_walk_whose_tiles_start_at_seeded_samples(served, modules):
    from ganhub.generator import from_path

    hub = _start(served)
    try:
        page = requests.get(hub.url, timeout=30).text
        assert '<img class="walk" alt="latent walks of tiny" src="walks/tiny.gif"' in page
        response = requests.get(f"{hub.url}/walks/tiny.gif", timeout=120)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
        gif = Image.open(io.BytesIO(response.content))
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
        assert len(frames) == 3 * 8 and gif.info.get("loop") == 0  # 3 keyframes, 8 steps each
        # tile i starts at keyframe 3i of the default sample seed (few colours: exact palette)
        keys = from_path(modules["tiny_dir"]).sample(12, seed=settings.SAMPLE_SEED)
        h, w, pad = keys.shape[1], keys.shape[2], 2
        for i in range(4):
            x = pad + i * (w + pad)
            np.testing.assert_array_equal(frames[0][pad:pad + h, x:x + w], keys[3 * i])
        assert requests.get(f"{hub.url}/walks/nope.gif", timeout=30).status_code == 404
    finally:
        hub.close()


def test_a_module_the_scan_refuses_gets_no_walk(served, modules):
    hub = _start(served)
    try:
        response = requests.get(f"{hub.url}/walks/evil.gif", timeout=60)
        assert response.status_code == 404 and "no latent walk for evil" in response.text
        assert not modules["evil_sentinel"].exists()  # the graph never ran
    finally:
        hub.close()


def test_no_samples_means_no_walk_rendering(served):
    hub = _start(served, samples=False)
    try:
        response = requests.get(f"{hub.url}/walks/tiny.gif", timeout=30)
        assert response.status_code == 404 and "disabled" in response.text
    finally:
        hub.close()
