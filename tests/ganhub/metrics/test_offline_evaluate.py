"""Issue 16, item 3: `ganhub evaluate --offline` opens no socket and runs no pip; without the FID
Inception weights it says in one line to set GANHUB_FID_INCEPTION_WEIGHTS."""
import shutil
import socket
import subprocess

import numpy as np
import pytest

from ganhub import settings
from ganhub.cli import main
from ganhub.errors import OfflineError
from ganhub.metrics import inception
from ganhub.metrics.evaluation import compute_reference
from ganhub.metrics.extractors import load_extractor


@pytest.fixture
def no_network(monkeypatch):
    """Every way out of the process fails loudly and is recorded: sockets and subprocesses (pip
    downloads the weights in a subprocess, where a socket patch would not reach)."""
    attempts = []

    def refuse(what):
        def blocked(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"offline evaluation tried to use {what}")
        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    monkeypatch.setattr(subprocess, "run", refuse("subprocess.run"))
    return attempts


def test_offline_without_weights_names_the_variable_and_opens_nothing(no_network, capsys):
    assert main(["evaluate", "default", "-r", "fashion_mnist_32-test", "-n", "20",
                 "--offline"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "GANHUB_FID_INCEPTION_WEIGHTS" in err
    assert "pip could not download" not in err
    # the Python API too, with the flag rather than GANHUB_OFFLINE
    with pytest.raises(OfflineError, match="GANHUB_FID_INCEPTION_WEIGHTS"):
        load_extractor("fid_inception_offline", offline=True)
    with pytest.raises(OfflineError, match="GANHUB_FID_INCEPTION_WEIGHTS"):
        inception.locate_weights(offline=True)
    assert no_network == []


def test_offline_evaluation_with_cached_weights_runs_without_the_network(
        tiny_extractor_dir, tmp_path, no_network, capsys):
    # The converted network is what the cache holds after one online run; a tiny stand-in here.
    shutil.copytree(tiny_extractor_dir, inception.converted_dir())
    extractor = load_extractor("fid_inception_offline", offline=True)
    assert extractor.id == "fid_inception_offline"
    images = np.random.default_rng(3).integers(0, 256, size=(40, 32, 32, 1), dtype=np.uint8)
    reference = compute_reference(images, extractor, "legacy", dataset="noise", split="test")
    path = reference.save(tmp_path / "ref.npz")
    assert main(["evaluate", "default", "-r", str(path), "-n", "20", "--metrics", "fid,kid",
                 "--offline", "--json"]) == 0, capsys.readouterr().err
    assert '"fid":' in capsys.readouterr().out
    assert no_network == []


def test_pip_failure_message_says_what_to_do_offline(monkeypatch, tmp_path):
    class Failed:
        returncode, stderr = 1, "ERROR: Could not find a version (from versions: none)\n"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(Exception, match="GANHUB_FID_INCEPTION_WEIGHTS") as raised:
        inception.download_weights(tmp_path, offline=False)
    assert settings.FID_INCEPTION_WHEEL in str(raised.value)
