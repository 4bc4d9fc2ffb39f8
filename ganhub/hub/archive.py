"""Module archives: safe extraction of a downloaded .tar.gz.

The archive layout is the one tensorflow_hub's compressed format expects: the SavedModel directory's
contents (saved_model.pb, variables/, assets/) at the archive root. Extraction checks every member
and the stream's checksum before writing anything; it accepts only plain files and folders (no
links of any kind, devices or FIFOs), refuses absolute paths and ``..``, paths through a member
that is not a folder, more than ``MAX_MEMBERS`` members, and archives whose expanded size exceeds
``settings.max_extract_bytes()``. Packing (ganhub.export.package.pack) is the other direction.
"""
import errno
import os
import tarfile
import zlib
from pathlib import Path

from ganhub import fileio, settings
from ganhub.errors import GanhubError, InvalidModuleError
from ganhub.module_format import is_saved_model_dir


def find_saved_model_root(directory):
    """The SavedModel root inside an extracted archive: the top, or its single sub-directory."""
    directory = Path(directory)
    if is_saved_model_dir(directory):
        return directory
    children = [c for c in directory.iterdir() if not c.name.startswith(".")]
    if len(children) == 1 and is_saved_model_dir(children[0]):
        return children[0]
    return None


MAX_MEMBERS = 10_000          # a SavedModel has a handful of files; this only stops header floods
MAX_NAME_BYTES = 255           # one path component (NAME_MAX on every common file system)
MAX_PATH_BYTES = 1024          # a whole member path
_CHUNK = 1 << 20


