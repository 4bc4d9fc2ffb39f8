import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ganhub" / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402


@pytest.fixture(scope="session")
def tiny_extractor_dir(tmp_path_factory):
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")


@pytest.fixture(scope="session")
def rgb_folder(tmp_path_factory):
    """40 random 16×16 RGB PNGs (image_folder data set)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(1)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder
