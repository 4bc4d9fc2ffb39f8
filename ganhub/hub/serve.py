"""`ganhub serve DIR`: a directory of exported modules served as a hub over HTTP.

Routes: ``/`` (HTML catalog page, one card per model), ``/index.json`` (a catalog whose handles
are absolute URLs on this server, usable as GANHUB_CATALOGS), ``/<name>.tar.gz`` (with Range;
``?tf-hub-format=compressed`` is accepted, so ``tensorflow_hub.load(URL)`` works),
``/<name>`` (same archive, for hub-style handles), ``/<name>.tar.gz.sha256`` and
``/samples/<name>.png`` (a sample grid, rendered on first request unless disabled),
``/walks/<name>.gif`` (looping latent walks, ganhub.walks.walk_strip_gif, rendered likewise), and
``/<name>.npz`` for each reference-statistics file in DIR (listed in index.json with kind
"reference"; see ganhub/metrics/references.py).

DIR may hold ``<name>.tar.gz`` archives (with optional ``.sha256`` sidecars and ``<name>.png``
sample grids) and SavedModel directories, which are packed into a private temporary directory at
start-up.
"""
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
from urllib.parse import quote, unquote, urlparse

from ganhub import catalog, fileio, module_format, settings
from ganhub.errors import GanhubError, InvalidModuleError, ServeError
from ganhub.hub import page
from ganhub.export import package
from ganhub.hub import archive

SAMPLE_COUNT = settings.SERVE_SAMPLE_COUNT  # images in a sample grid
MAX_WORKERS = 16          # requests handled at once; more connections get a quick 503
IDLE_TIMEOUT = 30.0       # seconds a connection may sit without sending or reading


class ServedModel:
    def __init__(self, name, archive_path, sample_png=None):
        self.name = name
        self.archive = Path(archive_path)
        self.size = self.archive.stat().st_size
        self.sha256 = fileio.sha256_file(self.archive)
        self.metadata = _read_archive_metadata(self.archive)
        catalog.check_name(name, "served folder")
        catalog.check_fields(self.entry("http://localhost"), "served folder")
        self.sample_png = Path(sample_png) if sample_png else None
        self._sample_bytes = None
        self._sample_error = None
        self._walk = None  # (GIF bytes or None, error or None) once rendered
        self._lock = threading.Lock()

    def entry(self, base_url):
        quoted = quote(self.name)  # a file name may hold spaces, '#', '?', '%': keep URLs intact
        entry = catalog.module_entry(self.name, f"{base_url}/{quoted}.tar.gz", self.sha256,
                                     self.size, self.metadata)
        entry["samples"] = f"{base_url}/samples/{quoted}.png"
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

    def walk(self, tmp_root, enabled):
        """(GIF bytes of latent walks, None) or (None, why not); under the sample lock, since both
        render from the same extracted module."""
        with self._lock:
            if self._walk is None:
                if not enabled:
                    self._walk = (None, "sample rendering disabled (--no-samples)")
                else:
                    try:
                        self._walk = (_render_walk(self.archive, Path(tmp_root) / self.name), None)
                    except Exception as exc:  # a broken module must not take the page down
                        self._walk = (None, f"{type(exc).__name__}: {exc}")
            return self._walk


def _read_archive_metadata(path):
    """The module's assets/ganhub.json, checked (module_format, as any reader); None when it has none
    (TF1 modules). InvalidModuleError when it is unreadable, too big or has the wrong types."""
    wanted = {f"assets/{settings.METADATA_ASSET}", f"./assets/{settings.METADATA_ASSET}"}
    try:
        with tarfile.open(path, "r:*") as tar:
            for count, member in enumerate(tar):
                if count > archive.MAX_MEMBERS:
                    raise InvalidModuleError(f"more than {archive.MAX_MEMBERS} archive members")
                if member.isfile() and member.name in wanted:
                    if member.size > module_format.MAX_METADATA_BYTES:
                        raise InvalidModuleError(f"{member.name} is larger than "
                                                 f"{module_format.MAX_METADATA_BYTES} bytes")
                    meta = json.loads(tar.extractfile(member).read().decode("utf-8"))
                    return module_format.validate(meta, member.name, complete=False)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:  # CatalogError is a ValueError
        raise InvalidModuleError(f"bad module metadata: {exc}") from None
    return None


