"""Streaming feature statistics and reference-statistics files.

FeatureStats merges batches with Chan et al.'s pairwise update of (count, mean, sum of squared
deviations), in float64: memory is O(dim²) whatever the number of images, and there is no
catastrophic cancellation as with the raw sum-of-outer-products formula.
"""
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from ganhub.errors import GanhubError, ProtocolMismatchError, ReferenceFileError
from ganhub.fileio import atomic_path
from ganhub.metrics._checks import MetricInputError, as_float64_matrix

REFERENCE_FORMAT_VERSION = 1
# Fields of the provenance that must agree between a reference and an evaluation.
PROTOCOL_FIELDS = ("extractor_id", "extractor_sha256", "resize")


class FeatureStats:
    """Running mean and unbiased covariance of feature vectors, plus the first `keep` vectors.

    The kept vectors (float32, as the network produces them) serve KID, which needs samples, not
    moments; keep=0 gives strictly constant memory.
    """

    def __init__(self, dim, keep=0):
        self.dim = int(dim)
        self.keep = int(keep)
        self.count = 0
        self.mean = np.zeros(self.dim)
        self._m2 = np.zeros((self.dim, self.dim))
        self._kept = []
        self._num_kept = 0

    def update(self, features):
        x = as_float64_matrix(features, "features")
        if x.shape[1] != self.dim:
            raise MetricInputError(f"features have dimension {x.shape[1]}, these statistics {self.dim}")
        n = x.shape[0]
        batch_mean = x.mean(axis=0)
        centred = x - batch_mean
        batch_m2 = centred.T @ centred
        total = self.count + n
        delta = batch_mean - self.mean
        self._m2 += batch_m2 + np.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count = total
        if self._num_kept < self.keep:
            take = x[: self.keep - self._num_kept].astype(np.float32)
            self._kept.append(take)
            self._num_kept += len(take)
        return self

    @property
    def covariance(self):
        if self.count < 2:
            raise MetricInputError(f"a covariance needs at least 2 samples, got {self.count}")
        return self._m2 / (self.count - 1)

    @property
    def features(self):
        if not self._kept:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(self._kept)

    @classmethod
    def from_features(cls, features, keep=0):
        x = np.asarray(features)
        if x.ndim != 2:
            raise MetricInputError(f"features must be 2-D, got shape {x.shape}")
        return cls(x.shape[1], keep=keep).update(x)


