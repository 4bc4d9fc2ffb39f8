"""Presets of the study's best models (spec §6.2) and `ganhub train --preset`."""
import json
import re

import pytest

from ganhub.cli import main
from ganhub.errors import ConfigError
from ganhub.training.presets import PRESET_INFO, PRESETS, get_preset

SHORT_NORM = {"none": "none", "spectral_norm": "sn", "layer_norm": "ln"}
SHORT_PENALTY = {"none": "", "wgan_gp": "_gp", "dragan": "_dragan"}


@pytest.mark.parametrize("name", sorted(PRESET_INFO))
def test_preset_name_follows_the_naming_rule(name):
    c = get_preset(name)
    loss = "" if c.loss == "ns" else f"_{c.loss}"
    stem = f"{c.architecture}_{c.dataset}{loss}_{SHORT_NORM[c.d_norm]}{SHORT_PENALTY[c.penalty]}"
    assert re.fullmatch(re.escape(stem) + r"(_2)?", name)
    assert (c.batch_size, c.z_dim, c.checkpoint_every) == (64, 128, 20_000)
    assert c.keep_checkpoints == c.steps // 20_000 + 1
    assert (c.penalty == "none") == (c.penalty_lambda == 0.0)


def test_presets_reproduce_the_published_lines():
    assert len(PRESET_INFO) == 15 + 11 + 5
    line = get_preset("resnet19_celebahq128_ln_dragan")
    assert (line.d_norm, line.penalty, line.penalty_lambda, line.disc_iters, line.beta2,
            line.learning_rate, line.steps, line.resolution) == (
        "layer_norm", "dragan", 1.0, 5, 0.9, 1e-4, 200_000, 128)
    assert get_preset("sndcgan_lsun_bedroom_none").seed == 23
    assert get_preset("resnet_cifar_cifar10_sn_gp").disc_iters == 5
    assert PRESETS["compare_gan_model_9"] == PRESETS["resnet19_celebahq128_ln_dragan"]
    assert get_preset("compare_gan_model_3").loss == "ls"
    # better line unsuffixed
    for name, info in PRESET_INFO.items():
        if name.endswith("_2"):
            assert PRESET_INFO[name[:-2]]["fid"] <= info["fid"]
    with pytest.raises(ConfigError, match="unknown preset 'nope'; choose one of"):
        get_preset("nope")


@pytest.mark.slow
def test_cli_trains_a_preset_without_a_config_file(tmp_path, fake_fashion_dir, capsys):
    model_dir = tmp_path / "run"
    code = main(["train", "--preset", "sndcgan_cifar10_sn", "--model-dir", str(model_dir), "--quiet",
                 "--set", "dataset=fashion_mnist", "--set", f"data_dir={fake_fashion_dir}",
                 "--set", "width=0.0625", "--set", "steps=1", "--set", "batch_size=8",
                 "--set", "checkpoint_every=1"])
    assert code == 0, capsys.readouterr().err
    saved = json.loads((model_dir / "config.json").read_text())
    assert (saved["architecture"], saved["d_norm"], saved["learning_rate"], saved["beta2"],
            saved["steps"], saved["width"]) == ("sndcgan", "spectral_norm", 2e-4, 0.999, 1, 0.0625)
    assert "step=1" in capsys.readouterr().out


def test_cli_layers_config_file_over_preset_and_checks_the_result(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"d_norm": "layer_norm"}))
    code = main(["train", str(cfg), "--preset", "sndcgan_cifar10_sn", "--model-dir", str(tmp_path / "r")])
    assert code == 1
    assert "d_norm='layer_norm' is not supported by architecture='sndcgan'" in capsys.readouterr().err
    assert main(["train", "--model-dir", str(tmp_path / "r")]) == 1
    assert "give a CONFIG.json, a --preset NAME" in capsys.readouterr().err


CATALOG_DATASET = {"cifar10": "cifar10", "celeba_hq_128": "celebahq128", "lsun_bedroom_128": "lsun_bedroom"}
CATALOG_NORM = {"none": "none", "spectral_norm": "spectral_norm", "layer_norm": "layer_norm",
                "batch_norm": "batch_norm"}


def test_published_presets_match_the_published_modules():
    """Each compare_gan_model_<k> preset trains what the published module <k> was trained with,
    as the compare_gan catalog (built from the published modules' descriptions) records it."""
    import json
    from ganhub import settings
    catalog = json.loads((settings.BUILTIN_CATALOG_DIR / "compare_gan.json").read_text())
    published = {re.search(r"model_(\d+)_", e["name"]).group(1): e for e in catalog["models"]}
    aliases = {n.rsplit("_", 1)[1]: n for n in PRESETS if n.startswith("compare_gan_model_")}
    assert aliases and set(aliases) <= set(published)
    for k, name in aliases.items():
        entry, c = published[k], get_preset(name)
        penalty = entry["penalty"]
        assert (c.architecture, c.dataset, c.loss, c.d_norm, c.penalty) == (
            entry["architecture"], CATALOG_DATASET[entry["dataset"]], entry["loss"],
            CATALOG_NORM[entry["normalization"]], penalty["type"]), name
        if penalty["type"] != "none":
            assert c.penalty_lambda == pytest.approx(penalty["lambda"], abs=5e-4), name
        training = entry["training"]
        # The published descriptions round betas to 3 decimals (beta1 0.375 for the study's 0.3753).
        assert (c.beta1, c.beta2) == pytest.approx((training["beta1"], training["beta2"]),
                                                   abs=5e-4), name
        assert c.learning_rate == pytest.approx(training["learning_rate"], rel=1e-3), name
        assert c.disc_iters == training["disc_iters"], name
        assert (c.z_dim, c.batch_size) == (entry["z"]["dim"], entry["z"]["batch_size"])
