"""Safe extraction (hostile archives are refused before anything is written) and packing."""
import os
import tarfile

import pytest

from _tar_helpers import add_member
from ganhub import fileio
from ganhub.errors import InvalidModuleError
from ganhub.export import package
from ganhub.hub import archive
from ganhub.hub.resolver import resolve


def _tar(path, members):
    """members: (TarInfo kwargs, data or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info_kwargs, data in members:
            info_kwargs = dict(info_kwargs)
            add_member(tar, info_kwargs.pop("name"), data, **info_kwargs)
    return path


GOOD = ({"name": "saved_model.pb"}, b"\x00")


@pytest.mark.parametrize("bad, reason", [
    (({"name": "../escaped.txt"}, b"x"), "'..'"),
    (({"name": "variables/../../escaped.txt"}, b"x"), "'..'"),
    (({"name": "/tmp/ganhub-absolute.txt"}, b"x"), "absolute"),
    (({"name": "link", "type": tarfile.SYMTYPE, "linkname": "../../outside"}, None), "symbolic link"),
    (({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, None), "symbolic link"),
    (({"name": "hard", "type": tarfile.LNKTYPE, "linkname": "/etc/passwd"}, None), "hard link"),
    (({"name": "dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None), "device"),
    (({"name": "fifo", "type": tarfile.FIFOTYPE}, None), "device file or FIFO"),
])
def test_unsafe_members_are_refused(cache, tmp_path, bad, reason):
    path = _tar(tmp_path / "bad.tar.gz", [GOOD, bad])
    with pytest.raises(InvalidModuleError, match=reason):
        resolve(path)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path.parent / "escaped.txt").exists()
    modules = cache / "modules"
    assert not modules.exists() or not any(modules.iterdir()), "nothing may be installed"
    assert not any((cache / "tmp").iterdir()), "the staging directory must be cleaned up"


def test_links_are_refused_even_inside_the_archive(tmp_path):
    """A SavedModel needs no links; any link is refused before anything is written."""
    path = _tar(tmp_path / "links.tar.gz", [
        GOOD, ({"name": "variables/data"}, b"abc"),
        ({"name": "variables/alias", "type": tarfile.SYMTYPE, "linkname": "data"}, None)])
    with pytest.raises(InvalidModuleError, match="symbolic link"):
        archive.extract(path, tmp_path / "out")
    assert not any((tmp_path / "out").rglob("*")), "nothing may be written"


def test_expanded_size_limit(cache, tmp_path, monkeypatch):
    path = _tar(tmp_path / "bomb.tar.gz", [GOOD, ({"name": "variables/zeros"}, bytes(200_000))])
    assert path.stat().st_size < 2_000  # compresses a hundredfold
    monkeypatch.setenv("GANHUB_MAX_EXTRACT_BYTES", "100000")
    with pytest.raises(InvalidModuleError, match="GANHUB_MAX_EXTRACT_BYTES"):
        resolve(path)
    monkeypatch.setenv("GANHUB_MAX_EXTRACT_BYTES", "300000")
    assert archive.extract(path, tmp_path / "out").is_dir()


def test_truncated_archive_is_invalid(cache, modules, tmp_path):
    data = modules["tiny_tgz"].read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidModuleError, match="not a readable"):
        resolve(tmp_path / "cut.tar.gz")


def test_pack_puts_the_saved_model_at_the_archive_root(modules):
    with tarfile.open(modules["tiny_tgz"]) as tar:
        names = tar.getnames()
    assert "saved_model.pb" in names and "assets/ganhub.json" in names
    assert any(n.startswith("variables/variables.data") for n in names)
    sidecar = modules["tiny_tgz"].with_name("tiny.tar.gz.sha256").read_text().split()
    assert sidecar == [modules["tiny_sha"], "tiny.tar.gz"]
    assert fileio.sha256_file(modules["tiny_tgz"]) == modules["tiny_sha"]


def test_archive_with_a_single_top_directory_is_accepted(cache, modules, tmp_path):
    with tarfile.open(tmp_path / "nested.tar.gz", "w:gz") as tar:
        tar.add(modules["tiny_dir"], arcname="tiny")
    got = resolve(tmp_path / "nested.tar.gz")
    assert (got.path / "saved_model.pb").is_file() and got.path.name == "module"


def _stand_in_saved_model(path):
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"\x00")
    (path / "variables" / "data").write_bytes(b"abc")
    return path


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_pack_leaves_no_temp_file_when_the_tar_step_fails(tmp_path, monkeypatch, error):
    module = _stand_in_saved_model(tmp_path / "m")
    out = tmp_path / "out"
    out.mkdir()

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(tarfile.TarFile, "addfile", fail)
    with pytest.raises(type(error)):
        package.pack(module, out / "m.tar.gz")
    assert list(out.iterdir()) == []


def test_pack_replaces_the_sidecar_instead_of_rewriting_it(tmp_path, monkeypatch):
    module = _stand_in_saved_model(tmp_path / "m")
    out = tmp_path / "out"
    out.mkdir()
    sidecar = out / "m.tar.gz.sha256"
    sidecar.write_text("old  m.tar.gz\n")
    with open(sidecar) as reader:  # e.g. `ganhub serve` reading it: never a truncated file
        digest = package.pack(module, out / "m.tar.gz")
        assert reader.read() == "old  m.tar.gz\n"
    assert sidecar.read_text().split() == [digest, "m.tar.gz"]
    assert sorted(p.name for p in out.iterdir()) == ["m.tar.gz", "m.tar.gz.sha256"]

    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".sha256"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space"):
        package.pack(module, out / "m.tar.gz")
    assert sidecar.read_text().split() == [digest, "m.tar.gz"]
    assert sorted(p.name for p in out.iterdir()) == ["m.tar.gz", "m.tar.gz.sha256"]
