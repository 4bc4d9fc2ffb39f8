import pytest

from _standin import StandInGenerator, write_tiny_extractor


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own ganhub cache and no network-fetched weights."""
    monkeypatch.setenv("GANHUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANHUB_DISABLE_PROGRESS", "1")
    monkeypatch.delenv("GANHUB_FID_INCEPTION_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def tiny_extractor_dir(tmp_path_factory):
    """A SavedModel mapping [N, 16, 16, 3] in [-1, 1) to 6 features and 5 logits."""
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")


@pytest.fixture
def stand_in_generator(monkeypatch):
    """A StandInGenerator; tests hand it out through a fake ganhub.load for the handle
    "stand-in", which `ganhub evaluate`'s early name check (run before TensorFlow) then accepts."""
    from ganhub.cli import evaluate as cli_evaluate
    real = cli_evaluate.check_model_handle
    monkeypatch.setattr(cli_evaluate, "check_model_handle",
                        lambda handle, offline=None: None if handle == "stand-in" else real(handle, offline))
    return StandInGenerator()
