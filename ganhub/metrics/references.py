"""Reference statistics as hub artifacts, and statistics made by other tools.

A catalog lists a reference file from `ganhub stats` as an entry of kind "reference" (in the
catalog's ``models`` list, so `ganhub list --kind reference` shows it)::

    {"name": "references/cifar10-test-10k", "kind": "reference",
     "handle": "https://host/cifar10-test-10k.npz", "sha256": "<hex>", "size": 33816810,
     "integrity": "pinned", "dataset": "cifar10", "split": "test", "num_samples": 10000,
     "extractor": {"id": "fid_inception_offline", "sha256": "<hex>"}, "resize": "legacy"}

``--reference`` takes its catalog name or its URL (optionally ``#sha256=<hex>``); the file is
downloaded once into ``<cache>/references/<sha256>.npz`` (bounded, retried, checked against the
pinned sha256 and size), re-hashed on every use, and its provenance must agree with what the entry
declares (never a silent mismatch). A model entry names the reference it is compared with::

    "reference": {"dataset": "cifar10", "split": "test", "num_samples": 10000,
                  "name": "references/cifar10-test-10k"}          (name: optional)

Statistics other tools made (TTUR / pytorch-fid, clean-fid: an .npz of ``mu`` and ``sigma``) are
read with the protocol they were made under declared by the user (``declared``: extractor, resize,
dataset, split, num_samples); the extractor id and resize are then checked like any other.
This module imports no TensorFlow.
"""
import os
from pathlib import Path

import numpy as np

from ganhub import settings
from ganhub.errors import BadInputError, GanhubError, ProtocolMismatchError, ReferenceEntryError
from ganhub.fileio import sha256_file as _sha256
from ganhub.metrics.resize import RESIZE_MODES

KIND = "reference"
# Declared-protocol keys for statistics made elsewhere, and the provenance field each one fills.
DECLARED_KEYS = {"extractor": "extractor_id", "extractor_sha256": "extractor_sha256",
                 "resize": "resize", "dataset": "dataset", "split": "split",
                 "num_samples": "num_samples", "format": "source_format"}
FOREIGN_FORMATS = ("ttur", "pytorch-fid", "clean-fid")


# --- catalog entries ------------------------------------------------------------------------------

def is_reference_entry(entry):
    return isinstance(entry, dict) and entry.get("kind") == KIND


def check_reference(text):
    """``--reference TEXT``: a reference .npz that exists, an image folder, or DATA[-SPLIT] with a
    known data name and split (or a URL or catalog reference); BadInputError otherwise (without
    TensorFlow)."""
    from pathlib import Path
    path = Path(text).expanduser()
    if path.suffix == ".npz":
        if not path.is_file():
            raise BadInputError(f"--reference {text}: no such file; make it with `ganhub stats DATA "
                                f"-o {text}`, or name a data set such as fashion_mnist-test")
        from ganhub.metrics.stats import check_reference_file
        check_reference_file(path)  # headers and provenance only: a crafted file fails here
        return
    if path.exists():
        return
    check_reference_name(text)  # a URL, a catalog reference, or DATA[-SPLIT]


def model_reference(entry):
    """What a model entry (or module metadata) says it is compared with → dict with dataset,
    split, num_samples and optionally name; None when it does not say."""
    entry = entry or {}
    for ref in (entry.get("reference"), (entry.get("metadata") or {}).get("reference")):
        if isinstance(ref, dict) and isinstance(ref.get("dataset"), str):
            return ref
    return None


def reference_entries():
    from ganhub import catalog
    return [e for e in catalog.all_entries() if is_reference_entry(e)]


def find_for(model_ref):
    """The catalog reference entry a model's ``reference`` names: by ``name``, else the one with
    the same data set, split and count (None when the catalogs have none)."""
    entries = reference_entries()
    if model_ref.get("name"):
        return next((e for e in entries if e["name"] == model_ref["name"]), None)
    matches = [e for e in entries
               if (e["dataset"], e["split"], e["num_samples"])
               == (model_ref.get("dataset"), model_ref.get("split", "test"), model_ref.get("num_samples"))]
    return matches[0] if matches else None


# --- download into the verified cache --------------------------------------------------------------

