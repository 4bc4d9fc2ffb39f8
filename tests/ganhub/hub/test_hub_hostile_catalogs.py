"""Catalogs cannot take over: names that read as paths, remote catalogs naming local files,
ganhub: handles from outside, and malformed catalogs or entries (warned about and skipped)."""
import json
import time

import pytest

from ganhub import catalog
from ganhub.cli import main
from ganhub.errors import DownloadError, UnknownModelError
from ganhub.hub.resolver import resolve


def _catalog(models, name="hostile"):
    return json.dumps({"catalog_version": 1, "name": name, "models": models})


def _entry(name, handle, **extra):
    return dict({"name": name, "handle": handle, "integrity": "unverified"}, **extra)


@pytest.fixture
def use_catalogs(monkeypatch):
    def use(*locations):
        monkeypatch.setenv("GANHUB_CATALOGS", " ".join(str(loc) for loc in locations))
        catalog._CACHE.clear()
    return use


def test_a_name_that_reads_as_a_path_cannot_shadow_the_path(cache, modules, fault_server,
                                                            use_catalogs, tmp_path, capsys):
    base, state = fault_server
    state.files["/evil.tar.gz"] = modules["evil_tgz"].read_bytes()
    target = str(modules["tiny_dir"])
    extra = tmp_path / "extra.json"
    extra.write_text(_catalog([_entry(target, f"{base}/evil.tar.gz"),
                               _entry("~/model", f"{base}/evil.tar.gz"),
                               _entry("x/../y", f"{base}/evil.tar.gz"),
                               _entry("http://h/m", f"{base}/evil.tar.gz"),
                               _entry("fine", f"{base}/evil.tar.gz")]))
    use_catalogs(extra)
    assert [e["name"] for e in catalog.all_entries() if not e["builtin"]] == ["fine"]
    assert capsys.readouterr().err.count("looks like a path or URL") == 3
    got = resolve(target)
    assert got.source == "directory" and got.path == modules["tiny_dir"]
    assert state.requests == [], "the catalog's URL must not be fetched"


def test_a_relative_path_wins_over_a_catalog_name(cache, modules, fault_server, use_catalogs,
                                                 tmp_path, monkeypatch):
    import shutil
    base, state = fault_server
    extra = tmp_path / "extra.json"
    extra.write_text(_catalog([_entry("models/tiny", f"{base}/evil.tar.gz")]))
    use_catalogs(extra)
    work = tmp_path / "work"
    shutil.copytree(modules["tiny_dir"], work / "models" / "tiny")
    monkeypatch.chdir(work)
    assert resolve("models/tiny").source == "directory"
    assert state.requests == []


def test_a_remote_catalog_may_not_point_at_local_files(cache, modules, fault_server, use_catalogs,
                                                      tmp_path, capsys):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    state.files["/index.json"] = _catalog([
        _entry("local-file-url", modules["tiny_tgz"].as_uri()),
        _entry("local-path", str(modules["tiny_dir"])),
        _entry("home-path", "~/.ssh"),
        _entry("package", "ganhub:models/default"),
        _entry("relative-ok", "tiny.tar.gz"),
    ]).encode()
    use_catalogs(f"{base}/index.json")
    entries = {e["name"]: e for e in catalog.all_entries() if not e["builtin"]}
    assert sorted(entries) == ["home-path", "local-path", "relative-ok"]
    err = capsys.readouterr().err
    assert "may not name local files" in err and "ganhub: handles" in err
    # paths in a remote catalog are paths on its server, never on this machine
    for name in ("local-path", "home-path", "relative-ok"):
        assert entries[name]["handle"].startswith(base + "/"), entries[name]
    for name in ("local-file-url", "package"):
        with pytest.raises(UnknownModelError):
            resolve(name)
    with pytest.raises(DownloadError, match="404"):
        resolve("local-path")
    assert resolve("relative-ok").source == "download"


@pytest.mark.parametrize("text, warning", [
    ("{not json", "not valid JSON"),
    (json.dumps([1, 2]), "catalog_version"),
    (json.dumps({"catalog_version": 1, "models": {"a": 1}}), "'models' must be a list"),
])
def test_a_malformed_extra_catalog_is_skipped_not_fatal(cache, use_catalogs, tmp_path, capsys,
                                                        text, warning):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    use_catalogs(bad)
    assert resolve("default").source == "package"
    assert main(["list"]) == 0
    err = capsys.readouterr().err
    assert warning in err and "skipping this catalog" in err


@pytest.mark.parametrize("bad_entry, warning", [
    (42, "must be a JSON object"),
    (["name", "handle"], "must be a JSON object"),
    (_entry("scores-list", "http://127.0.0.1:9/x.tar.gz", scores=[1, 2]), "'scores' must be an object"),
    (_entry("bad-score", "http://127.0.0.1:9/x.tar.gz", scores={"fid": "low"}), "score 'fid'"),
    (_entry("z-text", "http://127.0.0.1:9/x.tar.gz", z="128"), "'z' must be dict"),
    (_entry("shape", "http://127.0.0.1:9/x.tar.gz", image_shape=[32, 32]), "image_shape"),
    (_entry("training", "http://127.0.0.1:9/x.tar.gz", training=[1]), "'training' must be dict"),
])
def test_a_malformed_entry_is_skipped_and_the_rest_of_its_catalog_kept(
        cache, use_catalogs, tmp_path, capsys, bad_entry, warning):
    extra = tmp_path / "extra.json"
    extra.write_text(_catalog([bad_entry, _entry("good", "http://127.0.0.1:9/good.tar.gz",
                                                 scores={"fid": {"value": 3.5}})]))
    use_catalogs(extra)
    assert [e["name"] for e in catalog.all_entries() if not e["builtin"]] == ["good"]
    assert "skipping this entry" in capsys.readouterr().err
    assert resolve("default").source == "package"
    catalog._CACHE.clear()  # as a fresh `ganhub` process would read it
    assert main(["list"]) == 0 and main(["info", "good"]) == 0
    captured = capsys.readouterr()
    assert "good" in captured.out and "Traceback" not in captured.err
    assert warning in captured.err


def test_a_huge_remote_catalog_is_cut_off(cache, fault_server, use_catalogs, monkeypatch, capsys):
    base, state = fault_server
    monkeypatch.setattr(catalog, "MAX_CATALOG_BYTES", 100_000)
    state.files["/huge.json"] = b" " * 1_000_000
    use_catalogs(f"{base}/huge.json")
    start = time.monotonic()
    assert resolve("default").source == "package"
    assert time.monotonic() - start < 20
    assert "larger than 100000 bytes" in capsys.readouterr().err


def test_bad_metadata_of_the_default_model_does_not_break_list(cache, modules, tmp_path,
                                                               monkeypatch, capsys):
    import shutil

    from ganhub import settings
    packaged = tmp_path / "default"
    shutil.copytree(modules["tiny_dir"], packaged)
    (packaged / "assets" / "ganhub.json").write_text(json.dumps({"scores": [1, 2]}))
    monkeypatch.setattr(settings, "DEFAULT_MODEL_DIR", packaged)
    catalog._CACHE.clear()
    assert main(["list"]) == 0 and main(["info", "default"]) == 0
    assert "'scores' should be dict, got list" in capsys.readouterr().err
