"""Fixtures for the hub client tests: tiny modules built here, an isolated cache, and a
fault-injecting HTTP server on 127.0.0.1."""
import http.server
import json
import os
import socketserver
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
Z_DIM = 8
IMAGE_SHAPE = (4, 4, 3)


def _metadata(name, z_dim=Z_DIM, image_shape=IMAGE_SHAPE):
    return {
        "schema_version": 1, "name": name, "architecture": "tiny_dense", "loss": "ns",
        "penalty": {"type": "none", "lambda": 0.0},
        "normalization": {"generator": "none", "discriminator": "spectral_norm"}, "z_dim": z_dim,
        "z_distribution": {"name": "normal", "mean": 0.0, "stddev": 1.0},
        "image_shape": list(image_shape),
        "signature": {"key": "serving_default", "input": "z", "output": "images", "batch_size": None},
        "dataset": {"name": "synthetic", "split": "train", "preprocessing": "none"},
        "training": {"steps": 0}, "scores": {"fid": {"value": 99.0, "protocol": "test"}},
        "created": "2026-01-01T00:00:00Z",
    }


def build_tf2_module(path, *, name="tiny", hidden=0, write_file=False, seed=0):
    """A TF2 SavedModel with the ganhub signature: z [None, 8] -> {"images": [None, 4, 4, 3]}.

    ``hidden`` adds a hidden layer of that width, to make the archive bigger (random weights do
    not compress). ``write_file`` (a path) puts a WriteFile op writing it into the serving function.
    """
    import tensorflow as tf

    tf.random.set_seed(seed)
    out_dim = int(IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2])

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            width = hidden or Z_DIM
            self.w1 = tf.Variable(tf.random.normal([Z_DIM, width]), name="w1")
            self.w2 = tf.Variable(tf.random.normal([width, out_dim]) * 0.1, name="w2")

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def __call__(self, z):
            if write_file:
                tf.io.write_file(str(write_file), "x")
            h = tf.nn.relu(tf.matmul(z, self.w1))
            images = tf.sigmoid(tf.matmul(h, self.w2))
            return {"images": tf.reshape(images, [-1, *IMAGE_SHAPE])}

    module = Tiny()
    path = Path(path)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "ganhub.json").write_text(json.dumps(_metadata(name)), encoding="utf-8")
    return path


def build_tf1_hub_module(path, *, batch=64, z_dim=128, hw=8):
    """A TF1 Hub format module like the compare_gan ones: empty tag set, tfhub_module.pb,
    signature 'generator' with z float32 [64, 128] -> float images [64, hw, hw, 3] in [0, 1]."""
    import tensorflow as tf

    path = Path(path)
    with tf.Graph().as_default():
        z = tf.compat.v1.placeholder(tf.float32, [batch, z_dim], name="z")
        w = tf.compat.v1.get_variable(
            "generator/w", [z_dim, hw * hw * 3],
            initializer=tf.compat.v1.random_normal_initializer(stddev=0.1, seed=1))
        images = tf.reshape(tf.sigmoid(tf.matmul(z, w)), [batch, hw, hw, 3], name="images")
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(path))
            signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={"z": z}, outputs={"default": images})
            builder.add_meta_graph_and_variables(sess, [], signature_def_map={"generator": signature})
            builder.save()
    (path / "tfhub_module.pb").write_bytes(b"\x08\x01")
    return path


@pytest.fixture(scope="session")
def modules(tmp_path_factory):
    """Every fixture module and its archive, built once per session."""
    from ganhub.export import package

    base = tmp_path_factory.mktemp("modules")
    made = {}
    made["tiny_dir"] = build_tf2_module(base / "tiny")
    made["tiny_tgz"] = base / "tiny.tar.gz"
    made["tiny_sha"] = package.pack(made["tiny_dir"], made["tiny_tgz"])
    # about 600 kB of incompressible weights: big enough to kill a download half way
    made["big_dir"] = build_tf2_module(base / "big", name="big", hidden=18000, seed=1)
    made["big_tgz"] = base / "big.tar.gz"
    made["big_sha"] = package.pack(made["big_dir"], made["big_tgz"])
    made["evil_sentinel"] = base / "written-by-evil"
    made["evil_dir"] = build_tf2_module(base / "evil", name="evil", write_file=made["evil_sentinel"])
    made["evil_tgz"] = base / "evil.tar.gz"
    made["evil_sha"] = package.pack(made["evil_dir"], made["evil_tgz"])
    made["tf1_dir"] = build_tf1_hub_module(base / "tf1")
    made["tf1_tgz"] = base / "tf1.tar.gz"
    made["tf1_sha"] = package.pack(made["tf1_dir"], made["tf1_tgz"])
    return made


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty, private GANHUB_CACHE for one test. Online, no progress bars, no extra catalogs
    and no proxies come from tests/conftest.py's session-wide isolated_environment."""
    from ganhub import catalog

    root = tmp_path / "cache"
    monkeypatch.setenv("GANHUB_CACHE", str(root))
    monkeypatch.setattr("ganhub.hub.download.BACKOFF_BASE", 0.01)
    catalog._CACHE.clear()
    yield root
    catalog._CACHE.clear()


