"""Catalogs (built-in and GANHUB_CATALOGS) and the list/info/download/cache commands."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ganhub import catalog, settings
from ganhub.cli import main
from ganhub.errors import UnknownModelError
from ganhub.hub import cache as hub_cache

PUBLISHED = json.loads(open("/work/shared/reference/compare_gan_published_modules.json").read()) \
    if os.path.exists("/work/shared/reference/compare_gan_published_modules.json") else None


def test_builtin_catalog_has_default_and_the_15_compare_gan_modules(cache):
    entries = catalog.list_models()
    names = [e["name"] for e in entries]
    assert names[0] == "default"
    compare = [e for e in entries if e["name"].startswith("compare_gan/")]
    assert len(compare) == 15
    for e in compare:
        k, rest = e["name"].split("/model_")[1].split("_", 1)
        assert e["handle"] == f"https://tfhub.dev/google/compare_gan/model_{k}_{rest}/1"
        assert e["format"] == "tf1-hub" and e["signature"] == "generator"
        assert e["z"] == {"dim": 128, "batch_size": 64,
                          "distribution": {"name": "uniform", "low": -1.0, "high": 1.0}}
        assert e["sha256"] is None and e["integrity"] == "unverified" and e["integrity_note"]
        assert e["scores"]["fid"]["protocol"]
    m15 = catalog.get_entry("compare_gan/model_15_cifar10_resnet_cifar")
    assert m15["penalty"] == {"type": "wgan_gp", "lambda": 1.0}
    assert m15["scores"]["fid"]["value"] == 22.73 and m15["image_shape"] == [32, 32, 3]
    if PUBLISHED:
        assert sorted(m["name"] for m in PUBLISHED["modules"]) == sorted(e["name"] for e in compare)


def test_filters_with_aliases(cache):
    assert len(catalog.list_models(dataset="cifar10")) == 5
    gp = [e["name"] for e in catalog.list_models(penalty="gp") if e.get("catalog") == "compare_gan"]
    assert gp == ["compare_gan/model_10_lsun_bedroom_resnet19",
                  "compare_gan/model_15_cifar10_resnet_cifar"]
    sn = catalog.list_models(normalization="SN", dataset="lsun")
    assert [e["name"] for e in sn] == ["compare_gan/model_7_lsun_bedroom_resnet19",
                                       "compare_gan/model_8_lsun_bedroom_resnet19"]
    assert catalog.list_models(loss="ls", architecture="resnet_cifar") == []
    # aliases are per filter: "wgan" is its own loss, and WGAN-GP only as a penalty
    wgan = {e["name"] for e in catalog.list_models(loss="wgan", dataset="fashion_mnist")}
    assert wgan == {f"fashion_mnist/sndcgan-wgan-{p}-{n}" for p in ("none", "wgan_gp")
                    for n in ("none", "spectral_norm")}
    assert catalog.list_models(loss="gp") == [] and catalog.list_models(loss="wgan_gp") == []
    assert {e["penalty"]["type"] for e in catalog.list_models(penalty="wgan")} == {"wgan_gp"}
    with pytest.raises(TypeError):
        catalog.list_models(colour="red")


def test_get_entry_unknown(cache):
    with pytest.raises(UnknownModelError, match="ganhub list"):
        catalog.get_entry("nope")


@pytest.mark.parametrize("entry, message", [
    ({"name": "a", "handle": "h", "integrity": "pinned", "size": 1}, "no valid sha256"),
    ({"name": "a", "handle": "h", "sha256": "0" * 64, "integrity": "pinned"}, "no size"),
    ({"name": "a", "handle": "h", "sha256": "0" * 64, "size": 1, "integrity": "unverified"}, "has a sha256"),
    ({"name": "a", "handle": "h"}, "must say integrity"),
    ({"handle": "h", "integrity": "unverified"}, "no name"),
])
def test_catalog_validation(entry, message):
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.validate_entry(dict(entry))


def test_default_entry_reads_the_packaged_metadata(cache, modules, monkeypatch, tmp_path):
    packaged = tmp_path / "default"
    shutil.copytree(modules["tiny_dir"], packaged)
    monkeypatch.setattr(settings, "DEFAULT_MODEL_DIR", packaged)
    catalog._CACHE.clear()
    entry = catalog.get_entry("default")
    assert entry["installed"] and entry["architecture"] == "tiny_dense"
    assert entry["z"]["dim"] == 8 and entry["dataset"] == "synthetic"
    assert entry["normalization"] == "spectral_norm" and entry["penalty"]["type"] == "none"
    assert [e["name"] for e in catalog.list_models(normalization="sn", dataset="synthetic")] == ["default"]
    assert entry["scores"]["fid"]["value"] == 99.0


def _write_catalog(path, models, name="extra"):
    path.write_text(json.dumps({"catalog_version": 1, "name": name, "models": models}))
    return path


def test_extra_catalog_by_path_with_relative_handle(cache, modules, tmp_path, monkeypatch):
    shutil.copy(modules["tiny_tgz"], tmp_path / "tiny.tar.gz")
    path = _write_catalog(tmp_path / "extra.json", [
        {"name": "lab/tiny", "handle": "tiny.tar.gz", "sha256": modules["tiny_sha"],
         "size": modules["tiny_tgz"].stat().st_size, "integrity": "pinned", "dataset": "synthetic"},
        {"name": "default", "handle": "elsewhere", "integrity": "unverified"}])
    monkeypatch.setenv("GANHUB_CATALOGS", str(path))
    from ganhub.hub.resolver import resolve
    got = resolve("lab/tiny")
    assert got.sha256 == modules["tiny_sha"] and got.entry["catalog"] == "extra"
    assert catalog.get_entry("default")["catalog"] == "builtin", "extras cannot replace a name"
    assert [e["name"] for e in catalog.list_models(dataset="synthetic")] == ["lab/tiny"]


def test_extra_catalog_by_url_is_kept_for_offline_use(cache, modules, fault_server, monkeypatch):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    state.files["/index.json"] = json.dumps({"catalog_version": 1, "name": "remote", "models": [
        {"name": "remote/tiny", "handle": "tiny.tar.gz", "integrity": "unverified"}]}).encode()
    monkeypatch.setenv("GANHUB_CATALOGS", f"{base}/index.json")
    entry = catalog.get_entry("remote/tiny")
    assert entry["handle"] == f"{base}/tiny.tar.gz"
    monkeypatch.setenv("GANHUB_OFFLINE", "1")
    catalog._CACHE.clear()
    assert catalog.get_entry("remote/tiny")["handle"] == f"{base}/tiny.tar.gz"
    assert state.count("/index.json") == 1


def test_list_and_info_do_not_import_tensorflow(cache, subprocess_env):
    code = ("import sys; from ganhub.cli import main; main(['list', '--json']); "
            "main(['info', 'compare_gan/model_1_celebahq128_resnet19']); main(['cache', 'ls']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; "
            "assert 'requests' not in sys.modules, 'requests was imported'")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(cache),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # the default, the 15 compare_gan modules and the Fashion-MNIST landscape zoo
    builtin = sum(len(json.loads(p.read_text())["models"])
                  for p in settings.BUILTIN_CATALOG_DIR.glob("*.json"))
    assert builtin >= 16
    assert len(json.loads(proc.stdout.split("\nname")[0])) == builtin
    assert time.monotonic() - start < 5  # the real budget (0.5 s) is measured in benchmarks/hub.py


def test_list_filters_and_table(cache, capsys):
    assert main(["list", "--dataset", "cifar10", "--penalty", "wgan_gp"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["NAME", "DATASET"]
    assert len(out) == 2 and out[1].startswith("compare_gan/model_15_cifar10_resnet_cifar")
    assert "22.73" in out[1] and "wgan_gp (λ=1)" in out[1]  # catalog.format_penalty


def test_an_empty_list_names_the_filter_value_no_entry_has(cache, capsys):
    from ganhub import catalog as cat
    losses = sorted({e["loss"] for e in cat.all_entries() if e.get("loss")})
    assert main(["list", "--loss", "nsx", "--dataset", "cifar"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["NAME", "DATASET", "ARCH", "LOSS", "NORM", "PENALTY", "FID", "KID"]
    # "cifar" is an alias of a data set the catalogs have: only the loss is named
    assert captured.err.strip() == (f"(no model matches: no entry has loss 'nsx' (they have "
                                    f"{', '.join(losses)}))")
    assert main(["list", "--dataset", "cifar10", "--penalty", "l2"]) == 0  # each alone matches
    assert capsys.readouterr().err.strip() == "(no model matches)"


def test_info_says_unverified_and_unknown_name_fails(cache, capsys):
    assert main(["info", "compare_gan/model_3_lsun_bedroom_resnet19"]) == 0
    out = capsys.readouterr().out
    assert "sha256" in out and "unknown, not verified" in out
    assert "102.74" in out and "Inception pool_3" in out
    assert main(["info", "compare_gan/model_99"]) == 1
    assert "ganhub list" in capsys.readouterr().err


def test_info_summarises_a_measured_score_and_its_protocol(cache, tmp_path, monkeypatch, capsys):
    protocol = {"num_samples": 10000, "seed": 0, "extractor_id": "fid_inception_offline",
                "extractor_sha256": "7ff4a85c3a6378f0dfc8", "resize": "legacy", "kid_blocks": 10,
                "reference": {"dataset": "fashion_mnist_32", "split": "test", "num_samples": 10000}}
    entry = {"name": "lab/scored", "handle": "https://example.invalid/scored.tar.gz",
             "integrity": "unverified", "scores": {
                 "fid": {"value": 12.345678, "protocol": protocol, "source": "measured"},
                 "kid": {"value": 0.0061234, "std": 0.00031, "protocol": protocol,
                         "source": "measured"}}}
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({"catalog_version": 1, "name": "lab", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(path))
    catalog._CACHE.clear()
    try:
        assert main(["info", "lab/scored"]) == 0
    finally:
        catalog._CACHE.clear()
    lines = {line.split("  ")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    summary = ("10,000 generated vs 10,000 fashion_mnist_32 test images, fid_inception_offline "
               "(7ff4a85c3a63), resize legacy, seed 0, KID blocks 10; measured]")
    assert lines["score fid"].endswith("12.3457  [" + summary)
    assert lines["score kid"].endswith("0.0061234 ± 0.00031  [" + summary)


def test_download_and_cache_commands(cache, modules, fault_server, capsys):
    base, state = fault_server
    state.files["/tiny.tar.gz"] = modules["tiny_tgz"].read_bytes()
    url = f"{base}/tiny.tar.gz"
    sha = modules["tiny_sha"]
    assert main(["download", url]) == 0
    assert f"sha256 {sha}" in capsys.readouterr().out

    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert sha[:12] in out and url in out

    assert main(["cache", "verify"]) == 0
    assert f"ok      {sha}" in capsys.readouterr().out
    variables = next((cache / "modules" / sha / "module" / "variables").glob("variables.data*"))
    data = bytearray(variables.read_bytes())
    data[0] ^= 0xFF
    variables.write_bytes(bytes(data))
    assert main(["cache", "verify", url]) == 1
    out = capsys.readouterr().out
    assert f"CORRUPT {sha}" in out and "sha256 differs" in out

    assert main(["cache", "rm", sha[:10]]) == 0
    assert hub_cache.lookup(sha) is None
    assert main(["cache", "rm", url]) == 1
    capsys.readouterr()
    # the next load downloads a fresh copy
    assert main(["download", url]) == 0 and state.count("/tiny.tar.gz") == 2
    assert hub_cache.verify_entry(sha) == []


def test_prune_removes_leftovers_of_dead_processes(cache, modules, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket
    host = socket.gethostname()
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    orphan = downloads / f"abc.{host}.{dead}.1234abcd.part"
    orphan.write_bytes(b"123")
    live = downloads / f"def.{host}.{os.getpid()}.1234abcd.part"
    live.write_bytes(b"123")
    (cache / "locks").mkdir()
    lock = cache / "locks" / "abc.lock"
    lock.write_text(json.dumps({"host": host, "pid": int(dead), "token": "x"}))
    (cache / "tmp").mkdir()
    staging = cache / "tmp" / f"0123456789abcdef.{dead}.aaaa1111"
    (staging / "extract").mkdir(parents=True)
    hub_cache.write_ref("http://example.invalid/m.tar.gz", "f" * 64)  # dangling
    assert main(["cache", "prune"]) == 0
    assert "4 leftover(s) removed" in capsys.readouterr().out
    assert not orphan.exists() and not lock.exists() and not staging.exists()
    assert live.exists(), "a live process's download must be kept"
    assert hub_cache.lookup_ref("http://example.invalid/m.tar.gz") is None


def test_cache_verify_of_a_name_not_in_the_cache_fails_like_rm(cache, capsys):
    name = "compare_gan/model_1_celebahq128_resnet19"
    assert main(["cache", "verify", name]) == 1
    assert f"{name}: not in the cache" in capsys.readouterr().err
    assert main(["cache", "verify", "0123abcd"]) == 1
    assert "0123abcd: not in the cache" in capsys.readouterr().err
    assert main(["cache", "rm", name]) == 1
    assert f"{name}: not in the cache" in capsys.readouterr().err
    assert main(["cache", "verify"]) == 0, "an empty cache has nothing corrupt"
