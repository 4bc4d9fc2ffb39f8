"""Exception types of the public API.

Every error ganhub raises on bad input derives from GanhubError, so callers can catch one type;
the CLI prints ``error: <message>`` on one line and exits non-zero for any of them.
"""


class GanhubError(Exception):
    """Base class of every ganhub error."""


class UnknownModelError(GanhubError, KeyError):
    """A handle names no catalog entry, file or URL that ganhub can resolve."""

    def __str__(self):  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class InvalidModuleError(GanhubError, ValueError):
    """A path or archive exists but is not a usable generator module."""


class DownloadError(GanhubError, OSError):
    """A module could not be fetched (network, HTTP status, size or checksum mismatch)."""


class OfflineError(GanhubError, OSError):
    """Offline mode is on and the module is not in the cache."""


class UntrustedModuleError(GanhubError, PermissionError):
    """A module's graph contains ops that touch files or run code; pass trust=True to load it."""


class ConfigError(GanhubError, ValueError):
    """A training config has an unknown key or an invalid value."""


class ProtocolMismatchError(GanhubError, ValueError):
    """Reference statistics were computed with another extractor or resize mode."""


class BadInputError(GanhubError, ValueError):
    """An argument has the wrong type, shape or range (n <= 0, a seed that is not an integer, …)."""


class CacheError(GanhubError, OSError):
    """The module cache cannot be written: read-only, no permission, disk full or quota exceeded."""


class CatalogError(GanhubError, ValueError):
    """A catalog file or entry (or a module's metadata read as one) is malformed."""
