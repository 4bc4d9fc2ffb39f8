"""The module cache: complete entries keyed by the archive's sha256, installed by atomic rename.

Layout under ``settings.cache_dir()``::

    modules/<sha256>/module/          the SavedModel directory
    modules/<sha256>/manifest.json    source, archive size, every file's size and sha256
    modules/<sha256>/scan.json        untrusted-op scan result, written on first untrusted load
    refs/<sha1 of url>.json           URL -> sha256, for handles whose hash is not pinned
    downloads/<key>.<host>.<pid>.<rand>.part   downloads in progress (resumable)
    locks/<key>.lock                  one downloader per module (see lock.py)
    tmp/                              staging; same file system as modules/, so rename is atomic

An entry directory appears in ``modules/`` only once it is complete, so a crash at any moment
leaves either nothing or a whole entry; leftovers in downloads/ and tmp/ are resumed or pruned.
"""
import hashlib
import json
import os
import shutil
import time
import uuid

from ganhub import fileio, module_format, settings
from ganhub.errors import InvalidModuleError
from ganhub.hub import archive
from ganhub.hub.lock import FileLock

MANIFEST = "manifest.json"
SCAN = "scan.json"
MODULE = "module"


def root():
    return settings.cache_dir()


def storage_error(exc, path=None):
    """fileio.storage_error for a path in the cache (the cache's root by default)."""
    return fileio.storage_error(exc, root() if path is None else path)


def _dir(name):
    path = root() / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path) from None
    return path


def entry_dir(sha256):
    return root() / "modules" / sha256


def lookup(sha256):
    """The SavedModel path of a complete entry, or None. One stat: this is on the load path."""
    module = root() / "modules" / sha256 / MODULE
    return module if module.is_dir() else None


def url_key(url):
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]


def _ref_path(url):
    return root() / "refs" / f"{hashlib.sha1(url.encode('utf-8')).hexdigest()}.json"


