"""Model catalogs: the built-in ones shipped in ganhub/catalogs/*.json plus GANHUB_CATALOGS.

Catalog format (``catalog_version`` 1)::

    {"catalog_version": 1, "name": "...", "description": "...", "models": [ENTRY, ...]}

ENTRY keys: ``name``, ``handle`` (URL, path relative to the catalog, or ``ganhub:<package path>``),
``format`` ("tf2-savedmodel" | "tf1-hub"), ``signature``, ``input_key``, ``output_key``,
``z`` {dim, distribution {name, low/high or mean/stddev}, batch_size (null = any)}, ``image_shape`` [H, W, C], ``sha256``, ``size``,
``integrity``, ``dataset``, ``architecture``, ``loss``, ``normalization``, ``penalty`` {type, lambda},
``training`` {...}, ``scores`` {metric: {value, protocol, source}}.

``integrity`` is "pinned" (sha256 and size given; downloads are checked against them), "unverified"
(sha256/size null: not known, the download is accepted as served; ``integrity_note`` says why) or
"packaged" (ships inside ganhub). This module never imports TensorFlow: `ganhub list` and
`ganhub info` must answer in well under a second.
"""
import json
import os
import sys
from pathlib import Path
from urllib.parse import urljoin, urlparse

from ganhub import settings
from ganhub.errors import GanhubError, UnknownModelError

CATALOG_VERSION = 1
INTEGRITY = ("pinned", "unverified", "packaged")
FILTER_KEYS = ("dataset", "architecture", "loss", "normalization", "penalty")

# Short names people type for the values the catalogs use.
_ALIASES = {
    "sn": "spectral_norm", "spectral": "spectral_norm", "ln": "layer_norm", "layer": "layer_norm",
    "bn": "batch_norm", "batch": "batch_norm", "gp": "wgan_gp", "wgan-gp": "wgan_gp",
    "wgan": "wgan_gp", "celeba": "celeba_hq_128", "celebahq": "celeba_hq_128",
    "celeba_hq": "celeba_hq_128", "lsun": "lsun_bedroom_128", "lsun_bedroom": "lsun_bedroom_128",
    "cifar": "cifar10", "non-saturating": "ns", "least-squares": "ls", "none": "none",
}


class CatalogError(GanhubError, ValueError):
    """A catalog file is malformed."""


def is_url(text):
    return urlparse(str(text)).scheme in ("http", "https")


def describe_weights(weights):
    """One line on which generator weights a module holds (metadata training.generator_weights);
    None when the metadata does not say (modules exported before ganhub recorded it)."""
    if not isinstance(weights, dict):
        return None
    if weights.get("kind") != "ema":
        return "G as trained (no weight averaging; BN moving averages from training)"
    bn = weights.get("bn_statistics") or {}
    return (f"exponential moving average of G (decay {weights.get('decay')}, from step "
            f"{weights.get('start')}); BN statistics recomputed for it ({bn.get('batches')} "
            f"batches of {bn.get('batch_size')})")


def validate_entry(entry, where="catalog"):
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{where}: an entry has no name")
    if not isinstance(entry.get("handle"), str) or not entry["handle"]:
        raise CatalogError(f"{where}: entry {name!r} has no handle")
    integrity = entry.get("integrity", "pinned" if entry.get("sha256") else None)
    if integrity not in INTEGRITY:
        raise CatalogError(f"{where}: entry {name!r}: integrity must be one of {INTEGRITY} "
                           f"(an entry without sha256 must say integrity: \"unverified\")")
    sha = entry.get("sha256")
    if integrity == "pinned":
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha.lower())):
            raise CatalogError(f"{where}: entry {name!r} is pinned but has no valid sha256")
        if not isinstance(entry.get("size"), int):
            raise CatalogError(f"{where}: entry {name!r} is pinned but has no size")
    elif sha is not None:
        raise CatalogError(f"{where}: entry {name!r} has a sha256 but integrity {integrity!r}")
    entry["integrity"] = integrity
    return entry


def _read_catalog_json(text, where):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"{where} is not valid JSON: {exc}") from None
    version = data.get("catalog_version") if isinstance(data, dict) else None
    if version != CATALOG_VERSION:
        raise CatalogError(f"{where}: catalog_version {version!r} is not supported "
                           f"(this ganhub reads version {CATALOG_VERSION})")
    if not isinstance(data.get("models"), list):
        raise CatalogError(f"{where}: 'models' must be a list")
    return data


def _default_metadata():
    """Fields of the embedded model's assets/ganhub.json, mapped onto catalog keys."""
    path = settings.DEFAULT_MODEL_DIR / "assets" / settings.METADATA_ASSET
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metadata_to_entry(meta)


