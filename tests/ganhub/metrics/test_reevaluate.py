"""Re-evaluating published checkpoints in one command, offline but for 127.0.0.1.

Two TF1 Hub format modules shaped like compare_gan's (fixed batch 64, 'generator' signature) and a
reference file from `ganhub stats`-style statistics are served by `ganhub serve`; a lab catalog
copies compare_gan entries (with their reported scores) onto the served archives and names the
reference by data set/split/count; the served index.json lists the reference (kind "reference").
`ganhub evaluate --table` scores both modules against the downloaded reference; a second run
skips them; an interrupted run keeps its finished rows. TTUR-format statistics are read with a
declared protocol, and protocol mismatches are refused."""
import csv
import importlib.util
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from ganhub import catalog
from ganhub.cli import main
from ganhub.errors import ProtocolMismatchError
from ganhub.metrics import frechet_distance, load_extractor
from ganhub.metrics.evaluation import compute_reference, resolve_reference

HUB_CONFTEST = Path(__file__).resolve().parents[1] / "hub" / "conftest.py"
N, SEED = 70, 7
MODULES = {"lab/model_a_cifar10": ("compare_gan/model_11_cifar10_resnet_cifar", 128),
           "lab/model_b_cifar10": ("compare_gan/model_12_cifar10_resnet_cifar", 100)}


def _hub_conftest():
    spec = importlib.util.spec_from_file_location("_ganhub_hub_conftest", HUB_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_extractor_dir):
    """`ganhub serve` of a folder with two TF1 module archives and one reference .npz."""
    from ganhub.export import package
    from ganhub.hub.serve import Hub

    build = _hub_conftest().build_tf1_hub_module
    base = tmp_path_factory.mktemp("served")
    folder = base / "hub"
    folder.mkdir()
    for name, (_, z_dim) in MODULES.items():
        stem = name.split("/")[1]
        package.pack(build(base / stem, z_dim=z_dim), folder / f"{stem}.tar.gz")
    real = np.random.default_rng(11).integers(0, 256, size=(N, 8, 8, 3), dtype=np.uint8)
    extractor = load_extractor(str(tiny_extractor_dir))
    compute_reference(real, extractor, "legacy", dataset="cifar10", split="test").save(
        folder / "cifar10-test-70.npz")
    (folder / "notes.npz").write_bytes(b"not a reference")  # skipped, not fatal
    hub = Hub(folder, host="127.0.0.1", port=0, samples=False)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    yield {"url": hub.url, "hub": hub, "real": real, "extractor": extractor, "base": base}
    hub.close()


@pytest.fixture
def catalogs(served, tmp_path, monkeypatch):
    """A lab catalog of the two served modules (compare_gan-style entries) + the served index."""
    index = json.loads(_get(f"{served['url']}/index.json"))
    archives = {e["name"]: e for e in index["models"] if e.get("kind", "model") == "model"}
    models = []
    for name, (template_name, z_dim) in MODULES.items():
        template = catalog.get_entry(template_name)
        entry = {k: v for k, v in template.items() if k not in ("catalog", "builtin")}
        assert entry["format"] == "tf1-hub" and entry["z"]["batch_size"] == 64
        assert entry["reference"] == {"dataset": "cifar10", "split": "test", "num_samples": 10000}
        served_entry = archives[name.split("/")[1]]
        entry.update(name=name, handle=served_entry["handle"], sha256=served_entry["sha256"],
                     size=served_entry["size"], integrity="pinned", image_shape=[8, 8, 3],
                     z=dict(entry["z"], dim=z_dim), architecture="tiny_tf1",
                     reference={"dataset": "cifar10", "split": "test", "num_samples": N})
        models.append(entry)
    lab = tmp_path / "lab.json"
    lab.write_text(json.dumps({"catalog_version": 1, "name": "lab", "models": models}))
    monkeypatch.setenv("GANHUB_CATALOGS", f"{lab}{__import__('os').pathsep}{served['url']}/index.json")
    monkeypatch.delenv("GANHUB_OFFLINE", raising=False)
    catalog._CACHE.clear()
    yield models
    catalog._CACHE.clear()


def _get(url):
    import requests
    return requests.get(url, timeout=30).text