@pytest.fixture
def subprocess_env():
    """env(cache_root, **extra): the environment for a child process that uses ``cache_root``."""
    return _subprocess_env


def _subprocess_env(cache_root, **extra):
    env = dict(os.environ)
    env.update({"GANHUB_CACHE": str(cache_root), "GANHUB_DISABLE_PROGRESS": "1",
                "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
                "NO_PROXY": "127.0.0.1,localhost"})
    env.pop("GANHUB_OFFLINE", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class FaultyFiles:
    """What the fault server serves, and how it misbehaves, per path.

    ``files[path] = bytes``; ``faults[path]`` is a list of behaviours consumed one per request
    (then "ok"): "ok", "drop_half" (send Content-Length, then half the bytes, then close), "wrong"
    (same length, different bytes), "500", "slow" (``slow_delay`` per ``step`` bytes), "ignore_range"
    (answer a Range request with 200 and the whole file), "ignore_range_drop_half" (both: a proxy
    with a size limit that ignores Range), "long_length" (announce more bytes than are sent, ignoring Range),
    "no_length" (no Content-Length: the body ends when the connection closes), "trickle" (one
    byte per ``slow_delay``). ``redirects[path] = target``; ``headers[path]`` are extra response
    headers; ``accept_encoding`` records what each request asked for.
    """

    def __init__(self):
        self.files = {}
        self.faults = {}
        self.redirects = {}
        self.headers = {}
        self.accept_encoding = []
        self.requests = []
        self.slow_delay = 0.02
        self.step = 16384
        self.lock = threading.Lock()

    def next_fault(self, path):
        with self.lock:
            queue = self.faults.get(path)
            return queue.pop(0) if queue else "ok"

    def count(self, path, *, ranged=None):
        return sum(1 for p, rng in self.requests
                   if p == path and (ranged is None or bool(rng) == ranged))


def _make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            rng = self.headers.get("Range")
            with state.lock:
                state.requests.append((path, rng))
                state.accept_encoding.append(self.headers.get("Accept-Encoding"))
            if path in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path not in state.files:
                self.send_error(404)
                return
            data = state.files[path]
            fault = state.next_fault(path)
            if fault == "500":
                body = b"server error"
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if fault == "wrong":
                data = bytes(b ^ 0xFF for b in data)
            start = 0
            if rng and fault not in ("ignore_range", "ignore_range_drop_half", "long_length"):
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            if fault == "long_length":
                self.send_header("Content-Length", str(len(body) + 1000))
            elif fault == "no_length":
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/gzip")
            for key, value in state.headers.get(path, {}).items():
                self.send_header(key, value)
            self.end_headers()
            if fault == "trickle":
                for i in range(len(body)):
                    try:
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    time.sleep(state.slow_delay)
                return
            if fault in ("long_length", "no_length"):
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault in ("drop_half", "ignore_range_drop_half"):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            step = state.step
            for i in range(0, len(body), step):
                try:
                    self.wfile.write(body[i:i + step])
                except (BrokenPipeError, ConnectionResetError):
                    return
                if fault == "slow":
                    time.sleep(state.slow_delay)

    return Handler


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def fault_server():
    """(base_url, state): an HTTP server on 127.0.0.1 that misbehaves on request."""
    state = FaultyFiles()
    server = _Server(("127.0.0.1", 0), _make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


SERVED_PATH = "/models/tiny.tar.gz"


@pytest.fixture
def served(cache, modules, fault_server):
    """(url, state, sha256): the tiny module's archive at SERVED_PATH on a fault_server."""
    base, state = fault_server
    state.files[SERVED_PATH] = modules["tiny_tgz"].read_bytes()
    return f"{base}{SERVED_PATH}", state, modules["tiny_sha"]