def cache_path(sha256):
    return settings.cache_dir() / "references" / f"{sha256}.npz"


def _cached(sha256):
    """The cached file for ``sha256`` if its bytes still hash to it (a corrupt copy is removed)."""
    path = cache_path(sha256)
    if not path.is_file():
        return None
    if _sha256(path) != sha256:
        path.unlink(missing_ok=True)
        return None
    return path


def fetch(url, *, sha256=None, size=None, label=None, offline=None):
    """Download a reference .npz into the cache (once) → its path. Unpinned URLs are fetched and
    remembered by URL (as modules are); a pinned sha256/size is checked before the file is kept."""
    from ganhub.hub import cache, download
    offline = settings.offline() if offline is None else offline
    known = sha256 or cache.lookup_ref(url)
    path = _cached(known) if known else None
    if path is not None:
        return path
    if offline:
        from ganhub.errors import OfflineError
        raise OfflineError(f"offline mode is on and reference {label or url} is not in the cache "
                           f"({settings.cache_dir() / 'references'}); fetch it once while online")
    key = sha256 or cache.url_key(url)
    with cache.lock(key) as lock:
        path = _cached(known) if known else None
        if path is None:
            part, got_sha, _ = download.fetch(url, cache.downloads_dir(), key, expected_sha256=sha256,
                                              expected_size=size, heartbeat=lock.heartbeat,
                                              offline=offline, label=label or url)
            try:
                from ganhub.metrics.stats import check_reference_file
                check_reference_file(part)   # crafted headers never reach np.load's allocation
                path = cache_path(got_sha)
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(part, path)
                except OSError as exc:  # a read-only or full cache: one line, as for modules
                    from ganhub.fileio import storage_error
                    raise storage_error(exc, path.parent) from None
            finally:
                part.unlink(missing_ok=True)
            if not sha256:
                cache.write_ref(url, got_sha)
    return path


def check_against_entry(reference, entry):
    """ProtocolMismatchError unless the file's provenance is what the catalog entry declares."""
    p = reference.provenance
    declared = {"dataset": entry["dataset"], "split": entry["split"],
                "num_samples": entry["num_samples"], "extractor_id": entry["extractor"]["id"],
                "extractor_sha256": entry["extractor"]["sha256"], "resize": entry["resize"]}
    wrong = [f"{k}: catalog {v!r}, file {p.get(k)!r}" for k, v in declared.items() if p.get(k) != v]
    if wrong:
        raise ProtocolMismatchError(f"reference {entry['name']!r} does not hold what its catalog "
                                    f"entry declares ({'; '.join(wrong)}); refusing it")
    return reference


def load_entry(entry, offline=None):
    """ReferenceStats of a catalog reference entry (downloaded or a local file next to the catalog)."""
    from ganhub import catalog
    from ganhub.hub.resolver import split_sha256_fragment
    from ganhub.metrics.stats import ReferenceStats
    handle = entry["handle"]
    if catalog.is_url(handle):
        url, sha = split_sha256_fragment(handle)
        path = fetch(url, sha256=entry.get("sha256") or sha, size=entry.get("size"),
                     label=entry["name"], offline=offline)
    else:
        path = Path(handle).expanduser()
        if not path.is_file():
            raise ReferenceEntryError(f"reference {entry['name']!r} points at {path}, which does not exist")
        if entry.get("sha256") and _sha256(path) != entry["sha256"]:
            raise ReferenceEntryError(f"{path} does not have the sha256 catalog entry "
                                      f"{entry['name']!r} pins")
    return check_against_entry(ReferenceStats.load(path), entry)


def load_url(url, offline=None):
    from ganhub.hub.resolver import split_sha256_fragment
    from ganhub.metrics.stats import ReferenceStats
    url, sha = split_sha256_fragment(url)
    return ReferenceStats.load(fetch(url, sha256=sha, offline=offline))


# --- statistics made by other tools ----------------------------------------------------------------