def _normalised(name):
    """Member name as a tuple of components (leading './' dropped); None if absolute, escaping the
    root or containing '.'/'..'/empty components anywhere (no normalisation is applied: a member
    ``a/../b`` is refused, not read as ``b``)."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    if "\\" in name or "\0" in name:
        return None
    parts = name.split("/")
    while parts and parts[0] == ".":
        parts.pop(0)
    while parts and parts[-1] == "":  # directories are often stored as 'name/'
        parts.pop()
    if not parts:
        return ()
    if any(p in ("", ".", "..") for p in parts):
        return None
    return tuple(parts)


def _refuse(member, reason):
    raise InvalidModuleError(f"unsafe archive member {member.name[:200]!r}: {reason}; refusing the archive")


def check_members(tar, *, limit=None, max_members=None):
    """Raise InvalidModuleError for the first unsafe member; return [(member, parts)] otherwise.

    A SavedModel needs nothing but regular files and directories, so every other member type is
    refused outright: symlinks and hardlinks (tarfile's own 'data' filter has known bypasses
    through link chains, CVE-2025-4517), devices, FIFOs. A member whose path passes through an
    earlier member that is not a directory, a name given twice, and names longer than the file
    system takes are refused too.
    """
    limit = settings.max_extract_bytes() if limit is None else limit
    max_members = MAX_MEMBERS if max_members is None else max_members
    total = 0
    kinds = {}  # parts -> "dir" | "file"
    checked = []
    for count, member in enumerate(tar, start=1):
        if count > max_members:
            raise InvalidModuleError(f"archive has more than {max_members} members; a module has a "
                                     f"handful of files, refusing it")
        parts = _normalised(member.name)
        if parts is None:
            _refuse(member, "absolute path, '..' or an odd path component")
        if member.issym() or member.islnk():
            _refuse(member, f"a {'symbolic' if member.issym() else 'hard'} link (to "
                            f"{member.linkname[:200]!r}); module archives hold only files and folders")
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            _refuse(member, "device file or FIFO")
        if not (member.isreg() or member.isdir()):
            _refuse(member, f"unsupported member type {member.type!r}")
        if not parts:
            if member.isdir():
                continue  # the archive root './'
            _refuse(member, "a file without a name")
        encoded = "/".join(parts).encode("utf-8", "surrogateescape")
        if len(encoded) > MAX_PATH_BYTES or any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
                                                for p in parts):
            _refuse(member, f"path longer than {MAX_PATH_BYTES} bytes or a name longer than "
                            f"{MAX_NAME_BYTES} bytes")
        for i in range(1, len(parts)):
            if kinds.get(parts[:i], "dir") != "dir":
                _refuse(member, f"its path passes through {'/'.join(parts[:i])!r}, which is not a folder")
            kinds.setdefault(parts[:i], "dir")
        kind = "dir" if member.isdir() else "file"
        if parts in kinds and (kind == "file" or kinds[parts] == "file"):
            _refuse(member, "the archive holds this name twice")
        kinds[parts] = kind
        total += max(member.size, 0)
        if total > limit:
            raise InvalidModuleError(
                f"archive expands to more than {limit} bytes (GANHUB_MAX_EXTRACT_BYTES); refusing it")
        checked.append((member, parts))
    return checked


def _drain(tar, limit):
    """Read the compressed stream to its very end, so its checksum (gzip CRC-32 and length) is
    checked: tarfile stops at the end-of-archive marker, before the trailer."""
    fileobj = tar.fileobj
    read = 0
    while True:
        block = fileobj.read(_CHUNK)
        if not block:
            return
        read += len(block)
        if read > limit:
            raise InvalidModuleError(f"archive has more than {limit} bytes of trailing data after the "
                                     f"end-of-archive marker (GANHUB_MAX_EXTRACT_BYTES); refusing it")


def _write_member(tar, member, parts, root_fd):
    """Create one checked member below the directory ``root_fd`` without following any link."""
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    fds = []
    try:
        parent = root_fd
        for part in parts[:-1]:
            try:
                os.mkdir(part, 0o755, dir_fd=parent)
            except FileExistsError:
                pass
            parent = os.open(part, flags_dir, dir_fd=parent)
            fds.append(parent)
        if member.isdir():
            try:
                os.mkdir(parts[-1], 0o755, dir_fd=parent)
            except FileExistsError:
                fd = os.open(parts[-1], flags_dir, dir_fd=parent)  # must be a real folder
                os.close(fd)
            return
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o644, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            source = tar.extractfile(member)
            remaining = member.size
            while remaining > 0:
                block = source.read(min(_CHUNK, remaining))
                if not block:
                    raise tarfile.ReadError(f"unexpected end of data in {member.name!r}")
                out.write(block)
                remaining -= len(block)
    finally:
        for fd in reversed(fds):
            os.close(fd)


def extract(archive_path, destination, *, on_progress=None, limit=None):
    """Safely extract ``archive_path`` into the new or empty directory ``destination``.

    Every member is checked (``check_members``) and the compressed stream is read to its end
    (its checksum verified) before anything is written; files are then created with
    O_EXCL|O_NOFOLLOW relative to the destination's file descriptor, so nothing can land outside
    it. tarfile's extraction (and its 'data' filter) is not used at all.
    """
    destination = Path(destination)
    limit = settings.max_extract_bytes() if limit is None else limit
    try:
        destination.mkdir(parents=True, exist_ok=True)
        if any(destination.iterdir()):
            raise InvalidModuleError(f"extraction target {destination} is not empty")
    except OSError as exc:
        raise fileio.storage_error(exc, destination) from None
    try:
        with tarfile.open(archive_path, mode="r:*", errorlevel=2) as tar:
            members = check_members(tar, limit=limit)
            _drain(tar, limit)
            root_fd = os.open(destination, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for member, parts in members:
                    try:
                        _write_member(tar, member, parts, root_fd)
                    except OSError as exc:
                        if _is_storage_problem(exc):
                            raise fileio.storage_error(exc, destination) from None
                        raise
                    if on_progress is not None:
                        on_progress()
            finally:
                os.close(root_fd)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        if isinstance(exc, GanhubError):
            raise
        raise InvalidModuleError(f"{archive_path} is not a readable .tar.gz module archive "
                                 f"({_reason(exc)}); it may be truncated or corrupt") from None
    return destination


def _is_storage_problem(exc):
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                           errno.EPERM)


def _reason(exc):
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."
