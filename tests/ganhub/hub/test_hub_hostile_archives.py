"""Hostile archives built here: the CVE-2025-4517 link chain, paths through files, floods of
members, flipped bytes, over-long names, a full or read-only cache; and reproducible packing."""
import errno
import gzip
import os
import shutil
import tarfile
import time

import pytest

from _tar_helpers import add_member
from ganhub.errors import CacheError, InvalidModuleError
from ganhub.export import package
from ganhub.hub import archive
from ganhub.hub import cache as hub_cache
from ganhub.hub.resolver import resolve


def _nothing_installed(cache_root):
    modules = cache_root / "modules"
    assert not modules.exists() or not any(modules.iterdir()), "nothing may be installed"
    tmp = cache_root / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir()), "the staging directory must be cleaned up"


def path_max_chain(path, destination, victim, created):
    """The CVE-2025-4517 pattern: 16 nested folders of 247-letter names reached through one-letter
    symlinks, a link whose target only resolves past PATH_MAX, ``escape`` pointing through it to /,
    then plain files under ``escape/<absolute path>``. tarfile's 'data' filter lets it through on
    Python 3.11.7 (checked by hand against the previous extractor: it overwrote ``victim`` and
    created ``created``)."""
    comp = "d" * 247
    steps = "abcdefghijklmnop"
    with tarfile.open(path, "w:gz") as tar:
        prefix = ""
        for step in steps:
            add_member(tar, os.path.join(prefix, comp), type=tarfile.DIRTYPE, mode=0o755)
            add_member(tar, os.path.join(prefix, step), type=tarfile.SYMTYPE, linkname=comp)
            prefix = os.path.join(prefix, comp)
        linkpath = os.path.join(*steps, "l" * 254)
        add_member(tar, linkpath, type=tarfile.SYMTYPE, linkname="../" * len(steps))
        up = "/.." * (2 + len(destination.parts))
        add_member(tar, "escape", type=tarfile.SYMTYPE, linkname=linkpath + up)
        add_member(tar, "escape" + str(victim), data=b"overwritten")
        add_member(tar, "escape" + str(created), data=b"created")
        add_member(tar, "saved_model.pb", data=b"\0")
    return path


def test_path_max_symlink_chain_writes_nothing_outside(tmp_path):
    start = time.monotonic()
    outside = tmp_path / "outside"
    outside.mkdir()
    victim, created = outside / "victim.txt", outside / "created.txt"
    victim.write_text("original")
    destination = tmp_path / "dest" / "extract"
    bad = path_max_chain(tmp_path / "chain.tar.gz", destination, victim, created)
    with pytest.raises(InvalidModuleError, match="symbolic link"):
        archive.extract(bad, destination)
    assert victim.read_text() == "original" and not created.exists()
    assert not destination.exists() or not any(destination.iterdir()), "nothing may be written"
    assert time.monotonic() - start < 30


def test_path_max_symlink_chain_through_resolve_installs_nothing(cache, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim, created = outside / "victim.txt", outside / "created.txt"
    victim.write_text("original")
    # depth of the real staging folder is unknown in advance: aim far enough up to reach /
    bad = path_max_chain(tmp_path / "chain.tar.gz", cache / ("x/" * 12), victim, created)
    for trust in (False, True):  # trust does not weaken extraction
        with pytest.raises(InvalidModuleError, match="symbolic link"):
            resolve(bad, trust=trust)
    assert victim.read_text() == "original" and not created.exists()
    _nothing_installed(cache)


@pytest.mark.parametrize("members, reason", [
    # a plain file, then a member "through" it
    ([("variables", b"x", {}), ("variables/data", b"y", {})], "not a folder"),
    ([("assets", b"x", {}), ("assets/sub/f", b"y", {})], "not a folder"),
    # the same name twice (the second would replace a checked file)
    ([("variables/data", b"x", {}), ("variables/data", b"y", {})], "twice"),
    ([("variables", None, {"type": tarfile.DIRTYPE}), ("variables", b"y", {})], "twice"),
    # '..' and absolute paths in every disguise
    ([("./../x", b"x", {})], "'..'"),
    ([("variables/./../../x", b"x", {})], "'..'"),
    ([("//etc/x", b"x", {})], "absolute"),
    # names the file system cannot hold must not surface as OSError
    ([("variables/" + "n" * 300, b"x", {})], "longer than"),
])
def test_structurally_unsafe_members_are_refused(cache, tmp_path, members, reason):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "saved_model.pb", data=b"\0")
        for name, data, attrs in members:
            add_member(tar, name, data=data, **attrs)
    with pytest.raises(InvalidModuleError, match=reason):
        resolve(path)
    _nothing_installed(cache)


