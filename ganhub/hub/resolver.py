"""Turn a handle (catalog name, directory, .tar.gz, URL) into a local SavedModel directory.

``resolve`` is on ``ganhub.load``'s path, so the common cases cost a few stats: a local directory is
checked and scanned (a protobuf parse), a cached module is one ``is_dir``. Only a cache miss takes
the lock, downloads, verifies and installs.

``Resolved.source`` says where the path came from: "package" (shipped inside ganhub), "directory"
(the caller's own directory), "cache" (already in the cache), "archive" (a local .tar.gz just
extracted into the cache) or "download" (just downloaded into the cache).
"""
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from ganhub import catalog, fileio, module_format, settings
from ganhub.errors import InvalidModuleError, OfflineError, UnknownModelError, UntrustedModuleError
from ganhub.hub import cache

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
# Hosts that serve TF Hub modules and need the compressed-format query to send a tarball.
HUB_HOSTS = ("tfhub.dev", "www.tfhub.dev", "kaggle.com", "www.kaggle.com")


@dataclass(frozen=True)
class Resolved:
    path: Path
    entry: dict = None
    source: str = ""
    sha256: str = None

    def __fspath__(self):
        return str(self.path)


def resolve(handle, *, offline=None, trust=False):
    """Resolve ``handle`` to a local SavedModel directory (see module docstring)."""
    offline = settings.offline() if offline is None else bool(offline)
    if isinstance(handle, os.PathLike):
        handle = os.fspath(handle)
    if not isinstance(handle, str) or not handle:
        raise UnknownModelError(catalog.unknown_message(handle))
    if catalog.is_url(handle):
        url, sha = split_sha256_fragment(handle)
        return _resolve_url(url, sha256=sha, size=None, entry=None, offline=offline, trust=trust)
    path = Path(handle).expanduser()
    # A handle that reads as a path is the file system's, whatever a catalog names: no catalog
    # entry may take over load('/some/dir') (catalog names cannot look like paths either).
    if _path_like(handle) and _exists(path):
        return _resolve_local(path, entry=None, offline=offline, trust=trust)
    entry = catalog.find_entry(handle)
    if entry is not None and entry.get("kind", "model") != "model":
        raise UnknownModelError(f"{handle!r} is a {entry['kind']} in catalog {entry.get('catalog')!r}, "
                                f"not a model; use it with `ganhub evaluate MODEL --reference {handle}`")
    if entry is not None:
        return _resolve_entry(entry, offline=offline, trust=trust)
    if _exists(path):
        return _resolve_local(path, entry=None, offline=offline, trust=trust)
    raise UnknownModelError(catalog.unknown_message(handle))


def _exists(path):
    try:
        return path.exists()
    except OSError:  # a name too long for the file system, or an unreadable parent
        return False


def _path_like(handle):
    """Absolute, home- or dot-relative, with a path separator, or an archive name."""
    return (os.path.isabs(handle) or handle.startswith((".", "~")) or "/" in handle
            or os.sep in handle or handle.endswith(ARCHIVE_SUFFIXES))


def split_sha256_fragment(url):
    """'https://h/m.tar.gz#sha256=abc' -> ('https://h/m.tar.gz', 'abc')."""
    parsed = urlparse(url)
    sha = None
    if parsed.fragment:
        for key, value in parse_qsl(parsed.fragment):
            if key == "sha256":
                sha = value.lower()
        if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise InvalidModuleError(f"bad #sha256= fragment in {url!r}: expected 64 hex digits")
    return urlunparse(parsed._replace(fragment="")), sha


def download_url(url):
    """Apply the TF Hub convention: hub-style handles get ``?tf-hub-format=compressed``."""
    parsed = urlparse(url)
    if parsed.path.endswith(ARCHIVE_SUFFIXES) and parsed.hostname not in HUB_HOSTS:
        return url
    query = parse_qsl(parsed.query)
    if any(k == "tf-hub-format" for k, _ in query):
        return url
    query.append(("tf-hub-format", "compressed"))
    return urlunparse(parsed._replace(query=urlencode(query)))


