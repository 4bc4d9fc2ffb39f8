"""Every environment variable and default in one place, shared by the Python API and the CLI."""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = PACKAGE_DIR / "models" / "default"
BUILTIN_CATALOG_DIR = PACKAGE_DIR / "catalogs"

# Module format written by export/ and read by ganhub.Generator.
METADATA_ASSET = "ganhub.json"          # at <module>/assets/ganhub.json
SIGNATURE_KEY = "serving_default"
INPUT_KEY = "z"
OUTPUT_KEY = "images"
METADATA_SCHEMA_VERSION = 1

# Sampling defaults (API and CLI).
SAMPLE_BATCH_SIZE = 64
SAMPLE_SEED = 0
GRID_PADDING = 2


def _truthy(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def cache_dir():
    """GANHUB_CACHE, else $XDG_CACHE_HOME/ganhub, else ~/.cache/ganhub."""
    env = os.environ.get("GANHUB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ganhub"


def offline():
    """GANHUB_OFFLINE=1: never open a socket."""
    return _truthy(os.environ.get("GANHUB_OFFLINE", ""))


def progress_disabled():
    """GANHUB_DISABLE_PROGRESS=1 silences progress bars."""
    return _truthy(os.environ.get("GANHUB_DISABLE_PROGRESS", ""))


def extra_catalogs():
    """GANHUB_CATALOGS: extra catalog paths or URLs, separated by os.pathsep or whitespace."""
    raw = os.environ.get("GANHUB_CATALOGS", "")
    return [part for chunk in raw.split(os.pathsep) for part in chunk.split() if part]


def fashion_mnist_dir():
    """Where the Debian package dataset-fashion-mnist installs the IDX files."""
    return Path(os.environ.get("GANHUB_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
