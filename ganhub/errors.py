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


class MetricInputError(BadInputError):
    """Arrays given to a metric have the wrong shape, dtype, range or contain NaN/inf."""


class NonFiniteInputError(MetricInputError):
    """Arrays given to a metric contain NaN or inf (a diverged generator)."""


class MetricUnavailableError(GanhubError, ValueError):
    """The chosen extractor cannot produce what a metric needs (e.g. IS without logits)."""


class ExtractorError(GanhubError, ValueError):
    """A handle names no extractor, or a SavedModel does not map images to features."""


class WeightsError(GanhubError, ValueError):
    """The Inception weights file is missing, corrupt or not the expected archive."""


class ReferenceFileError(GanhubError, ValueError):
    """A reference-statistics file is missing, truncated or not in ganhub's format."""


class DataSourceError(GanhubError, ValueError):
    """Images for reference statistics cannot be read from the given source."""


class ReferenceEntryError(GanhubError, ValueError):
    """A catalog reference entry is malformed, or its file disagrees with it."""


class ServeError(GanhubError, OSError):
    """The server cannot listen on the given address (port taken, invalid, or not permitted)."""


class StudyError(GanhubError):
    """A study does not exist, already exists, or its storage cannot be reached."""


class DataError(GanhubError, ValueError):
    """A data file is missing or malformed."""


class RecordIndexError(GanhubError, ValueError):
    """A TFRecord file's index cannot be built (a truncated or corrupt record)."""


class TrainingDivergedError(GanhubError, FloatingPointError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
