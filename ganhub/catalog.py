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
import sys
from pathlib import Path
from urllib.parse import urljoin, urlparse

from ganhub import fileio, settings
from ganhub.errors import CatalogError, GanhubError, UnknownModelError  # noqa: F401 (catalog.CatalogError)

CATALOG_VERSION = 1
INTEGRITY = ("pinned", "unverified", "packaged")
FILTER_KEYS = ("dataset", "architecture", "loss", "normalization", "penalty", "kind")
# Entry kinds: "model" (the default) and "reference" (statistics; ganhub/metrics/references.py).
KINDS = ("model", "reference")

# Short names people type for the values the catalogs use, per filter: "wgan" is a loss of its
# own but, typed as a penalty, means WGAN-GP.
ALIASES = {
    "normalization": {"sn": "spectral_norm", "spectral": "spectral_norm", "ln": "layer_norm",
                      "layer": "layer_norm", "bn": "batch_norm", "batch": "batch_norm"},
    "penalty": {"gp": "wgan_gp", "wgan-gp": "wgan_gp", "wgan": "wgan_gp"},
    "loss": {"non-saturating": "ns", "least-squares": "ls"},
    "dataset": {"celeba": "celeba_hq_128", "celebahq": "celeba_hq_128",
                "celeba_hq": "celeba_hq_128", "lsun": "lsun_bedroom_128",
                "lsun_bedroom": "lsun_bedroom_128", "cifar": "cifar10"},
}


def is_url(text):
    return urlparse(str(text)).scheme in ("http", "https")


def check_name(name, where="catalog"):
    """A model name must not read as a path or URL: no '/' or '~' at the start, no '.' or '..'
    component, no scheme (no ':' at all), no backslash or control characters. Otherwise a catalog
    entry could shadow ``load('/some/dir')`` or a URL."""
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{where}: an entry has no name")
    shown = repr(name[:80])
    if len(name) > 200:
        raise CatalogError(f"{where}: model name {shown}... is longer than 200 characters")
    if name.startswith(("/", "~")) or ":" in name or "\\" in name or any(ord(c) < 32 for c in name):
        raise CatalogError(f"{where}: model name {shown} looks like a path or URL (it may not start "
                           f"with '/' or '~' nor contain ':', '\\' or control characters)")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise CatalogError(f"{where}: model name {shown} has an empty, '.' or '..' component")
    return name


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_scores(scores, label):
    if scores is None:
        return
    if not isinstance(scores, dict):
        raise CatalogError(f"{label}: 'scores' must be an object of metric: score, not "
                           f"{type(scores).__name__}")
    for metric, score in scores.items():
        if isinstance(score, dict):
            bad = [k for k in ("value", "std") if score.get(k) is not None and not _is_number(score[k])]
            if bad:
                raise CatalogError(f"{label}: score {metric!r} has a non-numeric {bad[0]!r}")
        elif score is not None and not _is_number(score):
            raise CatalogError(f"{label}: score {metric!r} must be a number or an object, not "
                               f"{type(score).__name__}")


