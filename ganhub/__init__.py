"""ganhub: pretrained generators from The GAN Landscape (compare_gan), in TensorFlow 2.

    import ganhub
    g = ganhub.load("default")            # catalog name, SavedModel dir, .tar.gz or URL
    images = g.sample(16, seed=0)         # uint8 [16, H, W, C]
"""
# A library import changes no process state (no environment variables, no global seeds): the
# `ganhub` command quiets TensorFlow's C++ logging for itself (ganhub.cli).
from ganhub.errors import (BadInputError, ConfigError, DownloadError, GanhubError,  # noqa: E402
                           InvalidModuleError, OfflineError, ProtocolMismatchError,
                           UnknownModelError, UntrustedModuleError)

__version__ = "0.1.0"


def load(handle, *, offline=None, trust=False):
    """A Generator for ``handle``: a catalog name (``ganhub list``), a SavedModel directory, a
    ``.tar.gz`` module archive, or an http(s) URL (optionally ending in ``#sha256=<hex>``).

    ``offline`` (default: GANHUB_OFFLINE) never opens a socket; ``trust`` skips the scan that
    refuses modules whose graphs read or write files or run code.
    """
    from ganhub.generator import from_path
    from ganhub.hub.resolver import resolve

    resolved = resolve(handle, offline=offline, trust=trust)
    return from_path(resolved.path, entry=resolved.entry)


def list_models(**filters):
    """Catalog entries (dicts), filtered by dataset, architecture, loss, normalization, penalty."""
    from ganhub.catalog import list_models as _list
    return _list(**filters)


def info(name):
    """The catalog entry of ``name``."""
    from ganhub.catalog import get_entry
    return get_entry(name)


def evaluate(generator_or_handle, reference=None, **kwargs):
    """Scores of a generator against reference statistics (metrics, num_samples, seed, extractor,
    resize, ...): see ganhub.metrics.evaluation.evaluate, which this calls."""
    from ganhub.metrics.evaluation import evaluate as _evaluate
    return _evaluate(generator_or_handle, reference=reference, **kwargs)


def __getattr__(name):
    if name == "Generator":
        from ganhub.generator import Generator
        return Generator
    raise AttributeError(f"module 'ganhub' has no attribute {name!r}")


__all__ = ["load", "list_models", "info", "evaluate", "Generator", "GanhubError",
           "UnknownModelError", "InvalidModuleError", "DownloadError", "OfflineError",
           "UntrustedModuleError", "ConfigError", "BadInputError", "ProtocolMismatchError"]
