"""Module archives: safe extraction of a .tar.gz and packing a SavedModel directory into one.

The archive layout is the one tensorflow_hub's compressed format expects: the SavedModel directory's
contents (saved_model.pb, variables/, assets/) at the archive root. Extraction checks every member
before writing anything, and refuses absolute paths, ``..``, links that leave the archive, device
files and FIFOs, and archives whose expanded size exceeds ``settings.max_extract_bytes()``.
"""
import hashlib
import os
import posixpath
import shutil
import tarfile
from pathlib import Path

from ganhub import settings
from ganhub.errors import InvalidModuleError

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_saved_model_dir(path):
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in SAVED_MODEL_FILES)


def find_saved_model_root(directory):
    """The SavedModel root inside an extracted archive: the top, or its single sub-directory."""
    directory = Path(directory)
    if is_saved_model_dir(directory):
        return directory
    children = [c for c in directory.iterdir() if not c.name.startswith(".")]
    if len(children) == 1 and is_saved_model_dir(children[0]):
        return children[0]
    return None


def _normalised(name):
    """Member name with leading './' removed; None if absolute or escaping the root."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        return None
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm == ".":
        return norm
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def check_members(tar, *, limit=None):
    """Raise InvalidModuleError for the first unsafe member; return the members otherwise."""
    limit = settings.max_extract_bytes() if limit is None else limit
    total = 0
    members = []
    for member in tar:
        name = _normalised(member.name)
        if name is None:
            raise InvalidModuleError(f"unsafe archive member {member.name!r}: absolute path or '..'")
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise InvalidModuleError(f"unsafe archive member {member.name!r}: device file or FIFO")
        if member.issym() or member.islnk():
            target = member.linkname
            if member.issym():
                target = posixpath.join(posixpath.dirname(name), target)
            if target.startswith("/") or _normalised(target) is None:
                raise InvalidModuleError(
                    f"unsafe archive member {member.name!r}: link to {member.linkname!r} "
                    f"points outside the archive")
        elif not (member.isfile() or member.isdir()):
            raise InvalidModuleError(f"unsupported archive member {member.name!r} (type {member.type!r})")
        total += max(member.size, 0)
        if total > limit:
            raise InvalidModuleError(
                f"archive expands to more than {limit} bytes (GANHUB_MAX_EXTRACT_BYTES); refusing it")
        members.append(member)
    return members


def extract(archive_path, destination, *, on_progress=None, limit=None):
    """Safely extract ``archive_path`` into the (new or empty) directory ``destination``."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive_path, mode="r:*") as tar:
            members = check_members(tar, limit=limit)
            for member in members:
                # The 'data' filter repeats our checks inside tarfile itself and drops
                # permission bits we do not want (setuid, group/other write).
                tar.extract(member, destination, filter="data")
                if on_progress is not None:
                    on_progress()
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, tarfile.FilterError):
            raise InvalidModuleError(f"unsafe archive {archive_path}: {exc}") from exc
        raise InvalidModuleError(f"{archive_path} is not a readable .tar.gz module archive: {exc}") from exc
    return destination


def pack(saved_model_dir, archive_path):
    """Write ``archive_path`` (.tar.gz, members at the root) and ``archive_path.sha256``; return the sha256."""
    saved_model_dir = Path(saved_model_dir)
    if not is_saved_model_dir(saved_model_dir):
        raise InvalidModuleError(f"{saved_model_dir} is not a SavedModel directory (no saved_model.pb)")
    archive_path = Path(archive_path)
    tmp = archive_path.with_name(f".{archive_path.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, mode="w:gz", compresslevel=6) as tar:
            for path in sorted(saved_model_dir.rglob("*")):
                tar.add(path, arcname=path.relative_to(saved_model_dir).as_posix(), recursive=False)
        digest = sha256_file(tmp)
        os.replace(tmp, archive_path)
    except BaseException:  # an error or Ctrl-C: leave no half-written temp file behind
        tmp.unlink(missing_ok=True)
        raise
    write_text_atomic(f"{archive_path}.sha256", f"{digest}  {archive_path.name}\n")
    return digest


def write_text_atomic(path, text, encoding="utf-8"):
    """Write ``path`` through a temp file in the same directory and ``os.replace``: readers see
    the old file or the new one, never a truncated one; nothing is left behind on failure."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding=encoding)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def sha256_hasher(path, chunk=1 << 20):
    """A hashlib sha256 object fed with the file's bytes (callers may go on updating it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h


def sha256_file(path, chunk=1 << 20):
    return sha256_hasher(path, chunk).hexdigest()


def rmtree_quiet(path):
    shutil.rmtree(path, ignore_errors=True)
