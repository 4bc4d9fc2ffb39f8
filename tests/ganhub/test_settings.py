import pathlib
import re

import pytest

from ganhub import settings
from ganhub.errors import ConfigError, GanhubError

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented():
    """Each GANHUB_* variable the code reads is in the README's environment table."""
    code = "".join(p.read_text() for folder in ("ganhub", "training", "export")
                   for p in (REPO / folder).rglob("*.py"))
    used = set(re.findall(r"\"(GANHUB_[A-Z0-9_]+)\"", code))
    readme = (REPO / "README.md").read_text()
    assert used, "no variables found: the pattern is wrong"
    assert not sorted(v for v in used if f"`{v}" not in readme)


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", "1e400"])
def test_malformed_number_is_an_error_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("GANHUB_READ_TIMEOUT", raw)
    with pytest.raises(ConfigError, match="GANHUB_READ_TIMEOUT") as info:
        settings.http_read_timeout()
    assert isinstance(info.value, GanhubError)


def test_numbers_and_defaults(monkeypatch):
    monkeypatch.delenv("GANHUB_READ_TIMEOUT", raising=False)
    assert settings.http_read_timeout() == 60
    monkeypatch.setenv("GANHUB_READ_TIMEOUT", " 2.5 ")
    assert settings.http_read_timeout() == 2.5
    monkeypatch.setenv("GANHUB_HTTP_RETRIES", "0")
    assert settings.http_retries() == 0


def test_data_directories(monkeypatch, tmp_path):
    monkeypatch.setenv("GANHUB_MNIST_DIR", str(tmp_path))
    monkeypatch.setenv("GANHUB_CIFAR10_DIR", str(tmp_path / "c"))
    assert settings.mnist_dir() == tmp_path and settings.cifar10_dir() == tmp_path / "c"