def _expected_fid(served, name):
    import ganhub
    generator = ganhub.load(name)
    assert generator.fixed_batch == 64
    images = generator(generator.sample_latents(N, SEED))
    extractor = served["extractor"]
    fake = extractor(np.clip(images, 0, 1).astype(np.float64) * 255.0, "legacy")
    real = extractor(served["real"], "legacy")
    return frechet_distance(fake.mean(0), np.cov(fake, rowvar=False),
                            real.mean(0), np.cov(real, rowvar=False))


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_served_index_lists_the_reference(served, catalogs, capsys):
    index = json.loads(_get(f"{served['url']}/index.json"))
    refs = [e for e in index["models"] if e.get("kind") == "reference"]
    assert [r["name"] for r in refs] == ["cifar10-test-70"]
    ref = refs[0]
    assert (ref["dataset"], ref["split"], ref["num_samples"], ref["resize"]) == ("cifar10", "test", N, "legacy")
    assert ref["extractor"]["id"] == served["extractor"].id
    assert ref["extractor"]["sha256"] == served["extractor"].sha256
    assert main(["list", "--kind", "reference"]) == 0
    listed = capsys.readouterr().out
    assert "cifar10-test-70" in listed and "lab/model_a_cifar10" not in listed
    assert main(["list", "--kind", "model", "--dataset", "cifar10"]) == 0
    assert "cifar10-test-70" not in capsys.readouterr().out
    with pytest.raises(Exception, match="is a reference .*not a model"):
        import ganhub
        ganhub.load("cifar10-test-70")


def test_table_of_two_published_modules_resumes(served, catalogs, tiny_extractor_dir, tmp_path,
                                                monkeypatch, capsys):
    from ganhub.metrics import reevaluate, references
    table = tmp_path / "out" / "table.csv"
    args = ["evaluate", "--table", str(table), "--dataset", "cifar10", "--architecture",
            "tiny_tf1", "--seed", str(SEED),
            "--extractor", str(tiny_extractor_dir)]

    # Ctrl-C while the second module is scored: the first row is on disk already.
    real_evaluate_entry = reevaluate.evaluate_entry

    def interrupted(entry, **kwargs):
        if entry["name"] == "lab/model_b_cifar10":
            raise KeyboardInterrupt
        return real_evaluate_entry(entry, **kwargs)
    monkeypatch.setattr(reevaluate, "evaluate_entry", interrupted)
    assert main(args) == 130   # Ctrl-C
    assert [r["module"] for r in _rows(table)] == ["lab/model_a_cifar10"]
    monkeypatch.setattr(reevaluate, "evaluate_entry", real_evaluate_entry)

    # the reference came from the server into the verified cache
    ref_entry = next(e for e in catalog.all_entries() if e["name"] == "cifar10-test-70")
    assert references.cache_path(ref_entry["sha256"]).is_file()

    calls = []
    monkeypatch.setattr(reevaluate, "evaluate_entry",
                        lambda entry, **kw: calls.append(entry["name"]) or real_evaluate_entry(entry, **kw))
    assert main(args) == 0
    assert calls == ["lab/model_b_cifar10"]   # model_a was in the table already
    rows = {r["module"]: r for r in _rows(table)}
    assert list(rows) == ["lab/model_a_cifar10", "lab/model_b_cifar10"]
    for name, (template_name, _) in MODULES.items():
        row = rows[name]
        reported = catalog.get_entry(template_name)["scores"]
        assert row["status"] == "ok" and row["dataset"] == "cifar10"
        assert row["reference"] == "cifar10-test-70" and row["num_samples"] == str(N)
        assert float(row["reported_fid"]) == reported["fid"]["value"]
        assert float(row["reported_is"]) == reported["inception_score"]["value"]
        assert float(row["measured_fid"]) == pytest.approx(_expected_fid(served, name), rel=1e-3)
        assert row["measured_is"] == ""
        assert "fid reported: FID, 10k generated vs 10k" in row["protocol_differences"]
    md = table.with_suffix(".md").read_text()
    assert md.count("| lab/model_") == 2 and "FID measured" in md

    # a third run does nothing
    calls.clear()
    assert main(args) == 0
    assert calls == [] and len(_rows(table)) == 2