def _render_walk(archive_path, workdir):
    """Extract and scan the module as _render_samples does; return GIF bytes of latent walks."""
    from ganhub.generator import from_path
    from ganhub.walks import walk_strip_gif
    _render_samples(archive_path, workdir, extract_only=True)
    return walk_strip_gif(from_path(workdir / "module"))


def _render_samples(archive_path, workdir, extract_only=False):
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
    if extract_only:
        return None
    from ganhub.generator import from_path
    batch = np.asarray(from_path(module).sample(SAMPLE_COUNT, seed=settings.SAMPLE_SEED))  # uint8
    grid = ganhub_images.make_grid(batch)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    out = io.BytesIO()
    Image.fromarray(grid).save(out, format="PNG")
    return out.getvalue()


def _inside(path, root):
    """Whether ``path`` (after following its links) stays inside the folder ``root``."""
    try:
        path.resolve(strict=True).relative_to(root)
        return True
    except (OSError, ValueError, RuntimeError):
        return False


def check_directory(directory):
    """``directory`` as a Path if it is a folder, else an InvalidModuleError naming what it is
    (TensorFlow-free: `ganhub serve` checks its argument with it)."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        what = "is a file" if path.exists() else "does not exist"
        raise InvalidModuleError(f"{directory} {what}; give the folder of exported modules "
                                 f"(.tar.gz archives or SavedModel folders) to serve")
    return path


def collect(directory, workdir, skipped=None):
    """ServedModel for every archive and SavedModel directory in ``directory``.

    A module that cannot be served (bad metadata, a name that is not a valid model name, an
    unreadable archive, a link out of the folder) is skipped and reported on stderr and in
    ``skipped`` [(file name, reason)]; the others are served.
    """
    directory = check_directory(directory)
    root = directory.resolve()
    skipped = [] if skipped is None else skipped

    def skip(path, reason):
        skipped.append((path.name, reason))
        print(f"ganhub serve: warning: not serving {path.name}: {reason}", file=sys.stderr)

    def png(name):
        candidate = directory / f"{name}.png"
        return candidate if candidate.is_file() and _inside(candidate, root) else None

    models = {}
    entries = _entries_inside(directory, root, skip)
    for path in entries:
        if path.is_file() and path.name.endswith(".tar.gz"):
            name = path.name[: -len(".tar.gz")]
            try:
                served = ServedModel(name, path, png(name))
            except (GanhubError, OSError) as exc:
                skip(path, str(exc))
                continue
            _warn_on_stale_sidecar(path, served.sha256, root)
            models[name] = served
    for path in entries:
        if module_format.is_saved_model_dir(path) and path.name not in models:
            packed = Path(workdir) / "packed" / f"{path.name}.tar.gz"
            packed.parent.mkdir(parents=True, exist_ok=True)
            try:
                package.pack(path, packed)
                models[path.name] = ServedModel(path.name, packed, png(path.name))
            except (GanhubError, OSError) as exc:
                packed.unlink(missing_ok=True)
                skip(path, str(exc))
    return models


def _entries_inside(directory, root, skip):
    """The folder's entries, sorted, without links that lead out of it (a skipped module when
    the link looks like one)."""
    entries = []
    for path in sorted(directory.iterdir()):
        if path.is_symlink() and not _inside(path, root):
            if path.name.endswith(".tar.gz") or path.is_dir():
                skip(path, "it is a symbolic link to somewhere outside the served folder")
            continue
        entries.append(path)
    return entries


def _warn_on_stale_sidecar(path, sha256, root):
    """Warn when the archive's ``.sha256`` sidecar pins another hash (the real one is served)."""
    sidecar = Path(f"{path}.sha256")
    if sidecar.is_file() and _inside(sidecar, root):
        pinned = sidecar.read_text(encoding="utf-8", errors="replace")[:200].split()[:1]
        if pinned and pinned[0].lower() != sha256:
            print(f"ganhub serve: warning: {sidecar} does not match {path.name}; "
                  f"serving the archive's real sha256", file=sys.stderr)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers a connection's requests for ``self.server.hub``: ``_get`` routes each path to one
    method. Error bodies never name this machine's paths (``Hub.public``)."""
    protocol_version = "HTTP/1.1"
    server_version = "ganhub-serve"

    @property
    def hub(self):
        return self.server.hub

    @property
    def timeout(self):  # an idle or stalled connection is closed, freeing its worker
        return self.server.hub.idle_timeout

    def log_message(self, fmt, *args):
        if self.hub.verbose:
            sys.stderr.write(f"ganhub serve: {self.address_string()} {fmt % args}\n")

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        try:
            return self._get(head)
        except OSError:  # the client went away or stalled past the idle timeout
            self.close_connection = True
        except Exception as exc:  # a bug or bad data must not drop every client's connection
            self._internal_error(exc, head)

    def _get(self, head):
        path = unquote(urlparse(self.path).path).lstrip("/")
        if path in ("", "index.html"):
            return self._index_page(head)
        if path == "index.json":
            return self._index_json(head)
        if path.startswith("samples/") and path.endswith(".png"):
            return self._samples(path[len("samples/"):-len(".png")], head)
        if path.startswith("walks/") and path.endswith(".gif"):
            return self._walk(path[len("walks/"):-len(".gif")], head)
        if path.endswith(".tar.gz.sha256") and path[:-len(".tar.gz.sha256")] in self.hub.models:
            return self._sha256_sidecar(self.hub.models[path[:-len(".tar.gz.sha256")]], head)
        if path.endswith(".npz") and path[:-len(".npz")] in self.hub.references:
            return self._send_archive(self.hub.references[path[:-len(".npz")]], head)
        return self._archive(path[:-len(".tar.gz")] if path.endswith(".tar.gz") else path, head)

    def _base(self):
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _index_page(self, head):
        html_page = page.render(self.hub.title, self.hub.models, self.hub.references, self._base())
        self._send(200, html_page.encode("utf-8"), "text/html; charset=utf-8", head)

    def _index_json(self, head):
        hub, base = self.hub, self._base()
        data = {"catalog_version": catalog.CATALOG_VERSION, "name": f"served:{hub.title}",
                "models": [m.entry(base) for m in hub.models.values()]
                + [r.entry(base) for r in hub.references.values()]}
        self._send(200, json.dumps(data, indent=1).encode("utf-8"), "application/json", head)

    def _samples(self, name, head):
        model = self.hub.models.get(name)
        if model is None:
            return self._send(404, b"no such model", "text/plain", head)
        png = model.samples(self.hub.workdir, self.hub.render_samples)
        if png is None:
            body = f"no sample grid for {model.name}: {self.hub.public(model.sample_error)}"
            return self._send(404, body.encode("utf-8"), "text/plain", head)
        self._send(200, png, "image/png", head)

    def _walk(self, name, head):
        model = self.hub.models.get(name)
        if model is None:
            return self._send(404, b"no such model", "text/plain", head)
        gif, error = model.walk(self.hub.workdir, self.hub.render_samples)
        if gif is None:
            body = f"no latent walk for {model.name}: {self.hub.public(error)}"
            return self._send(404, body.encode("utf-8"), "text/plain", head)
        self._send(200, gif, "image/gif", head)

    def _sha256_sidecar(self, model, head):
        self._send(200, f"{model.sha256}  {model.name}.tar.gz\n".encode(), "text/plain", head)

    def _archive(self, name, head):
        model = self.hub.models.get(name)
        if model is None:
            return self._send(404, f"no model {name!r} here; see /index.json".encode(),
                              "text/plain", head)
        self._send_archive(model, head)

    def _send_archive(self, served, head):
        """A served file (module archive or reference .npz), whole or the range asked for."""
        status, start, end = _byte_range(self.headers.get("Range"), served.size)
        if status == 416:
            return self._send(416, b"", "text/plain", head,
                              {"Content-Range": f"bytes */{served.size}"})
        extra = {"Accept-Ranges": "bytes", "ETag": f'"{served.sha256}"'}
        if status == 206:
            extra["Content-Range"] = f"bytes {start}-{end}/{served.size}"
        self._send_headers(status, "application/gzip", end - start + 1, extra)
        if not head:
            self._copy_file(served.archive, start, end - start + 1)

    def _copy_file(self, path, start, length):
        with open(path, "rb") as fh:
            fh.seek(start)
            while length > 0:
                block = fh.read(min(1 << 20, length))
                if not block:
                    break
                try:
                    self.wfile.write(block)
                except OSError:  # gone, reset, or stalled past the idle timeout
                    self.close_connection = True
                    return
                length -= len(block)

    def _internal_error(self, exc, head):
        """Log the error here; the client gets a 500 that names nothing of this machine."""
        sys.stderr.write(f"ganhub serve: error answering {self.path[:200]!r}: "
                         f"{type(exc).__name__}: {exc}\n")
        self.close_connection = True
        try:
            self._send(500, b"internal error; see the server's log", "text/plain", head)
        except OSError:
            pass

    def _send_headers(self, status, content_type, length, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status, body, content_type, head=False, extra=None):
        self._send_headers(status, content_type, len(body), extra)
        if not head:
            self.wfile.write(body)


