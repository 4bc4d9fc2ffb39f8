"""Issue 16, item 6: presets are listed with their data set and what they reproduce, the offline
data sets have presets, the default model is a preset equal to scripts/default_model.json, and a
resumed run says from which step."""
import json
from pathlib import Path

import pytest

from ganhub.cli import main
from ganhub.training.presets import OFFLINE_PRESETS, PRESET_INFO, PRESETS, get_preset

REPO = Path(__file__).resolve().parents[3]


def test_default_model_preset_is_the_shipped_config():
    shipped = json.loads((REPO / "scripts" / "default_model.json").read_text())
    assert get_preset("default_fashion_mnist").to_dict() == get_preset("default_fashion_mnist") \
        .__class__.from_dict(shipped).to_dict()
    assert PRESETS["default_fashion_mnist"] == shipped


@pytest.mark.parametrize("name, dataset", [("sndcgan_fashion_mnist_sn", "fashion_mnist"),
                                           ("sndcgan_mnist_sn", "mnist"),
                                           ("default_fashion_mnist", "fashion_mnist")])
def test_offline_data_sets_have_presets(name, dataset):
    config = get_preset(name)
    assert config.dataset == dataset and config.resolution == 32
    if name.startswith("sndcgan_"):  # SNDCGAN line 7's optimiser and normalisation
        line7 = get_preset("sndcgan_cifar10_sn").to_dict()
        differ = {k for k, v in config.to_dict().items() if line7[k] != v}
        assert differ == {"dataset"}


def test_list_presets_shows_data_set_and_what_each_reproduces(capsys):
    assert main(["train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["NAME"].split()[:4] == ["NAME", "DATA", "SET", "STEPS"]
    for name in PRESETS:
        assert name in lines, name
    assert "fashion_mnist" in lines["default_fashion_mnist"] and "50,000" in lines["default_fashion_mnist"]
    assert "FID 12.30" in lines["default_fashion_mnist"]
    assert "mnist" in lines["sndcgan_mnist_sn"].split()
    assert "SNDCGAN 7 (=13): FID 25.27" in lines["sndcgan_cifar10_sn"]
    assert "alias of resnet19_celebahq128_ln_dragan" in lines["compare_gan_model_9"]
    assert len(PRESETS) == len(PRESET_INFO) + len(OFFLINE_PRESETS) + sum(
        1 for info in PRESET_INFO.values() if info["tfhub_model"])


def test_help_names_no_source_files_and_shows_how_to_reproduce_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "training/" not in text and ".py" not in text
    assert "--list-presets" in text and "--preset default_fashion_mnist" in text


def test_unknown_preset_suggests_and_points_at_the_list(tmp_path, capsys):
    assert main(["train", "--preset", "default_fashion_mnst", "--model-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Did you mean 'default_fashion_mnist'" in err and "--list-presets" in err


def test_print_config_shows_every_key_without_training(tmp_path, capsys):
    assert main(["train", "--preset", "sndcgan_mnist_sn", "--set", "steps=7", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dataset"] == "mnist" and printed["steps"] == 7 and "g_ema_decay" in printed


@pytest.mark.slow
def test_mnist_preset_trains_and_a_rerun_says_it_resumes(tmp_path, fake_fashion_dir, monkeypatch,
                                                         capsys):
    monkeypatch.setenv("GANHUB_MNIST_DIR", str(fake_fashion_dir))  # MNIST's IDX layout
    args = ["train", "--preset", "sndcgan_mnist_sn", "--model-dir", str(tmp_path / "run"),
            "--quiet", "--set", "width=0.0625", "--set", "batch_size=8",
            "--set", "checkpoint_every=1", "--set", "z_dim=8"]
    assert main(args + ["--set", "steps=1"]) == 0
    first = capsys.readouterr().out
    assert "resuming" not in first and "step=1" in first
    assert main(args + ["--set", "steps=2"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {tmp_path / 'run'} from step 1 (ckpt-1), training to step 2" in out
    assert "step=2" in out


def test_listing_and_printing_presets_do_not_import_tensorflow():
    import subprocess
    import sys
    code = ("import contextlib, io, sys; from ganhub.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    assert main(['train', '--list-presets']) == 0\n"
            "    assert main(['train', '--preset', 'default_fashion_mnist', '--print-config']) == 0\n"
            "assert 'default_fashion_mnist' in out.getvalue() and '\"architecture\"' in out.getvalue()\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