def metadata_to_entry(meta):
    """Catalog fields from a module's ganhub.json (the exporter's metadata schema)."""
    fields = {key: meta[key] for key in ("architecture", "loss", "normalization", "image_shape",
                                          "training", "scores", "created") if key in meta}
    normalization = meta.get("normalization")
    if isinstance(normalization, dict):  # {"generator": ..., "discriminator": ...}
        fields["normalization"] = normalization.get("discriminator")
        fields["normalization_details"] = normalization
    penalty = meta.get("penalty")
    if isinstance(penalty, str):
        penalty = {"type": penalty}
    if penalty is not None:
        fields["penalty"] = penalty
    dataset = meta.get("dataset")
    if isinstance(dataset, dict):
        fields["dataset"] = dataset.get("name")
        fields["dataset_details"] = dataset
    elif dataset is not None:
        fields["dataset"] = dataset
    if "z_dim" in meta:
        fields["z"] = {"dim": meta["z_dim"], "distribution": meta.get("z_distribution"),
                       "batch_size": None}
    fields["metadata"] = meta
    return fields


def _load_builtin():
    entries = []
    for path in sorted(settings.BUILTIN_CATALOG_DIR.glob("*.json")):
        data = _read_catalog_json(path.read_text(encoding="utf-8"), str(path))
        for entry in data["models"]:
            entry = validate_entry(dict(entry), str(path))
            entry["catalog"] = data.get("name", path.stem)
            entry["builtin"] = True
            if entry["handle"] == "ganhub:models/default":
                entry.update(_default_metadata())
                entry["installed"] = (settings.DEFAULT_MODEL_DIR / "saved_model.pb").is_file()
            entries.append(entry)
    return entries


def _fetch_remote_catalog(url):
    """Fetch a catalog URL, keeping a copy in the cache for offline use."""
    import hashlib
    copy = settings.cache_dir() / "catalogs" / f"{hashlib.sha1(url.encode()).hexdigest()}.json"
    if not settings.offline():
        try:
            import requests
            response = requests.get(url, timeout=(settings.http_connect_timeout(),
                                                  settings.http_read_timeout()))
            response.raise_for_status()
            text = response.text
            copy.parent.mkdir(parents=True, exist_ok=True)
            tmp = copy.with_name(f".{copy.name}.{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, copy)
            return text
        except Exception as exc:  # network trouble must not break `ganhub list`
            print(f"ganhub: warning: cannot fetch catalog {url}: {exc}; "
                  f"{'using the cached copy' if copy.exists() else 'skipping it'}", file=sys.stderr)
    if copy.exists():
        return copy.read_text(encoding="utf-8")
    if settings.offline():
        print(f"ganhub: warning: offline and catalog {url} was never fetched; skipping it",
              file=sys.stderr)
    return None


def _load_extra(location):
    if is_url(location):
        text = _fetch_remote_catalog(location)
        if text is None:
            return []
        base = location
    else:
        path = Path(location).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"ganhub: warning: cannot read catalog {path}: {exc}", file=sys.stderr)
            return []
        base = path.resolve().as_uri()
    data = _read_catalog_json(text, location)
    entries = []
    for entry in data["models"]:
        entry = validate_entry(dict(entry), location)
        handle = entry["handle"]
        if not is_url(handle) and not Path(handle).expanduser().is_absolute():
            joined = urljoin(base, handle)
            entry["handle"] = joined[len("file://"):] if joined.startswith("file://") else joined
        entry["catalog"] = data.get("name", location)
        entry["catalog_location"] = location
        entry["builtin"] = False
        entries.append(entry)
    return entries


_CACHE = {}


def all_entries():
    """Built-in entries first; an extra catalog cannot replace a name already taken."""
    key = (tuple(settings.extra_catalogs()), settings.offline())
    if key not in _CACHE:
        entries = _load_builtin()
        seen = {e["name"] for e in entries}
        for location in key[0]:
            for entry in _load_extra(location):
                if entry["name"] in seen:
                    print(f"ganhub: warning: catalog {location} redefines {entry['name']!r}; "
                          f"keeping the first definition", file=sys.stderr)
                    continue
                seen.add(entry["name"])
                entries.append(entry)
        _CACHE.clear()
        _CACHE[key] = entries
    return [dict(e) for e in _CACHE[key]]


def _canonical(value):
    value = str(value).strip().lower()
    return _ALIASES.get(value, value)


def _field(entry, key):
    value = entry.get(key)
    if key == "penalty" and isinstance(value, dict):
        value = value.get("type")
    return value


def list_models(**filters):
    """Entries matching every given filter (dataset, architecture, loss, normalization, penalty)."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; use {', '.join(FILTER_KEYS)}")
    wanted = {k: _canonical(v) for k, v in filters.items() if v is not None}
    result = []
    for entry in all_entries():
        if all(_field(entry, k) is not None and _canonical(_field(entry, k)) == v
               for k, v in wanted.items()):
            result.append(entry)
    return result


def names():
    return [e["name"] for e in all_entries()]


def get_entry(name):
    """The catalog entry called ``name``; UnknownModelError (with suggestions) if there is none."""
    for entry in all_entries():
        if entry["name"] == name:
            return entry
    raise UnknownModelError(unknown_message(name))


def find_entry(name):
    for entry in all_entries():
        if entry["name"] == name:
            return entry
    return None


def unknown_message(handle):
    import difflib
    close = difflib.get_close_matches(str(handle), names(), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (f"unknown model {str(handle)!r}: not a catalog name, an existing SavedModel directory or "
            f".tar.gz file, or an http(s) URL.{hint} Run `ganhub list` to see the catalog names.")