def _check_types(data, label, types):
    for key, allowed in types.items():
        value = data.get(key)
        if value is None:
            continue
        allowed = allowed if isinstance(allowed, tuple) else (allowed,)
        if isinstance(value, bool) or not isinstance(value, allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise CatalogError(f"{label}: {key!r} must be {names}, not {type(value).__name__}")


def _check_shape(shape, label, key="image_shape"):
    if shape is not None and not (isinstance(shape, list) and len(shape) == 3 and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise CatalogError(f"{label}: {key!r} must be [height, width, channels], got {shape!r:.80}")


_ENTRY_TYPES = {"format": str, "signature": str, "input_key": str, "output_key": str,
                "dataset": str, "architecture": str, "loss": str, "normalization": str,
                "integrity_note": str, "created": str, "penalty": (str, dict), "z": dict,
                "training": dict, "metadata": dict, "samples": str, "kind": str, "reference": dict}


def check_fields(entry, where="catalog"):
    """Raise CatalogError unless the fields `ganhub list/info`, the served page and ``load`` read
    have the types they expect (a hostile or broken catalog must not crash them)."""
    label = f"{where}: entry {entry.get('name')!r}"
    _check_types(entry, label, _ENTRY_TYPES)
    _check_scores(entry.get("scores"), label)
    _check_shape(entry.get("image_shape"), label)
    z = entry.get("z")
    if isinstance(z, dict):
        _check_types(z, f"{label} z", {"dim": int, "batch_size": int, "distribution": (str, dict)})
    penalty = entry.get("penalty")
    if isinstance(penalty, dict):
        _check_types(penalty, f"{label} penalty", {"type": str, "lambda": (int, float)})
    return entry


def check_metadata(meta, where="metadata"):
    """Raise CatalogError unless a module's ganhub.json passes the module-format contract (as a
    reader checks it: ganhub.module_format)."""
    from ganhub import module_format
    found = module_format.problems(meta, complete=False)
    if found:
        raise CatalogError(f"{where}: " + "; ".join(found))
    return meta


# Resize modes a reference may declare (ganhub.metrics.resize implements them).
REFERENCE_RESIZE_MODES = ("legacy", "clean")


def check_reference_entry(entry, where="catalog"):
    """Raise CatalogError unless a kind-"reference" entry has what a download and the protocol
    check need (ganhub/metrics/references.py downloads and checks the file itself)."""
    label = f"{where}: reference {entry.get('name')!r}"
    problems = []
    for key in ("dataset", "split"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            problems.append(f"{key!r} must be a non-empty string")
    n = entry.get("num_samples")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        problems.append("'num_samples' must be a positive integer")
    extractor = entry.get("extractor")
    if not (isinstance(extractor, dict) and isinstance(extractor.get("id"), str)
            and isinstance(extractor.get("sha256"), str)):
        problems.append("'extractor' must be {\"id\": str, \"sha256\": str}")
    if entry.get("resize") not in REFERENCE_RESIZE_MODES:
        problems.append(f"'resize' must be one of {', '.join(REFERENCE_RESIZE_MODES)}")
    if entry.get("integrity") != "pinned" and entry.get("sha256") is None:
        problems.append("a reference must be pinned (sha256 and size): it is trusted as data")
    if problems:
        raise CatalogError(f"{label}: " + "; ".join(problems))
    return entry


def validate_entry(entry, where="catalog"):
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: a model entry must be a JSON object, not {type(entry).__name__}")
    name = check_name(entry.get("name"), where)
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
    check_fields(entry, where)
    if entry.get("kind", "model") not in KINDS:
        raise CatalogError(f"{where}: entry {name!r}: kind must be one of {', '.join(KINDS)}")
    if entry.get("kind") == "reference":
        check_reference_entry(entry, where)
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
        return metadata_to_entry(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:  # CatalogError is a ValueError
        if path.exists():
            print(f"ganhub: warning: ignoring the default model's metadata {path}: {exc}",
                  file=sys.stderr)
        return {}


def module_entry(name, handle, sha256, size, metadata=None):
    """The catalog entry of a packaged ganhub module (the one mapping from module metadata to a
    catalog entry: `ganhub serve` and `ganhub study publish` both use it)."""
    entry = {"name": name, "handle": handle, "sha256": sha256, "size": size, "integrity": "pinned",
             "format": "saved_model", "signature": settings.SIGNATURE_KEY,
             "input_key": settings.INPUT_KEY, "output_key": settings.OUTPUT_KEY}
    if metadata:
        entry.update(metadata_to_entry(metadata))
    return entry


def metadata_to_entry(meta):
    """Catalog fields from a module's ganhub.json (the exporter's metadata schema); CatalogError
    when it has the wrong types."""
    check_metadata(meta)
    fields = {key: meta[key] for key in ("architecture", "loss", "normalization", "image_shape",
                                          "training", "scores", "created", "reference") if key in meta}
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
            elif entry["handle"].startswith("ganhub:"):   # other package data (the landscape zoo)
                rel = entry["handle"][len("ganhub:"):]
                entry["installed"] = (settings.PACKAGE_DIR / rel / "saved_model.pb").is_file()
            entries.append(entry)
    return entries


def _fetch_remote_catalog(url):
    """Fetch a catalog URL, keeping a copy in the cache for offline use."""
    import hashlib
    copy = settings.cache_dir() / "catalogs" / f"{hashlib.sha1(url.encode()).hexdigest()}.json"
    if not settings.offline():
        try:
            text = _bounded_get(url)
            copy.parent.mkdir(parents=True, exist_ok=True)
            fileio.write_text_atomic(copy, text)
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


MAX_CATALOG_BYTES = 16 * 2**20
CATALOG_TIMEOUT = 60.0


def _bounded_get(url):
    """A remote catalog's text: at most MAX_CATALOG_BYTES, within CATALOG_TIMEOUT seconds."""
    import time

    import requests
    deadline = time.monotonic() + CATALOG_TIMEOUT
    with requests.get(url, stream=True, timeout=(settings.http_connect_timeout(),
                                                 min(settings.http_read_timeout(), CATALOG_TIMEOUT))) as response:
        response.raise_for_status()
        chunks, size = [], 0
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > MAX_CATALOG_BYTES:
                raise CatalogError(f"catalog {url} is larger than {MAX_CATALOG_BYTES} bytes")
            if time.monotonic() > deadline:
                raise CatalogError(f"catalog {url} took longer than {CATALOG_TIMEOUT:g} s to arrive")
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8")


def _warn(message):
    print(f"ganhub: warning: {message}", file=sys.stderr)


def _local_handle(handle, base):
    """A relative handle of a local catalog, as a path next to the catalog file."""
    from urllib.request import url2pathname
    joined = urljoin(base, handle)
    return url2pathname(urlparse(joined).path) if joined.startswith("file:") else joined


def _load_extra(location):
    """Entries of one extra catalog. A catalog that cannot be read or parsed, and each entry that
    is malformed or unsafe, is skipped with a warning: one bad catalog must not break every load."""
    remote = is_url(location)
    if remote:
        text = _fetch_remote_catalog(location)
        if text is None:
            return []
        base = location
    else:
        path = Path(location).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            _warn(f"cannot read catalog {path}: {exc}; skipping it")
            return []
        base = path.resolve().as_uri()
    try:
        data = _read_catalog_json(text, location)
    except CatalogError as exc:
        _warn(f"{exc}; skipping this catalog")
        return []
    entries = []
    for raw in data["models"]:
        try:
            entry = validate_entry(dict(raw) if isinstance(raw, dict) else raw, location)
        except CatalogError as exc:
            _warn(f"{exc}; skipping this entry")
            continue
        handle = entry["handle"]
        if handle.startswith("ganhub:"):
            _warn(f"{location}: entry {entry['name']!r}: only ganhub's own catalogs may use "
                  f"ganhub: handles; skipping this entry")
            continue
        if remote:
            joined = urljoin(base, handle)
            if not is_url(joined):
                # A remote catalog must not make `load` open local files (file://, /path, ~/path).
                _warn(f"{location}: entry {entry['name']!r} points at {handle[:100]!r}, which is not "
                      f"an http(s) URL; a remote catalog may not name local files; skipping it")
                continue
            entry["handle"] = joined
        elif not is_url(handle) and not Path(handle).expanduser().is_absolute():
            entry["handle"] = _local_handle(handle, base)
        entry["catalog"] = str(data.get("name", location))
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


def _canonical(key, value):
    value = str(value).strip().lower()
    return ALIASES.get(key, {}).get(value, value)


def _field(entry, key):
    value = entry.get(key, "model" if key == "kind" else None)
    if key == "penalty" and isinstance(value, dict):
        value = value.get("type")
    return value


def list_models(**filters):
    """Entries matching every given filter (dataset, architecture, loss, normalization, penalty)."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise TypeError(f"unknown filter(s) {sorted(unknown)}; use {', '.join(FILTER_KEYS)}")
    wanted = {k: _canonical(k, v) for k, v in filters.items() if v is not None}
    result = []
    for entry in all_entries():
        if all(_field(entry, k) is not None and _canonical(k, _field(entry, k)) == v
               for k, v in wanted.items()):
            result.append(entry)
    return result


def absent_filters(**filters):
    """[(key, value, values the catalogs have for key)] for each given filter no entry matches on
    its own: what to tell a user whose ``list_models`` came back empty."""
    entries = all_entries()
    absent = []
    for key, value in filters.items():
        if value is None or key not in FILTER_KEYS:
            continue
        have = sorted({_canonical(key, _field(e, key)) for e in entries
                       if _field(e, key) is not None})
        if _canonical(key, value) not in have:
            absent.append((key, value, have))
    return absent


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
