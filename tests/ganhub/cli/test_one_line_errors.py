"""Issue 16, item 5: cases that printed tracebacks now give one line and a non-zero exit, and
`ganhub sample` writes the format its -o suffix names and streams --out-dir."""
import json
import shutil
import socket

import numpy as np
import pytest
from PIL import Image

import ganhub
from ganhub.cli import main
from ganhub.cli.sample import latent_batches


def _one_line_error(capsys, command):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"ganhub {command}: error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("assignment, words", [
    ("width=big", ["width must be a number", "'big'"]),
    ("learning_rate=abc", ["learning_rate must be a number", "'abc'"]),
    ("steps=many", ["steps must be an integer"]),
    ("jit_compile=maybe", ["jit_compile must be true or false"]),
])
def test_set_with_a_value_of_the_wrong_type(assignment, words, tmp_path, capsys):
    code = main(["train", "--preset", "default_fashion_mnist", "--model-dir", str(tmp_path / "run"),
                 "--set", assignment])
    assert code == 1
    err = _one_line_error(capsys, "train")
    assert all(word in err for word in words), err
    assert not (tmp_path / "run").exists()


def test_export_of_a_run_whose_checkpoint_data_file_is_missing(trained_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_dir, run)
    data = sorted((run / "checkpoints").glob("ckpt-3.data-*"))
    assert data, "the fixture run has no ckpt-3 data file"
    data[0].unlink()
    assert main(["export", str(run), str(tmp_path / "out")]) == 1
    err = _one_line_error(capsys, "export")
    assert "ckpt-3" in err and data[0].name in err and "--checkpoint" in err
    assert not (tmp_path / "out").exists()


def test_export_of_a_corrupt_checkpoint_file_is_one_line(trained_dir, tmp_path, capsys):
    """A data file that exists but is garbage passes the early check and fails in the restore:
    the OpError becomes one line too."""
    run = tmp_path / "run"
    shutil.copytree(trained_dir, run)
    data = sorted((run / "checkpoints").glob("ckpt-3.data-*"))[0]
    data.write_bytes(b"\0" * 64)
    assert main(["export", str(run), str(tmp_path / "out")]) == 1
    err = _one_line_error(capsys, "export")
    assert "cannot read the checkpoint" in err and "ckpt-3" in err


def test_published_module_without_network_hints_at_download_and_offline(
        tmp_path, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nobody listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GANHUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "0")
    code = main(["sample", f"http://127.0.0.1:{port}/model.tar.gz", "-o", str(tmp_path / "g.png")])
    assert code == 1
    err = _one_line_error(capsys, "sample")
    assert "ganhub download" in err and "--offline" in err
    assert not (tmp_path / "g.png").exists()


def test_sample_writes_the_format_its_suffix_names(exported, tmp_path, capsys):
    magic = {"jpg": b"\xff\xd8\xff", "png": b"\x89PNG", "webp": b"RIFF", "bmp": b"BM"}
    for suffix, head in magic.items():
        out = tmp_path / f"grid.{suffix}"
        assert main(["sample", str(exported["path"]), "-n", "4", "-o", str(out)]) == 0
        assert out.read_bytes().startswith(head), suffix
    with Image.open(tmp_path / "grid.jpg") as image:
        assert image.format == "JPEG" and image.size == (2 * 34 + 2, 2 * 34 + 2)
    assert main(["sample", str(exported["path"]), "-o", str(tmp_path / "grid.gif")]) == 1
    assert "suffix '.gif'" in _one_line_error(capsys, "sample")
    assert not (tmp_path / "grid.gif").exists()


@pytest.mark.parametrize("distribution", [
    {"name": "uniform", "low": -1.0, "high": 1.0}, {"name": "normal", "mean": 0.0, "stddev": 1.0}])
def test_latents_drawn_in_batches_equal_one_draw(distribution):
    class Dist:
        z_dim = 5
        z_distribution = distribution

    from ganhub.generator import Generator
    one_draw = Generator.sample_latents(Dist(), 23, seed=4)
    batches = list(latent_batches(distribution, 5, 23, 4, size=7))
    assert [len(b) for b in batches] == [7, 7, 7, 2]
    np.testing.assert_array_equal(np.concatenate(batches), one_draw)


def test_out_dir_streams_the_same_images_as_sample(exported, tmp_path, capsys):
    out = tmp_path / "images"
    assert main(["sample", str(exported["path"]), "-n", "11", "--seed", "3", "--batch-size", "4",
                 "--out-dir", str(out)]) == 0
    assert "wrote 11 images" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert len(files) == 11
    got = np.stack([np.asarray(Image.open(f)) for f in files])[..., None]
    expected = ganhub.load(str(exported["path"])).sample(11, seed=3)
    np.testing.assert_array_equal(got, expected)


def test_settings_hold_the_cli_defaults(tmp_path, monkeypatch):
    from ganhub import settings
    from ganhub.cli import build_parser
    monkeypatch.chdir(tmp_path)  # the default -o samples.png is checked for writing here
    args = build_parser().parse_args(["sample", "default"])
    assert args.num is None  # unset, so a walk (--interpolate, --gif) can refuse an explicit -n
    args.check(args)
    assert args.num == settings.SAMPLE_COUNT and args.seed == settings.SAMPLE_SEED
    assert json.dumps(settings.GRID_MAX_BYTES)  # a plain number