class ReferenceStats:
    """Moments (and a feature sample for KID) of a real data set, with where they came from."""

    def __init__(self, mu, sigma, features, provenance):
        self.mu = np.asarray(mu, np.float64)
        self.sigma = np.asarray(sigma, np.float64)
        self.features = np.asarray(features)
        self.provenance = dict(provenance)

    @property
    def num_samples(self):
        return int(self.provenance.get("num_samples", 0))

    @classmethod
    def from_stats(cls, stats, **provenance):
        provenance.setdefault("num_samples", stats.count)
        provenance.setdefault("feature_dim", stats.dim)
        # The kept feature vectors: KID, precision/recall and density/coverage compare samples.
        provenance.setdefault("feature_samples", int(len(stats.features)))
        provenance.setdefault("format_version", REFERENCE_FORMAT_VERSION)
        provenance.setdefault("ganhub_version", _ganhub_version())
        provenance.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        return cls(stats.mean, stats.covariance, stats.features, provenance)

    def check_protocol(self, extractor_id, extractor_sha256, resize):
        """Raise ProtocolMismatchError unless this reference was made the same way."""
        wanted = {"extractor_id": extractor_id, "extractor_sha256": extractor_sha256, "resize": resize}
        for field in PROTOCOL_FIELDS:
            have = self.provenance.get(field)
            if have != wanted[field]:
                raise ProtocolMismatchError(
                    f"reference statistics were computed with {field}={have!r} but this evaluation "
                    f"uses {wanted[field]!r}; recompute them with `ganhub stats` using the same "
                    f"extractor and resize mode")

    def save(self, path):
        """Write an .npz atomically (a temp file in the same directory, then os.replace) and return
        its path; ".npz" is appended to a name without it, as numpy.savez does."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        check_writable(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as f:  # nothing half-written, even on ^C
                np.savez(f, mu=self.mu, sigma=self.sigma, features=self.features,
                         provenance=np.array(json.dumps(self.provenance, sort_keys=True)))
        except OSError as exc:
            raise ReferenceFileError(f"cannot write reference statistics {path}: {exc}") from None
        return path

    @classmethod
    def load(cls, path):
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = {"mu", "sigma", "features", "provenance"} - set(data.files)
                if missing:
                    raise ReferenceFileError(
                        f"{path} lacks {sorted(missing)}; it is not a ganhub reference file "
                        f"(make one with `ganhub stats`)")
                _check_npz_headers(path, ("mu", "sigma", "features", "provenance"))
                provenance = json.loads(str(data["provenance"]))
                if not isinstance(provenance, dict):
                    raise ReferenceFileError(
                        f"{path}: its provenance is a JSON {type(provenance).__name__}, not an "
                        f"object; it is not a ganhub reference file (remake it with `ganhub stats`)")
                mu, sigma, features = data["mu"], data["sigma"], data["features"]
                _check_reference_shapes(path, mu, sigma, features)
                return cls(mu, sigma, features, provenance)
        except _UNREADABLE_NPZ as exc:
            if isinstance(exc, GanhubError):
                raise
            raise ReferenceFileError(f"cannot read reference statistics {path} ({exc}); remake it "
                                     f"with `ganhub stats`") from None


MAX_ARRAY_BYTES = 4 * 2**30  # far above any real reference (2048-d: sigma 32 MB, 10k features 80 MB)


def _check_npz_headers(path, names):
    """Read each array's .npy header (not its data) and refuse object dtypes and shapes whose
    size disagrees with the bytes the file holds or exceeds MAX_ARRAY_BYTES: np.load would
    otherwise try to allocate whatever a crafted header claims (shape 10^12 -> MemoryError)."""
    from numpy.lib import format as npy_format
    with zipfile.ZipFile(path) as archive:
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            with archive.open(info) as fh:
                version = npy_format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(fh)
                elif version in ((2, 0), (3, 0)):
                    shape, _, dtype = npy_format.read_array_header_2_0(fh)
                else:
                    raise ReferenceFileError(f"{path}: array {name!r} has .npy version {version}")
                header_end = fh.tell()
            if dtype.hasobject:
                raise ReferenceFileError(f"{path}: array {name!r} holds Python objects; refusing it "
                                         f"(reference files hold numbers and one JSON string)")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if nbytes > MAX_ARRAY_BYTES or nbytes != info.file_size - header_end:
                raise ReferenceFileError(
                    f"{path}: array {name!r} claims shape {tuple(shape)} ({nbytes} bytes) but the "
                    f"file holds {info.file_size - header_end} bytes for it; the file is corrupt or "
                    f"crafted (remake it with `ganhub stats`)")


def check_reference_file(path):
    """Without loading its arrays: raise ReferenceFileError if the reference .npz at ``path`` is
    unreadable, crafted (array headers that lie) or has a provenance that is not a JSON object.
    An .npz without provenance (images, not statistics) passes."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "provenance" not in data.files:
                return
            names = [n for n in ("mu", "sigma", "features", "provenance") if n in data.files]
            _check_npz_headers(path, names)
            provenance = json.loads(str(data["provenance"]))
    except _UNREADABLE_NPZ as exc:
        if isinstance(exc, GanhubError):
            raise
        raise ReferenceFileError(f"cannot read reference statistics {path} ({exc}); remake it "
                                 f"with `ganhub stats`") from None
    if not isinstance(provenance, dict):
        raise ReferenceFileError(f"{path}: its provenance is a JSON {type(provenance).__name__}, not "
                                 f"an object; it is not a ganhub reference file (remake it with "
                                 f"`ganhub stats`)")


def _check_reference_shapes(path, mu, sigma, features):
    d = mu.shape[0] if mu.ndim == 1 else None
    if d is None or sigma.shape != (d, d) or features.ndim != 2 or (features.size and features.shape[1] != d):
        raise ReferenceFileError(
            f"{path}: mu {mu.shape}, sigma {sigma.shape} and features {features.shape} do not fit "
            f"together (expected [d], [d, d], [n, d]); remake it with `ganhub stats`")


# What np.load raises for a missing, truncated or corrupt .npz (a cut-off zip is BadZipFile, which
# is neither OSError nor ValueError).
_UNREADABLE_NPZ = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def is_reference_file(path):
    """Whether the .npz at ``path`` holds reference statistics (rather than images)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "provenance" in data.files
    except _UNREADABLE_NPZ as exc:
        raise ReferenceFileError(f"{path} is not a readable .npz ({exc}); remake it with "
                                 f"`ganhub stats`") from None


def check_writable(path):
    """Fail before any work if reference statistics cannot be written to ``path``."""
    path = Path(path)
    if path.is_dir():
        raise ReferenceFileError(f"{path} is a folder; give a file name such as {path / 'ref.npz'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:  # where mkdir will create it
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ReferenceFileError(f"cannot write {path}: {parent} is not a writable folder")


def reference_key(**fields):
    """Content key of a reference: sha256 over the fields that determine its numbers."""
    import hashlib
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _ganhub_version():
    try:
        from ganhub import __version__
        return __version__
    except ImportError:
        try:
            from importlib.metadata import version
            return version("ganhub")
        except Exception:  # not installed (running from a source tree)
            return "unknown"