def _resolve_entry(entry, *, offline, trust):
    handle = entry["handle"]
    builtin = entry.get("builtin", False)
    if handle.startswith("ganhub:"):
        rel = handle[len("ganhub:"):]
        path = settings.DEFAULT_MODEL_DIR if rel == "models/default" else settings.PACKAGE_DIR / rel
        if not module_format.is_saved_model_dir(path):
            raise UnknownModelError(
                f"model {entry['name']!r} is in the catalog but is not installed with this copy of "
                f"ganhub (nothing at {path}); run `ganhub list` to see the other models")
        return Resolved(path=path, entry=entry, source="package")
    if catalog.is_url(handle):
        url, sha = split_sha256_fragment(handle)
        return _resolve_url(url, sha256=entry.get("sha256") or sha, size=entry.get("size"),
                            entry=entry, offline=offline, trust=trust or builtin)
    path = Path(handle).expanduser()
    if not path.exists():
        raise UnknownModelError(f"model {entry['name']!r} from catalog {entry.get('catalog')!r} "
                                f"points at {path}, which does not exist")
    return _resolve_local(path, entry=entry, offline=offline, trust=trust or builtin,
                          expected_sha256=entry.get("sha256"))


def _resolve_local(path, *, entry, offline, trust, expected_sha256=None):
    if path.is_dir():
        if not module_format.is_saved_model_dir(path):
            raise InvalidModuleError(f"{path} is a directory but not a SavedModel (no saved_model.pb)")
        if not trust:
            from ganhub.hub import scan
            scan.check(path)
        return Resolved(path=path, entry=entry, source="directory")
    if path.name.endswith(ARCHIVE_SUFFIXES):
        # Re-hashing a big archive on every load would dominate load time: reuse the hash
        # recorded for this exact file (same size, mtime, inode), else hash it.
        ref = path.resolve().as_uri()
        stamp = cache.file_stamp(path)
        sha = cache.lookup_ref(ref, stamp)
        if sha is None or cache.lookup(sha) is None:
            sha = fileio.sha256_file(path)
            recorded = False
        else:
            recorded = True
        if expected_sha256 and sha != expected_sha256.lower():
            raise InvalidModuleError(f"{path} has sha256 {sha}, the catalog expects {expected_sha256}")
        module = cache.lookup(sha)
        source = "cache"
        if module is None:
            with cache.lock(sha) as lock:
                module = cache.install(path, sha, size=path.stat().st_size, source=path,
                                       heartbeat=lock.heartbeat)
            source = "archive"
        if not recorded:
            cache.write_ref(ref, sha, stamp)
        _check_cached(sha, module, trust)
        return Resolved(path=module, entry=entry, source=source, sha256=sha)
    raise InvalidModuleError(f"{path} is neither a SavedModel directory nor a .tar.gz module archive")


def _resolve_url(url, *, sha256, size, entry, offline, trust):
    from ganhub.hub import download

    known = sha256 or cache.lookup_ref(url)
    module = cache.lookup(known) if known else None
    if module is not None:
        _check_cached(known, module, trust)
        return Resolved(path=module, entry=entry, source="cache", sha256=known)
    if offline:
        name = entry["name"] if entry else url
        raise OfflineError(
            f"offline mode is on (GANHUB_OFFLINE or offline=True) and {name} is not in the cache "
            f"({cache.root()}); download it first with `ganhub download {name}` while online")
    key = sha256 or cache.url_key(url)
    source = "download"
    with cache.lock(key) as lock:
        # Another process may have finished while we waited for the lock.
        known = sha256 or cache.lookup_ref(url)
        module = cache.lookup(known) if known else None
        if module is not None:
            source = "cache"
        else:
            part, got_sha, got_size = download.fetch(
                download_url(url), cache.downloads_dir(), key, expected_sha256=sha256,
                expected_size=size, heartbeat=lock.heartbeat, offline=offline,
                label=entry["name"] if entry else url)
            try:
                module = cache.install(part, got_sha, size=got_size, source=url,
                                       heartbeat=lock.heartbeat)
            finally:
                part.unlink(missing_ok=True)
            known = got_sha
        if not sha256:
            cache.write_ref(url, known)
    _check_cached(known, module, trust)
    return Resolved(path=module, entry=entry, source=source, sha256=known)


def _check_cached(sha, module, trust):
    """Scan a cached entry once and remember the result next to it."""
    if trust:
        return
    from ganhub.hub import scan
    found = cache.read_scan(sha, scan.SCAN_VERSION)
    if found is None:
        found = scan.find_untrusted_ops(module)
        cache.write_scan(sha, found, scan.SCAN_VERSION)
    if found:
        raise UntrustedModuleError(scan.untrusted_message(module, found))