def test_evaluate_without_reference_uses_the_one_the_catalog_names(served, catalogs,
                                                                   tiny_extractor_dir, capsys):
    assert main(["evaluate", "lab/model_a_cifar10", "-n", str(N), "--seed", str(SEED),
                 "--extractor", str(tiny_extractor_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"]["reference"]["dataset"] == "cifar10"
    assert out["fid"] == pytest.approx(_expected_fid(served, "lab/model_a_cifar10"), rel=1e-3)
    assert out["reported"]["fid"] == 28.12


def test_served_page_shows_the_reference_and_how_to_use_it(served):
    """The page lists reference files beside the models: what they hold, and the command line."""
    page = _get(f"{served['url']}/")
    assert "2 model(s), 1 reference file(s)" in page
    assert page.index('<h2 class="section" id="references">reference statistics</h2>') < (
        page.index('id="reference-cifar10-test-70"'))
    card = page[page.index('id="reference-cifar10-test-70"'):]
    card = card[:card.index("</div>")]
    assert "70 cifar10 test images" in card and "legacy" in card
    assert f"{served['extractor'].id} (sha256 {served['extractor'].sha256[:12]}" in card
    url = f"{served['url']}/cifar10-test-70.npz"
    assert f"ganhub evaluate MODEL --reference {url}" in card
    assert "notes" not in card   # the file that is no reference is not shown


def test_reference_by_url_and_a_catalog_entry_that_lies(served, catalogs, tmp_path, monkeypatch):
    extractor = served["extractor"]
    by_url = resolve_reference(f"{served['url']}/cifar10-test-70.npz", extractor=extractor)
    by_name = resolve_reference("cifar10-test-70", extractor=extractor)
    np.testing.assert_array_equal(by_url.mu, by_name.mu)
    real = extractor(served["real"], "legacy")
    np.testing.assert_allclose(by_url.mu, real.mean(0), rtol=1e-6)

    entry = dict(next(e for e in catalog.all_entries() if e["name"] == "cifar10-test-70"))
    for key in ("catalog", "catalog_location", "builtin"):
        entry.pop(key, None)
    entry.update(name="lies/cifar10-train", split="train")
    lies = tmp_path / "lies.json"
    lies.write_text(json.dumps({"catalog_version": 1, "name": "lies", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(lies))
    catalog._CACHE.clear()
    with pytest.raises(ProtocolMismatchError, match="split: catalog 'train', file 'test'"):
        resolve_reference("lies/cifar10-train", extractor=extractor)


def test_ttur_statistics_with_a_declared_protocol(served, catalogs, tiny_extractor_dir, tmp_path,
                                                  capsys):
    extractor = served["extractor"]
    real = extractor(served["real"], "legacy")
    mu, sigma = real.mean(0), np.cov(real, rowvar=False)
    ttur = tmp_path / "fid_stats_cifar10_test.npz"
    np.savez(ttur, mu=mu, sigma=sigma)   # TTUR / pytorch-fid / clean-fid layout
    base = ["evaluate", "lab/model_a_cifar10", "-n", str(N), "--seed", str(SEED), "--extractor",
            str(tiny_extractor_dir), "--reference", str(ttur)]

    # undeclared: refused in one line, naming what to declare
    assert main(base) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--reference-protocol" in err

    declared = f"extractor={extractor.id},resize=legacy,dataset=cifar10,split=test,num_samples={N}"
    assert main(base + ["--reference-protocol", declared, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fid"] == pytest.approx(_expected_fid(served, "lab/model_a_cifar10"), rel=1e-3)
    assert out["protocol"]["reference"]["protocol_declared_by"] == "user"

    # declared under another extractor or resize: a protocol mismatch, not a number
    for wrong in (declared.replace(f"extractor={extractor.id}", "extractor=tfgan_inception"),
                  declared.replace("resize=legacy", "resize=clean")):
        assert main(base + ["--reference-protocol", wrong]) == 1
        assert "declared as made with" in capsys.readouterr().err


def test_a_bad_reference_download_is_refused_and_not_cached(served, static_server, tmp_path):
    from ganhub.metrics import references
    from ganhub.metrics.stats import ReferenceFileError
    good = (served["base"] / "hub" / "cifar10-test-70.npz").read_bytes()
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "cut.npz").write_bytes(good[: len(good) // 2])
    base = static_server(folder)
    with pytest.raises(ReferenceFileError):
        resolve_reference(f"{base}/cut.npz", extractor=served["extractor"])
    import hashlib
    assert not references.cache_path(hashlib.sha256(good[: len(good) // 2]).hexdigest()).exists()
    cached = list((references.cache_path("0" * 64).parent).glob("*.npz"))
    assert all(references._sha256(p) == p.stem for p in cached)   # only verified files
    # pinned to other bytes: refused by the download's own check
    (folder / "ok.npz").write_bytes(good)
    with pytest.raises(Exception, match="sha256"):
        resolve_reference(f"{base}/ok.npz#sha256={'1' * 64}", extractor=served["extractor"])


@pytest.mark.parametrize("change,message", [
    ({"sha256": None, "size": None, "integrity": "unverified"}, "must be pinned"),
    ({"resize": "bicubic"}, "'resize' must be one of"),
    ({"extractor": "fid_inception_offline"}, "'extractor' must be"),
    ({"num_samples": 0}, "'num_samples' must be a positive integer"),
    ({"kind": "dataset"}, "kind must be one of"),
])
def test_malformed_reference_entries_are_skipped_with_a_warning(change, message, tmp_path,
                                                                monkeypatch, capsys):
    entry = {"name": "refs/x", "kind": "reference", "handle": "https://example.invalid/x.npz",
             "sha256": "a" * 64, "size": 10, "integrity": "pinned", "dataset": "cifar10",
             "split": "test", "num_samples": 10000, "resize": "legacy",
             "extractor": {"id": "fid_inception_offline", "sha256": "b" * 64}}
    entry.update(change)
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"catalog_version": 1, "name": "refs", "models": [entry]}))
    monkeypatch.setenv("GANHUB_CATALOGS", str(path))
    catalog._CACHE.clear()
    try:
        assert catalog.find_entry("refs/x") is None
        assert message in capsys.readouterr().err
    finally:
        catalog._CACHE.clear()
