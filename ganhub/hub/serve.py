"""`ganhub serve DIR`: a directory of exported modules served as a hub over HTTP.

Routes: ``/`` (HTML catalog page, one card per model), ``/index.json`` (a catalog whose handles
are absolute URLs on this server, usable as GANHUB_CATALOGS), ``/<name>.tar.gz`` (with Range;
``?tf-hub-format=compressed`` is accepted, so ``tensorflow_hub.load(URL)`` works),
``/<name>`` (same archive, for hub-style handles), ``/<name>.tar.gz.sha256`` and
``/samples/<name>.png`` (a sample grid, rendered on first request unless disabled).

DIR may hold ``<name>.tar.gz`` archives (with optional ``.sha256`` sidecars and ``<name>.png``
sample grids) and SavedModel directories, which are packed into a private temporary directory at
start-up.
"""
import html
import http.server
import io
import json
import socket
import socketserver
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from ganhub import catalog, settings
from ganhub.errors import GanhubError, InvalidModuleError
from ganhub.hub import archive

SAMPLE_COUNT = 16


class ServedModel:
    def __init__(self, name, archive_path, sample_png=None):
        self.name = name
        self.archive = Path(archive_path)
        self.size = self.archive.stat().st_size
        self.sha256 = archive.sha256_file(self.archive)
        self.metadata = _read_archive_metadata(self.archive)
        self.sample_png = Path(sample_png) if sample_png else None
        self._sample_bytes = None
        self._sample_error = None
        self._lock = threading.Lock()

    def entry(self, base_url):
        entry = {"name": self.name, "handle": f"{base_url}/{self.name}.tar.gz",
                 "sha256": self.sha256, "size": self.size, "integrity": "pinned",
                 "format": "saved_model", "signature": settings.SIGNATURE_KEY,
                 "input_key": settings.INPUT_KEY, "output_key": settings.OUTPUT_KEY,
                 "samples": f"{base_url}/samples/{self.name}.png"}
        if self.metadata:
            entry.update(catalog.metadata_to_entry(self.metadata))
        return entry

    def samples(self, tmp_root, enabled):
        """PNG bytes of a sample grid, or None (with the reason in ``sample_error``)."""
        with self._lock:
            if self._sample_bytes is None and self._sample_error is None:
                if self.sample_png and self.sample_png.is_file():
                    self._sample_bytes = self.sample_png.read_bytes()
                elif not enabled:
                    self._sample_error = "sample rendering disabled (--no-samples)"
                else:
                    try:
                        self._sample_bytes = _render_samples(self.archive, Path(tmp_root) / self.name)
                    except Exception as exc:  # a broken module must not take the page down
                        self._sample_error = f"{type(exc).__name__}: {exc}"
            return self._sample_bytes

    @property
    def sample_error(self):
        return self._sample_error


def _read_archive_metadata(path):
    wanted = {f"assets/{settings.METADATA_ASSET}", f"./assets/{settings.METADATA_ASSET}"}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name in wanted:
                    return json.loads(tar.extractfile(member).read().decode("utf-8"))
    except (tarfile.TarError, OSError, ValueError):
        pass
    return None


def _render_samples(archive_path, workdir):
    """Extract, scan, load and sample the module; return a PNG grid."""
    import numpy as np
    from PIL import Image

    from ganhub import images as ganhub_images
    from ganhub.hub import scan

    if not (workdir / "module").exists():
        archive.extract(archive_path, workdir / "extract")
        root = archive.find_saved_model_root(workdir / "extract")
        if root is None:
            raise InvalidModuleError("no saved_model.pb in the archive")
        root.rename(workdir / "module")
    module = workdir / "module"
    scan.check(module)  # rendering runs the graph: refuse the same modules resolve() refuses
    try:
        from ganhub.generator import from_path
        batch = from_path(module).sample(SAMPLE_COUNT, seed=settings.SAMPLE_SEED)
    except ImportError:
        batch = _sample_directly(module)
    grid = ganhub_images.make_grid(ganhub_images.to_uint8(np.asarray(batch)))
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    out = io.BytesIO()
    Image.fromarray(grid).save(out, format="PNG")
    return out.getvalue()


def _sample_directly(module):
    import tensorflow as tf
    loaded = tf.saved_model.load(str(module))
    fn = loaded.signatures[settings.SIGNATURE_KEY]
    z_dim = fn.structured_input_signature[1][settings.INPUT_KEY].shape[-1]
    z = tf.random.stateless_normal([SAMPLE_COUNT, z_dim], seed=[settings.SAMPLE_SEED, 0])
    return fn(**{settings.INPUT_KEY: z})[settings.OUTPUT_KEY].numpy()