def parse_declared(text):
    """'extractor=fid_inception_offline,resize=legacy,dataset=cifar10,split=train,num_samples=50000'
    → dict (``num_samples`` as int); BadInputError naming an unknown key."""
    if isinstance(text, dict):
        items = dict(text)
    else:
        items = {}
        for part in str(text or "").split(","):
            if not part.strip():
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise BadInputError(f"protocol declaration {part!r}: expected KEY=VALUE")
            items[key.strip()] = value.strip()
    unknown = sorted(set(items) - set(DECLARED_KEYS))
    if unknown:
        raise BadInputError(f"unknown protocol key(s) {', '.join(unknown)}; declare "
                            f"{', '.join(DECLARED_KEYS)}")
    if "num_samples" in items:
        try:
            items["num_samples"] = int(items["num_samples"])
        except (TypeError, ValueError):
            raise BadInputError(f"num_samples={items['num_samples']!r} is not an integer") from None
    return items


def holds_moments(path):
    """Whether an .npz has ``mu`` and ``sigma`` and no ``provenance`` (another tool's statistics)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {"mu", "sigma"} <= set(data.files) and "provenance" not in data.files
    except (OSError, ValueError, EOFError):
        return False


def read_foreign(path, declared):
    """ReferenceStats from a TTUR / pytorch-fid / clean-fid .npz (arrays ``mu`` and ``sigma``),
    with the protocol the user declares. The extractor id and resize mode are required: without
    them nothing could be checked. No feature sample: such a reference gives FID, not KID."""
    from ganhub.metrics.stats import (_UNREADABLE_NPZ, ReferenceFileError, ReferenceStats,
                                      _check_npz_headers, _check_reference_shapes)
    declared = parse_declared(declared)
    missing = [k for k in ("extractor", "resize") if not declared.get(k)]
    if missing:
        raise BadInputError(f"{path} holds statistics made by another tool (mu, sigma): declare the "
                            f"protocol they were made under, at least {' and '.join(missing)} "
                            f"(e.g. --reference-protocol extractor=fid_inception_offline,resize="
                            f"legacy,dataset=cifar10,split=train,num_samples=50000)")
    if declared["resize"] not in RESIZE_MODES:
        raise BadInputError(f"resize={declared['resize']!r}: declare one of {', '.join(RESIZE_MODES)}")
    if declared.get("format", "ttur") not in FOREIGN_FORMATS:
        raise BadInputError(f"format={declared['format']!r}: declare one of {', '.join(FOREIGN_FORMATS)}")
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not {"mu", "sigma"} <= set(data.files):
                raise ReferenceFileError(f"{path} holds {sorted(data.files)}, not the arrays mu and "
                                         f"sigma of TTUR / pytorch-fid / clean-fid statistics")
            _check_npz_headers(path, ("mu", "sigma"))
            mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    except _UNREADABLE_NPZ as exc:
        if isinstance(exc, GanhubError):
            raise
        raise ReferenceFileError(f"cannot read {path} ({exc})") from None
    features = np.zeros((0, mu.shape[0] if mu.ndim == 1 else 0), np.float32)
    _check_reference_shapes(path, mu, sigma, features)
    provenance = {field: declared[key] for key, field in DECLARED_KEYS.items() if key in declared}
    provenance.setdefault("source_format", "ttur")
    provenance.update(feature_dim=int(mu.shape[0]), source_sha256=_sha256(path),
                      protocol_declared_by="user", source_file=path.name)
    provenance.setdefault("extractor_sha256", None)
    return ReferenceStats(mu, sigma, features, provenance)


def check_declared_protocol(reference, extractor_id, extractor_sha256, resize):
    """check_protocol for a user-declared reference: the extractor id and resize must agree; the
    extractor's sha256 too when it was declared (else the evaluation records that it was not)."""
    p = reference.provenance
    wanted = {"extractor_id": extractor_id, "resize": resize}
    if p.get("extractor_sha256"):
        wanted["extractor_sha256"] = extractor_sha256
    for field, value in wanted.items():
        if p.get(field) != value:
            raise ProtocolMismatchError(
                f"the reference statistics were declared as made with {field}={p.get(field)!r} but "
                f"this evaluation uses {value!r}; evaluate with --extractor/--resize matching how "
                f"they were made, or remake them with `ganhub stats`")


# --- command-line checks (before TensorFlow) -------------------------------------------------------

