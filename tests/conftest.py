"""Fixtures shared by the whole suite: an isolated environment, a tiny trained + exported GAN,
and a static HTTP server on 127.0.0.1."""
import functools
import http.server
import socketserver
import threading

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """No test touches the user's caches, prints progress bars, or reaches a proxy."""
    root = tmp_path_factory.mktemp("env")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANHUB_CACHE", str(root / "ganhub-cache"))
        mp.setenv("TFHUB_CACHE_DIR", str(root / "tfhub-cache"))
        mp.setenv("GANHUB_DISABLE_PROGRESS", "1")
        mp.delenv("GANHUB_OFFLINE", raising=False)
        mp.delenv("GANHUB_CATALOGS", raising=False)
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            mp.delenv(var, raising=False)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield root


def write_fake_fashion_mnist(directory, n=96, seed=0):
    """Tiny IDX files in the Fashion-MNIST layout: bright blobs of different sizes on black."""
    from ganhub.training.data import write_idx

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:28, :28]
    for split, count in (("train", n), ("t10k", n // 2)):
        images = np.zeros((count, 28, 28), np.uint8)
        for i in range(count):
            cy, cx, r = rng.integers(8, 20), rng.integers(8, 20), rng.integers(3, 8)
            images[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(120, 256)
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
    return directory


TINY_CONFIG = dict(width=0.0625, batch_size=8, steps=3, checkpoint_every=2, z_dim=16)


@pytest.fixture
def eager_functions():
    """Run tf.functions eagerly: tracing a training step costs ~10 s per Trainer on 2 shared cores,
    a few eager steps cost less. Runs compared with each other must all use it."""
    import tensorflow as tf
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.fixture
def tiny_config():
    """Config overrides for a seconds-long SNDCGAN run (width 1/16, batch 8, 3 steps, z_dim 16)."""
    return dict(TINY_CONFIG)


@pytest.fixture(scope="session")
def fake_fashion_dir(tmp_path_factory):
    return write_fake_fashion_mnist(tmp_path_factory.mktemp("fashion"))


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory, fake_fashion_dir):
    """A 3-step SNDCGAN run on the fake data (width 1/16, batch 8)."""
    from ganhub.training import Config, train

    model_dir = tmp_path_factory.mktemp("run") / "model"
    config = Config(data_dir=str(fake_fashion_dir), **TINY_CONFIG)
    result = train(config, model_dir, progress=False)
    assert result["step"] == 3
    return model_dir


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained_dir):
    """export_module's result for trained_dir: path, metadata, archive, sha256, size."""
    from ganhub.export import export_module

    out = tmp_path_factory.mktemp("export") / "tiny-gan"
    return export_module(trained_dir, out)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def static_server():
    """start(directory) → base URL of a plain http.server on 127.0.0.1 serving that folder."""
    servers = []

    def start(directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