def collect(directory, workdir):
    """ServedModel for every archive and SavedModel directory in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidModuleError(f"{directory} is not a directory")
    models = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name.endswith(".tar.gz"):
            name = path.name[: -len(".tar.gz")]
            sidecar = Path(f"{path}.sha256")
            served = ServedModel(name, path, directory / f"{name}.png")
            if sidecar.is_file():
                pinned = sidecar.read_text(encoding="utf-8").split()[:1]
                if pinned and pinned[0].lower() != served.sha256:
                    print(f"ganhub serve: warning: {sidecar} does not match {path.name}; "
                          f"serving the archive's real sha256", file=sys.stderr)
            models[name] = served
    for path in sorted(directory.iterdir()):
        if archive.is_saved_model_dir(path) and path.name not in models:
            packed = Path(workdir) / "packed" / f"{path.name}.tar.gz"
            packed.parent.mkdir(parents=True, exist_ok=True)
            archive.pack(path, packed)
            models[path.name] = ServedModel(path.name, packed, directory / f"{path.name}.png")
    return models


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ganhub: {title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;background:#fafafa;color:#222}}
.cards{{display:flex;flex-wrap:wrap;gap:1rem}}
.card{{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem;width:22rem}}
.card img{{width:100%;image-rendering:pixelated;background:#eee}}
table{{border-collapse:collapse;font-size:.9rem}} td{{padding:.1rem .5rem .1rem 0;vertical-align:top}}
code{{display:block;background:#f0f0f0;padding:.4rem;word-break:break-all;font-size:.8rem}}
</style></head><body>
<h1>ganhub models: {title}</h1>
<p>{count} model(s). Catalog: <a href="index.json">index.json</a>
(use it with <code style="display:inline">GANHUB_CATALOGS={base}/index.json</code>)</p>
<div class="cards">
{cards}
</div>
<script>
for (const img of document.querySelectorAll("img.samples")) {{
  const mark = ok => img.closest(".card").dataset.samples = ok ? "loaded" : "failed";
  if (img.complete) mark(img.naturalWidth > 0);
  img.addEventListener("load", () => mark(true));
  img.addEventListener("error", () => mark(false));
}}
for (const button of document.querySelectorAll("button.copy")) {{
  button.addEventListener("click", () =>
    navigator.clipboard.writeText(button.previousElementSibling.textContent));
}}
document.body.dataset.ready = "yes";
</script>
</body></html>
"""


