"""Core file plumbing shared by every layer: atomic writes, hashing, "is this process alive".

An atomic write goes to a uniquely named temp file in the destination's directory (so the final
``os.replace`` never crosses a file system) and is renamed over the destination only once it is
complete: readers see the old file or the new one, never a truncated one, and a failure or Ctrl-C
leaves nothing behind. Files are created 0644 (0666 less the umask), like any other file the user
writes, rather than tempfile's 0600.
"""
import contextlib
import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

CHUNK = 1 << 20


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, *, mode=None):
    """Yield a temp path beside ``path``; on success it replaces ``path``, on failure it is removed.

    For writers that want a file name (``np.savez``, ``PIL.Image.save``): write to the yielded
    path, keeping its suffix.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, (0o666 & ~_umask()) if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path, data, *, mode=None):
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def write_text_atomic(path, text, encoding="utf-8", *, mode=None):
    return write_bytes_atomic(path, text.encode(encoding), mode=mode)


def write_json_atomic(path, data, *, indent=2, mode=None):
    return write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=True) + "\n", mode=mode)


def sha256_hasher(path, chunk=CHUNK):
    """A hashlib sha256 object fed with the file's bytes (callers may go on updating it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h


def sha256_file(path, chunk=CHUNK):
    return sha256_hasher(path, chunk).hexdigest()


def pid_alive(pid):
    """True if a process with ``pid`` exists on this machine (also when it belongs to another user)."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def storage_error(exc, where):
    """The CacheError to raise for an OSError writing into the ganhub cache at ``where`` (or the
    exception itself when it is something else): a full disk or a read-only cache is not a bad
    module, and the message says what to do."""
    from ganhub.errors import CacheError, GanhubError

    if isinstance(exc, GanhubError):
        return exc
    code = getattr(exc, "errno", None)
    if code in _FULL:
        return CacheError(f"no space left on the device holding {where} "
                          f"({exc.strerror or exc}); free some space (`ganhub cache prune`, "
                          f"`ganhub cache rm`) or point GANHUB_CACHE at a larger disk")
    if code in _READ_ONLY:
        return CacheError(f"cannot write to the ganhub cache at {where} ({exc.strerror or exc}); "
                          f"make it writable or point GANHUB_CACHE at a writable folder "
                          f"(modules already cached load with GANHUB_OFFLINE=1)")
    if code == errno.ENAMETOOLONG:
        return CacheError(f"a path in the cache is too long for the file system ({where}); "
                          f"point GANHUB_CACHE at a shorter folder")
    return exc