def _byte_range(header, size):
    """(status, first byte, last byte) answering a Range header for a file of ``size`` bytes:
    206 for one satisfiable range, 416 for an unsatisfiable one, else 200 and the whole file
    (no header, several ranges or a malformed one)."""
    whole = (200, 0, size - 1)
    if not header or not header.startswith("bytes=") or "," in header:
        return whole
    first, _, last = header[len("bytes="):].partition("-")
    try:
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(size - int(last), 0), size - 1
    except ValueError:
        return whole
    if start >= size or start > end:
        return 416, start, end
    return 206, start, end


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per connection, at most ``max_workers`` at once: a connection beyond that gets
    an immediate 503 and is closed, instead of a new thread (or a wait behind idle clients)."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    hub = None  # the Hub whose files _Handler serves

    def __init__(self, *args, max_workers=MAX_WORKERS, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_workers = max_workers
        self._slots = threading.BoundedSemaphore(max_workers)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request):
        body = b"busy: too many connections; retry shortly"
        try:
            request.settimeout(1.0)
            request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                            b"Retry-After: 1\r\nConnection: close\r\n"
                            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            pass
        self.shutdown_request(request)


class Hub:
    """The served directory: models, a work directory, and the HTTP server."""

    def __init__(self, directory, *, host="127.0.0.1", port=settings.SERVE_PORT, samples=True,
                 verbose=False, max_workers=MAX_WORKERS, idle_timeout=IDLE_TIMEOUT):
        self.models, self.references = {}, {}
        self.skipped = []
        self.render_samples = samples
        self.verbose = verbose
        self.idle_timeout = idle_timeout
        self.directory = Path(directory)
        self.workdir = None
        self.server = _ThreadingServer((host, port), _Handler, bind_and_activate=False,
                                       max_workers=max_workers)
        self.server.hub = self
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
            self.models = collect(directory, self.workdir, self.skipped)
            from ganhub.metrics.references import collect_served  # reference .npz files
            self.references = collect_served(directory, self.skipped)
            self.server.server_activate()
        except BaseException:
            self.server.server_close()
            if self._tmp is not None:
                self._tmp.cleanup()
            raise

    def public(self, text):
        """``text`` without this machine's paths (the work and served folders), for clients."""
        text = str(text or "")
        for path, label in ((self.workdir, "<module>"), (self.directory, "<served folder>")):
            if path is None:
                continue
            for form in {str(path), str(Path(path).resolve()), str(Path(path).absolute())}:
                text = text.replace(form, label)
        return text

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


def serve(directory, *, host="127.0.0.1", port=settings.SERVE_PORT, samples=True):
    hub = Hub(directory, host=host, port=port, samples=samples, verbose=True)
    if not hub.models:
        print(f"ganhub serve: warning: {directory} holds no <name>.tar.gz archive and no SavedModel "
              f"folder, so the hub is empty; export one with `ganhub export RUN {directory}/NAME`",
              file=sys.stderr)
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