def check_reference_name(text):
    """A --reference that is not a file: a reference URL, a catalog reference name, or DATA[-SPLIT]
    with a known data name and split; BadInputError otherwise."""
    from ganhub import catalog
    from ganhub.metrics.data import DATA_NAMES, DATA_SPLITS, DataSourceError, split_data_name
    if catalog.is_url(text):
        return
    entry = catalog.find_entry(text)
    if entry is not None:
        if not is_reference_entry(entry):
            raise BadInputError(f"--reference {text}: that catalog entry is a model, not reference "
                                f"statistics (`ganhub list --kind reference` lists those)")
        return
    try:
        if split_data_name(text):
            return
    except DataSourceError as exc:
        raise BadInputError(f"--reference {exc}") from None
    names = ", ".join(f"{n}-test" for n in DATA_NAMES)
    raise BadInputError(f"--reference {text}: not an .npz, an image folder, a reference in the "
                        f"catalogs (`ganhub list --kind reference`), a URL, or a data set name "
                        f"({names}, or -{DATA_SPLITS[1]})")


def default_reference(handle):
    """The reference a catalog model names (its ``reference``): the catalog reference entry that
    matches it when there is one (no data set needed), else its data name such as 'cifar10-test'.
    None when ``handle`` is not a catalog model or names no reference."""
    from ganhub import catalog
    try:
        entry = catalog.find_entry(str(handle))
    except GanhubError:
        return None
    if entry is None:  # a module folder of ours: its metadata names the reference
        entry = _module_metadata(handle)
    ref = model_reference(entry)
    if ref is None:
        return None
    found = find_for(ref)
    if found is not None:
        return found["name"]
    return f"{ref['dataset']}-{ref.get('split', 'test')}"


def _module_metadata(handle):
    import json
    path = Path(str(handle)).expanduser() / "assets" / settings.METADATA_ASSET
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


# --- listing and serving reference files ------------------------------------------------------------

def catalog_entry(path, name, handle):
    """The catalog entry (kind "reference") for a reference file made by `ganhub stats`: its
    protocol from the file's provenance, its sha256 and size."""
    from ganhub.metrics.stats import ReferenceStats, check_reference_file
    path = Path(path)
    check_reference_file(path)
    p = ReferenceStats.load(path).provenance
    entry = {"name": name, "kind": KIND, "handle": handle, "sha256": _sha256(path),
             "size": path.stat().st_size, "integrity": "pinned",
             "dataset": p.get("dataset"), "split": p.get("split"), "num_samples": p.get("num_samples"),
             "extractor": {"id": p.get("extractor_id"), "sha256": p.get("extractor_sha256")},
             "resize": p.get("resize")}
    if isinstance(p.get("image_shape"), list):
        entry["image_shape"] = p["image_shape"]
    return entry


class ServedReference:
    """A reference .npz in a `ganhub serve` folder: served at ``/<name>.npz`` and listed in
    index.json. Has the attributes the server's file sender reads (archive, size, sha256)."""

    def __init__(self, name, path):
        from ganhub import catalog
        catalog.check_name(name, "served folder")
        self.name, self.archive = name, Path(path)
        self._entry = catalog_entry(self.archive, name, handle="")
        catalog.check_reference_entry(self._entry, "served folder")
        self.sha256, self.size = self._entry["sha256"], self._entry["size"]

    def entry(self, base_url):
        from urllib.parse import quote
        return dict(self._entry, handle=f"{base_url}/{quote(self.name)}.npz")


def collect_served(directory, skipped=None):
    """{name: ServedReference} for every reference ``<name>.npz`` directly in ``directory`` (not
    following links out of it); other .npz files are skipped with a warning, as bad modules are."""
    import sys
    directory = Path(directory)
    root = directory.resolve()
    found = {}
    for path in sorted(directory.glob("*.npz")):
        try:
            path.resolve(strict=True).relative_to(root)
            found[path.stem] = ServedReference(path.stem, path)
        except (GanhubError, OSError, ValueError, RuntimeError) as exc:
            reason = str(exc) if isinstance(exc, GanhubError) else "it is not a file in the folder"
            if skipped is not None:
                skipped.append((path.name, reason))
            print(f"ganhub serve: warning: not serving {path.name}: {reason}", file=sys.stderr)
    return found