def lookup_ref(url, stamp=None):
    """sha256 recorded for ``url``; with ``stamp``, only if it was recorded with the same one."""
    try:
        with open(_ref_path(url), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if stamp is not None and data.get("stamp") != list(stamp):
        return None
    return data.get("sha256")


def write_ref(url, sha256, stamp=None):
    data = {"url": url, "sha256": sha256, "time": time.time()}
    if stamp is not None:
        data["stamp"] = list(stamp)
    try:
        _atomic_write_json(_ref_path(url), data)
    except OSError:
        pass  # a read-only cache still works; the ref only saves work next time


def file_stamp(path):
    """What must not change for a local archive's recorded sha256 to stay valid."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def _atomic_write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_json_atomic(path, data, indent=1)


def lock(key):
    return FileLock(_dir("locks") / f"{key}.lock", timeout=settings.lock_timeout(),
                    stale_after=settings.lock_stale_after())


def downloads_dir():
    return _dir("downloads")


def _file_hashes(directory):
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(directory).as_posix()] = [path.stat().st_size,
                                                             fileio.sha256_file(path)]
    return files


def install(archive_path, sha256, *, size, source, heartbeat=None):
    """Extract a verified archive into a new entry; return the SavedModel path.

    If another process installed the same sha256 meanwhile, its entry wins and ours is discarded.
    """
    existing = lookup(sha256)
    if existing is not None:
        return existing
    staging = _dir("tmp") / f"{sha256[:16]}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        return _install(archive_path, sha256, staging, size=size, source=source,
                        heartbeat=heartbeat)
    except OSError as exc:
        raise storage_error(exc, root()) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _install(archive_path, sha256, staging, *, size, source, heartbeat):
    extracted = staging / "extract"
    archive.extract(archive_path, extracted, on_progress=heartbeat)
    found = archive.find_saved_model_root(extracted)
    if found is None:
        raise InvalidModuleError(
            f"{source} is not a module archive: no saved_model.pb at its root "
            f"(expected the SavedModel directory's contents: saved_model.pb, variables/, assets/)")
    os.rename(found, staging / MODULE)
    _atomic_write_json(staging / MANIFEST, {
        "sha256": sha256, "size": size, "source": str(source), "installed": time.time(),
        "files": _file_hashes(staging / MODULE)})
    if extracted.exists():
        shutil.rmtree(extracted)
    target = entry_dir(sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, target)
    except OSError:
        if lookup(sha256) is None:
            raise
    return target / MODULE


def read_scan(sha256, version):
    """The remembered op-scan verdict, or None when there is none or it was made by other rules."""
    try:
        with open(entry_dir(sha256) / SCAN, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("version") != version:
            return None
        return [tuple(item) for item in data["untrusted_ops"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_scan(sha256, found, version):
    try:
        _atomic_write_json(entry_dir(sha256) / SCAN, {"version": version,
                                                      "untrusted_ops": [list(f) for f in found]})
    except OSError:
        pass  # a read-only cache still works, it just scans again next time


def _manifest(entry):
    try:
        with open(entry / MANIFEST, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _disk_usage(path):
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def entries():
    """Every entry in modules/, complete or not, as dicts (for `ganhub cache ls`)."""
    modules = root() / "modules"
    if not modules.is_dir():
        return []
    refs = {}
    refs_dir = root() / "refs"
    if refs_dir.is_dir():
        for ref in refs_dir.glob("*.json"):
            try:
                data = json.loads(ref.read_text(encoding="utf-8"))
                refs.setdefault(data["sha256"], []).append(data["url"])
            except (OSError, ValueError, KeyError):
                continue
    result = []
    for entry in sorted(modules.iterdir()):
        if not entry.is_dir():
            continue
        manifest = _manifest(entry) or {}
        result.append({
            "sha256": entry.name,
            "path": str(entry / MODULE),
            "source": manifest.get("source"),
            "urls": sorted(refs.get(entry.name, [])),
            "bytes": _disk_usage(entry),
            "installed": manifest.get("installed"),
        })
    return result


def _reference_summary(path):
    """'fashion_mnist_32 test, 10000 images' from a reference file's provenance, or None."""
    try:
        import numpy as np
        with np.load(path, allow_pickle=False) as data:
            p = json.loads(str(data["provenance"]))
        words = [p.get("dataset"), p.get("split"), f"{p.get('num_samples', '?')} images",
                 p.get("extractor_id"), p.get("resize") and f"resize {p['resize']}"]
        return ", ".join(str(w) for w in words if w)
    except Exception:  # not ours to judge here: `ganhub evaluate` reports a bad file
        return None


def other_files():
    """What else `ganhub evaluate` and `ganhub stats` keep in the cache, for `ganhub cache ls`:
    the FID Inception weights (extractors/downloads), their converted SavedModels (extractors/)
    and reference statistics (references/), each {what, path, bytes}."""
    found = []
    extractors = root() / "extractors"
    if extractors.is_dir():
        for path in sorted(extractors.iterdir()):
            if path.name == "downloads" and path.is_dir():
                for weights in sorted(path.glob("*.pt")):
                    found.append({"what": f"FID Inception weights ({weights.name})",
                                  "path": str(weights), "bytes": weights.stat().st_size})
            elif path.is_dir() and not path.name.endswith(".tmp"):
                found.append({"what": f"feature extractor {path.name.split('-v')[0]}, converted",
                              "path": str(path), "bytes": _disk_usage(path)})
    references = root() / "references"
    if references.is_dir():
        for path in sorted(references.glob("*.npz")):
            summary = _reference_summary(path)
            found.append({"what": "reference statistics" + (f": {summary}" if summary else ""),
                          "path": str(path), "bytes": path.stat().st_size})
    return found


def verify_entry(sha256):
    """Re-hash every file of an entry against its manifest; return a list of problems."""
    entry = entry_dir(sha256)
    manifest = _manifest(entry)
    if manifest is None:
        return ["manifest.json missing or unreadable"]
    module = entry / MODULE
    if not module_format.is_saved_model_dir(module):
        return ["module/saved_model.pb missing"]
    problems = []
    recorded = manifest.get("files", {})
    for rel, (size, digest) in sorted(recorded.items()):
        path = module / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != size:
            problems.append(f"{rel}: {path.stat().st_size} bytes, expected {size}")
        elif fileio.sha256_file(path) != digest:
            problems.append(f"{rel}: sha256 differs")
    for path in sorted(module.rglob("*")):
        rel = path.relative_to(module).as_posix()
        if path.is_file() and rel not in recorded:
            problems.append(f"{rel}: not in the manifest")
    return problems


def remove(sha256):
    """Remove an entry atomically (rename out of modules/, then delete)."""
    entry = entry_dir(sha256)
    if not entry.exists():
        return False
    trash = _dir("tmp") / f"trash.{sha256[:16]}.{uuid.uuid4().hex[:8]}"
    os.rename(entry, trash)
    shutil.rmtree(trash, ignore_errors=True)
    refs_dir = root() / "refs"
    if refs_dir.is_dir():
        for ref in refs_dir.glob("*.json"):
            try:
                if json.loads(ref.read_text(encoding="utf-8")).get("sha256") == sha256:
                    ref.unlink()
            except (OSError, ValueError):
                continue
    return True


def prune(*, max_age=None):
    """Delete leftovers: orphaned partial downloads, staging dirs, stale locks, dangling refs.

    ``max_age`` (seconds): leftovers younger than this are kept, as a live process may own them
    (default: settings.lock_stale_after()). Returns a list of removed paths.
    """
    from ganhub.hub.download import partial_owner_alive

    max_age = settings.lock_stale_after() if max_age is None else max_age
    removed = []
    now = time.time()
    base = root()

    def old(path):
        try:
            return now - path.stat().st_mtime > max_age
        except FileNotFoundError:
            return False

    downloads = base / "downloads"
    if downloads.is_dir():
        for part in downloads.glob("*.part"):
            if not partial_owner_alive(part, max_age):
                part.unlink(missing_ok=True)
                removed.append(str(part))
    tmp = base / "tmp"
    if tmp.is_dir():
        for item in tmp.iterdir():
            pid = _pid_of_staging(item.name)
            if (pid is not None and not fileio.pid_alive(pid)) or old(item):
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
                removed.append(str(item))
    locks = base / "locks"
    if locks.is_dir():
        for path in locks.iterdir():
            if path.name.endswith(".lock"):
                probe = FileLock(path, timeout=0, stale_after=max_age)
                if probe._is_stale():
                    probe._break_stale()
                    removed.append(str(path))
            elif old(path):
                path.unlink(missing_ok=True)
                removed.append(str(path))
    refs_dir = base / "refs"
    if refs_dir.is_dir():
        for ref in refs_dir.glob("*.json"):
            try:
                sha = json.loads(ref.read_text(encoding="utf-8")).get("sha256")
            except (OSError, ValueError):
                sha = None
            if not sha or lookup(sha) is None:
                ref.unlink(missing_ok=True)
                removed.append(str(ref))
    return removed


def _pid_of_staging(name):
    parts = name.split(".")
    if len(parts) >= 3 and parts[-2].isdigit():
        return int(parts[-2])
    return None