def _card(model, base):
    entry = model.entry(base)
    load_line = f'ganhub.load("{entry["handle"]}#sha256={model.sha256}")'
    rows = []
    for key, score in (entry.get("scores") or {}).items():
        value = score.get("value") if isinstance(score, dict) else score
        protocol = score.get("protocol", "") if isinstance(score, dict) else ""
        rows.append(f'<tr class="score"><td>{html.escape(str(key))}</td>'
                    f'<td>{html.escape(str(value))}</td><td>{html.escape(str(protocol))}</td></tr>')
    meta = []
    for key in ("dataset", "architecture", "loss", "normalization", "penalty", "z", "image_shape",
                "created"):
        if entry.get(key) is not None:
            value = entry[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            meta.append(f"<tr><td>{key}</td><td>{html.escape(str(value))}</td></tr>")
    meta.append(f"<tr><td>size</td><td>{model.size} bytes</td></tr>")
    meta.append(f"<tr><td>sha256</td><td>{model.sha256}</td></tr>")
    return (f'<div class="card" id="model-{html.escape(model.name)}" data-name="{html.escape(model.name)}">'
            f"<h2>{html.escape(model.name)}</h2>"
            f'<img class="samples" alt="samples from {html.escape(model.name)}" '
            f'src="samples/{html.escape(model.name)}.png">'
            f'<table class="scores">{"".join(rows) or "<tr><td>no scores</td></tr>"}</table>'
            f'<table class="metadata">{"".join(meta)}</table>'
            f'<code class="load">{html.escape(load_line)}</code>'
            f'<button class="copy" type="button">copy</button></div>')


def _make_handler(hub):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ganhub-serve"

        def log_message(self, fmt, *args):
            if hub.verbose:
                sys.stderr.write(f"ganhub serve: {self.address_string()} {fmt % args}\n")

        def _base(self):
            host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
            return f"http://{host}"

        def _send(self, status, body, content_type, head=False, extra=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head=False):
            path = unquote(urlparse(self.path).path).lstrip("/")
            base = self._base()
            if path in ("", "index.html"):
                cards = "\n".join(_card(m, base) for m in hub.models.values())
                page = _PAGE.format(title=html.escape(hub.title), count=len(hub.models),
                                    cards=cards, base=html.escape(base))
                return self._send(200, page.encode("utf-8"), "text/html; charset=utf-8", head)
            if path == "index.json":
                data = {"catalog_version": catalog.CATALOG_VERSION, "name": f"served:{hub.title}",
                        "models": [m.entry(base) for m in hub.models.values()]}
                return self._send(200, json.dumps(data, indent=1).encode("utf-8"),
                                  "application/json", head)
            if path.startswith("samples/") and path.endswith(".png"):
                model = hub.models.get(path[len("samples/"):-len(".png")])
                if model is None:
                    return self._send(404, b"no such model", "text/plain", head)
                png = model.samples(hub.workdir, hub.render_samples)
                if png is None:
                    return self._send(404, model.sample_error.encode("utf-8"), "text/plain", head)
                return self._send(200, png, "image/png", head)
            if path.endswith(".tar.gz.sha256"):
                model = hub.models.get(path[: -len(".tar.gz.sha256")])
                if model is not None:
                    body = f"{model.sha256}  {model.name}.tar.gz\n".encode()
                    return self._send(200, body, "text/plain", head)
            name = path[: -len(".tar.gz")] if path.endswith(".tar.gz") else path
            model = hub.models.get(name)
            if model is None:
                return self._send(404, f"no model {name!r} here; see /index.json".encode(),
                                  "text/plain", head)
            return self._send_archive(model, head)

        def _send_archive(self, model, head):
            start, end = 0, model.size - 1
            status = 200
            extra = {"Accept-Ranges": "bytes", "ETag": f'"{model.sha256}"'}
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and "," not in rng:
                first, _, last = rng[len("bytes="):].partition("-")
                try:
                    if first:
                        start = int(first)
                        end = min(int(last), model.size - 1) if last else model.size - 1
                    else:
                        start = max(model.size - int(last), 0)
                except ValueError:
                    start, end = 0, model.size - 1
                else:
                    if start >= model.size or start > end:
                        return self._send(416, b"", "text/plain", head,
                                          {"Content-Range": f"bytes */{model.size}"})
                    status = 206
                    extra["Content-Range"] = f"bytes {start}-{end}/{model.size}"
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(length))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if head:
                return
            with open(model.archive, "rb") as fh:
                fh.seek(start)
                remaining = length
                while remaining > 0:
                    block = fh.read(min(1 << 20, remaining))
                    if not block:
                        break
                    try:
                        self.wfile.write(block)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    remaining -= len(block)

    return Handler


class ServeError(GanhubError, OSError):
    """The server cannot listen on the given address (port taken, invalid, or not permitted)."""


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Hub:
    """The served directory: models, a work directory, and the HTTP server."""

    def __init__(self, directory, *, host="127.0.0.1", port=8000, samples=True, verbose=False):
        self.models = {}
        self.render_samples = samples
        self.verbose = verbose
        self.server = _ThreadingServer((host, port), _make_handler(self), bind_and_activate=False)
        self._tmp = None
        try:
            # Bind first, so that a taken port fails before every module is hashed and packed;
            # listen last, so that clients are refused (not kept waiting) until the models are ready.
            try:
                self.server.server_bind()
            except (OSError, OverflowError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                option = "--host" if isinstance(exc, socket.gaierror) else "--port"
                raise ServeError(f"cannot listen on {host}:{port} ({reason}); "
                                 f"choose another {option}") from exc
            self._tmp = tempfile.TemporaryDirectory(prefix="ganhub-serve-")
            self.workdir = Path(self._tmp.name)
            self.title = Path(directory).resolve().name
            self.models = collect(directory, self.workdir)
            self.server.server_activate()
        except BaseException:
            self.server.server_close()
            if self._tmp is not None:
                self._tmp.cleanup()
            raise

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self):
        self.server.serve_forever()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._tmp.cleanup()


def serve(directory, *, host="127.0.0.1", port=8000, samples=True):
    hub = Hub(directory, host=host, port=port, samples=samples, verbose=True)
    print(f"ganhub serve: {len(hub.models)} model(s) from {directory} at {hub.url}/ "
          f"(catalog {hub.url}/index.json); Ctrl-C to stop", file=sys.stderr)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        hub.server.server_close()
        hub._tmp.cleanup()
    return 0
