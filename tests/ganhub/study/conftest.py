import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402


@pytest.fixture(scope="session")
def tiny_extractor_dir(tmp_path_factory):
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")
