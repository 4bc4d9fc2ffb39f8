"""Bad counts, missing or corrupt files and unwritable outputs for evaluate/stats: clear errors
that name the problem, raised before any expensive work, and nothing written."""
import numpy as np
import pytest
from PIL import Image

import ganhub
from ganhub.cli import main
from ganhub.metrics import MetricInputError, ReferenceStats, load_extractor
from ganhub.metrics.data import DataSourceError, load_images
from ganhub.metrics.evaluation import (compute_reference, evaluate, features_of_images,
                                     reference_from_data, resolve_reference)
from ganhub.metrics.stats import ReferenceFileError


@pytest.fixture
def images_npz(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "real.npz"
    np.savez(path, images=rng.integers(0, 256, size=(40, 12, 12, 3), dtype=np.uint8))
    return path


@pytest.fixture
def reference_npz(tmp_path, tiny_extractor_dir, images_npz):
    extractor = load_extractor(str(tiny_extractor_dir))
    images, _ = load_images(images_npz)
    return compute_reference(images, extractor, "legacy").save(tmp_path / "ref.npz")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("argv", [
    ["stats", "fashion_mnist", "-n", "0"],
    ["stats", "fashion_mnist", "-n", "-5"],
    ["stats", "fashion_mnist", "--batch-size", "0"],
    ["evaluate", "default", "-r", "fashion_mnist-test", "-n", "-3"],
    ["evaluate", "default", "-r", "fashion_mnist-test", "--seed", "-1"],
])
def test_cli_rejects_counts_that_are_not_positive(argv, capsys, tmp_path):
    # A missing extractor makes a run that got past argument parsing fail at once, not compute.
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--extractor", str(tmp_path / "no-extractor")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "expected a positive integer" in err or "the seed must be >= 0" in err


def test_api_rejects_counts_that_are_not_positive(tiny_extractor_dir, stand_in_generator,
                                                   images_npz, reference_npz):
    for n in (0, -3, 2.5, True):
        with pytest.raises(MetricInputError, match="num_samples must be a positive integer"):
            evaluate(stand_in_generator, str(reference_npz), "fid", n, 0, str(tiny_extractor_dir))
    with pytest.raises(MetricInputError, match="num_samples"):
        reference_from_data(str(images_npz), num_samples=-5, extractor=str(tiny_extractor_dir))
    with pytest.raises(DataSourceError, match="num_samples"):
        load_images(images_npz, num_samples=-5)  # used to mean "all but the last 5"
    extractor = load_extractor(str(tiny_extractor_dir))
    with pytest.raises(MetricInputError, match="batch_size"):
        features_of_images(np.zeros((4, 12, 12, 3), np.uint8), extractor, "legacy", batch_size=0)


def test_missing_and_corrupt_reference_files(tmp_path, reference_npz, tiny_extractor_dir):
    with pytest.raises(ReferenceFileError, match="not found.*ganhub stats"):
        resolve_reference(tmp_path / "typo.npz")
    _truncate(reference_npz)
    with pytest.raises(ReferenceFileError, match="not a readable .npz"):
        resolve_reference(reference_npz)
    with pytest.raises(ReferenceFileError, match="cannot read reference statistics"):
        ReferenceStats.load(reference_npz)


def test_missing_and_corrupt_image_sources(tmp_path, images_npz):
    with pytest.raises(DataSourceError, match="not found"):
        load_images(tmp_path / "missing.npz")
    with pytest.raises(DataSourceError, match="not found"):
        load_images(str(tmp_path / "no" / "such" / "folder"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataSourceError, match="is not an .npz of images or an image folder"):
        load_images(tmp_path / "notes.txt")
    with pytest.raises(DataSourceError, match="not a readable .npz of images"):
        load_images(_truncate(images_npz))
    with pytest.raises(DataSourceError, match="'dev' is not a split of fashion_mnist; use split "
                                              "test or train"):
        load_images("fashion_mnist", split="dev")


def test_image_folder_with_a_broken_or_odd_sized_image(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "b.png")
    assert load_images(folder)[0].shape == (2, 8, 8, 3)
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(folder / "c.png")
    with pytest.raises(DataSourceError, match="differ in size"):
        load_images(folder)
    (folder / "c.png").write_bytes(b"not a png")
    with pytest.raises(DataSourceError, match="cannot read image .*c.png"):
        load_images(folder)


def test_cli_corrupt_reference_is_a_one_line_error(tiny_extractor_dir, stand_in_generator,
                                                   reference_npz, monkeypatch, capsys):
    monkeypatch.setattr(ganhub, "load", lambda handle, **kw: stand_in_generator, raising=False)
    _truncate(reference_npz)
    assert main(["evaluate", "stand-in", "-r", str(reference_npz), "-n", "40",
                 "--extractor", str(tiny_extractor_dir)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "not a readable .npz" in err or "cannot read reference statistics" in err


def test_stats_output_gets_npz_suffix_and_bad_outputs_fail_before_work(
        tmp_path, images_npz, tiny_extractor_dir, capsys):
    assert main(["stats", str(images_npz), "-n", "40", "-o", str(tmp_path / "ref"),
                 "--extractor", str(tiny_extractor_dir)]) == 0
    assert (tmp_path / "ref.npz").is_file() and not (tmp_path / "ref").exists()
    assert str(tmp_path / "ref.npz") in capsys.readouterr().out
    assert ReferenceStats.load(tmp_path / "ref.npz").num_samples == 40

    folder = tmp_path / "out.npz"
    folder.mkdir()
    # The extractor does not exist: the output check must fail first, before loading anything.
    assert main(["stats", str(images_npz), "-o", str(folder),
                 "--extractor", str(tmp_path / "no-extractor")]) == 1
    err = capsys.readouterr().err
    assert "is a folder" in err and "no-extractor" not in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["stats", str(images_npz), "-o", str(blocker / "ref.npz"),
                 "--extractor", str(tiny_extractor_dir)]) == 1
    assert "not a writable folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out.npz", "real.npz", "ref.npz"]


def test_cli_evaluate_passes_offline_and_trust_to_load(tiny_extractor_dir, stand_in_generator,
                                                       reference_npz, monkeypatch, capsys):
    calls = []

    def fake_load(handle, **kwargs):
        calls.append((handle, kwargs))
        return stand_in_generator

    monkeypatch.setattr(ganhub, "load", fake_load, raising=False)
    args = ["evaluate", "stand-in", "-r", str(reference_npz), "-n", "40",
            "--extractor", str(tiny_extractor_dir)]
    assert main(args) == 0
    assert main(args + ["--offline", "--trust"]) == 0
    assert calls == [("stand-in", {"offline": None, "trust": False}),
                     ("stand-in", {"offline": True, "trust": True})]


def test_missing_reference_message_names_the_cli_flag(stand_in_generator, tiny_extractor_dir):
    with pytest.raises(MetricInputError, match="--reference/-r"):
        evaluate(stand_in_generator, None, "fid", 10, 0, str(tiny_extractor_dir))
