"""Issue 16, item 8: the small things a new user trips over."""
import os
import re
import stat

import numpy as np

import ganhub
from ganhub import catalog, describe
from ganhub.cli import main


def test_model_card_load_line_works_from_any_folder(exported, tmp_path, monkeypatch):
    card = exported["path"].with_name(exported["path"].name + ".md").read_text()
    handles = re.findall(r"ganhub\.load\('([^']+)'\)", card)
    assert len(handles) == 1 and os.path.isabs(handles[0])
    monkeypatch.chdir(tmp_path)  # not the export's parent folder
    g = ganhub.load(handles[0])
    assert g.sample(2, seed=0).shape == (2, 32, 32, 1)


def test_export_prints_a_load_line_that_works_from_anywhere(trained_dir, tmp_path, capsys):
    out = tmp_path / "exports" / "tiny"
    out.parent.mkdir()
    assert main(["export", str(trained_dir), str(out), "--no-archive"]) == 0
    printed = capsys.readouterr().out
    assert f"ganhub.load({str(out.resolve())!r})" in printed


def test_sample_files_are_readable_like_other_files_and_counts_are_plural(exported, tmp_path,
                                                                          capsys):
    old = os.umask(0o022)
    try:
        assert main(["sample", str(exported["path"]), "-n", "1", "-o", str(tmp_path / "g.png")]) == 0
        assert main(["sample", str(exported["path"]), "-n", "2",
                     "--out-dir", str(tmp_path / "each")]) == 0
    finally:
        os.umask(old)
    out = capsys.readouterr().out
    assert "wrote a grid of 1 image to" in out and "wrote 2 images to" in out
    for path in [tmp_path / "g.png", *sorted((tmp_path / "each").iterdir())]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_cache_ls_lists_inception_weights_and_reference_statistics(tmp_path, monkeypatch, capsys):
    from ganhub.metrics.stats import ReferenceStats
    monkeypatch.setenv("GANHUB_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "cache" / "extractors" / "downloads" / "default_1.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\0" * 3000)
    converted = tmp_path / "cache" / "extractors" / "fid_inception_offline-v1-7ff4a85c3a63"
    (converted / "variables").mkdir(parents=True)
    (converted / "variables" / "variables.data-00000-of-00001").write_bytes(b"\0" * 5000)
    reference = ReferenceStats(np.zeros(4), np.eye(4), np.zeros((2, 4)),
                               {"dataset": "fashion_mnist_32", "split": "test", "num_samples": 2})
    ref_path = reference.save(tmp_path / "cache" / "references" / "abc.npz")
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "(empty)" not in out
    assert re.search(r"2\.9 kB +FID Inception weights \(default_1\.pt\)", out)
    assert re.search(r"4\.9 kB +feature extractor fid_inception_offline, converted", out)
    assert "reference statistics: fashion_mnist_32, test, 2 images" in out
    assert str(ref_path) in out


def test_serving_an_empty_folder_warns(tmp_path, capsys, monkeypatch):
    from ganhub.hub import serve as hub_serve
    monkeypatch.setattr(hub_serve.Hub, "serve_forever", lambda self: None)
    (tmp_path / "empty").mkdir()
    assert main(["serve", str(tmp_path / "empty"), "--port", "0", "--no-samples"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "the hub is empty" in err and "0 model(s)" in err


def test_the_package_exports_no_module_it_merely_uses():
    import types
    public = {name: value for name, value in vars(ganhub).items() if not name.startswith("_")}
    assert "os" not in public and "sys" not in public
    # besides ganhub's own submodules (attributes once imported), only the documented names
    own = {name for name, value in public.items() if isinstance(value, types.ModuleType)
           and value.__name__ == f"ganhub.{name}"}
    assert set(public) - own <= set(ganhub.__all__)


def test_z_and_penalty_read_the_same_in_info_list_and_the_model_card(exported, capsys):
    name = "compare_gan/model_15_cifar10_resnet_cifar"
    entry = catalog.get_entry(name)
    penalty, z = describe.format_penalty(entry["penalty"]), describe.format_z(entry["z"])
    assert (penalty, z) == ("wgan_gp (λ=1)", "128-d uniform(-1, 1), batch of exactly 64")
    assert main(["info", name]) == 0
    info = capsys.readouterr().out
    assert re.search(rf"\npenalty +{re.escape(penalty)}\n", info)
    assert re.search(rf"\nz +{re.escape(z)}\n", info)
    assert main(["list", "--penalty", "wgan_gp", "--dataset", "cifar10"]) == 0
    assert penalty in capsys.readouterr().out
    meta = exported["metadata"]
    card = exported["path"].with_name(exported["path"].name + ".md").read_text()
    assert f"- z: {describe.format_z({'dim': meta['z_dim'], 'distribution': meta['z_distribution']})}" in card
    assert "16-d uniform(-1, 1)" in card
    assert f"penalty {describe.format_penalty(meta['penalty'])}," in card