def test_member_count_is_capped(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 50)
    path = tmp_path / "flood.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "saved_model.pb", data=b"\0")
        for i in range(60):
            add_member(tar, f"assets/{i}", data=b"")
    with pytest.raises(InvalidModuleError, match="more than 50 members"):
        resolve(path)
    _nothing_installed(cache)


def _flip_middle(data, count=64):
    data = bytearray(data)
    middle = len(data) // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    return bytes(data)


def test_flipped_bytes_are_caught_by_the_gzip_checksum(modules, tmp_path):
    """The random weights of big_tgz are stored (not compressed) by deflate, so flipped bytes in
    the middle still parse as a tar: only the gzip CRC at the end of the stream tells."""
    bad = tmp_path / "flipped.tar.gz"
    bad.write_bytes(_flip_middle(modules["big_tgz"].read_bytes()))
    with tarfile.open(bad) as tar:  # what the previous extractor relied on: it parses fine
        assert "saved_model.pb" in tar.getnames()
    with pytest.raises(InvalidModuleError, match="corrupt"):
        archive.extract(bad, tmp_path / "out")


def test_flipped_bytes_from_a_server_are_never_cached(cache, modules, fault_server):
    base, state = fault_server
    state.files["/big.tar.gz"] = _flip_middle(modules["big_tgz"].read_bytes())
    url = f"{base}/big.tar.gz"
    for _ in range(2):  # a second load must download again, not find a broken entry
        with pytest.raises(InvalidModuleError, match="corrupt"):
            resolve(url)
    assert state.count("/big.tar.gz") == 2
    _nothing_installed(cache)
    assert hub_cache.lookup_ref(url) is None
    assert not list((cache / "downloads").glob("*.part"))


def test_trailing_garbage_after_the_gzip_stream_is_refused(modules, tmp_path):
    bad = tmp_path / "tail.tar.gz"
    bad.write_bytes(modules["tiny_tgz"].read_bytes() + b"garbage after the end")
    with pytest.raises(InvalidModuleError, match="not a readable"):
        archive.extract(bad, tmp_path / "out")


def test_a_full_disk_is_reported_as_a_full_disk(cache, modules, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive, "_write_member", full)
    with pytest.raises(CacheError, match="no space left") as info:
        resolve(modules["tiny_tgz"])
    assert "not a readable" not in str(info.value)
    _nothing_installed(cache)


def test_a_read_only_cache_gives_one_clear_error(cache, modules, monkeypatch):
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(cache)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(CacheError, match="cannot write to the ganhub cache"):
        resolve(modules["tiny_tgz"])


@pytest.mark.parametrize("code, message", [(errno.ENOSPC, "no space left"),
                                           (errno.EROFS, "cannot write to the ganhub cache")])
def test_cli_reports_a_full_or_read_only_cache_in_one_line(cache, modules, monkeypatch, capsys,
                                                           code, message):
    from ganhub.cli import main

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(archive, "_write_member", fail)
    assert main(["download", str(modules["tiny_tgz"])]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def _stand_in(path):
    (path / "variables").mkdir(parents=True)
    (path / "assets").mkdir()
    (path / "saved_model.pb").write_bytes(b"\x08\x01" * 100)
    (path / "variables" / "variables.index").write_bytes(b"index")
    (path / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(5000))
    (path / "assets" / "ganhub.json").write_text('{"name": "x"}')
    return path


def test_pack_is_reproducible(tmp_path):
    first = _stand_in(tmp_path / "a")
    sha1 = package.pack(first, tmp_path / "a.tar.gz")
    # a copy made later, with other mtimes and permissions, packed to another file name
    time.sleep(1.1)
    second = tmp_path / "elsewhere" / "b"
    shutil.copytree(first, second)
    os.utime(second / "saved_model.pb", (1e9, 1e9))
    os.chmod(second / "assets" / "ganhub.json", 0o600)
    sha2 = package.pack(second, tmp_path / "other-name.tar.gz")
    assert sha1 == sha2
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "other-name.tar.gz").read_bytes()
    raw = (tmp_path / "a.tar.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
    assert not raw[3] & 0x08, "no file name in the gzip header"
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and "saved_model.pb" in names
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    # and it still extracts to the same bytes
    out = archive.extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert (out / "variables" / "variables.data-00000-of-00001").read_bytes() == \
        (first / "variables" / "variables.data-00000-of-00001").read_bytes()
    with gzip.open(tmp_path / "a.tar.gz") as fh:
        assert len(fh.read()) % tarfile.RECORDSIZE == 0


def test_pack_refuses_a_symlink_in_the_module(tmp_path):
    module = _stand_in(tmp_path / "m")
    (module / "assets" / "secret").symlink_to("/etc/hostname")
    with pytest.raises(InvalidModuleError, match="symbolic link"):
        package.pack(module, tmp_path / "m.tar.gz")
    assert not (tmp_path / "m.tar.gz").exists()
