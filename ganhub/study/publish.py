"""`ganhub study publish NAME DIR`: the best module of each variant into a hub folder.

DIR receives ``<NAME>-<variant>.tar.gz`` (+ ``.sha256``), a model card ``<NAME>-<variant>.md`` and
``catalog.json`` (ganhub/catalog.py's format, handles relative to the catalog, sha256 pinned).
``ganhub serve DIR`` serves the archives; ``GANHUB_CATALOGS=DIR/catalog.json`` makes the names
loadable with ``ganhub.load``. No TensorFlow: modules are packed as the exporter wrote them.
"""
import json
import re
from pathlib import Path

from ganhub.fileio import write_json_atomic, write_text_atomic
from ganhub.study.results import best, collect
from ganhub.study.storage import StudyError

CATALOG_FILE = "catalog.json"


def entry_name(study, label):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{study}-{label}")


def publish(url, name, out_dir):
    """Returns the catalog dict written to ``out_dir``/catalog.json."""
    from ganhub.catalog import module_entry
    from ganhub.export.package import model_card, package
    spec, labels, workdir, records = collect(url, name)
    out = Path(out_dir)
    chosen = []
    for label in labels:
        b = best([r for r in records[label] if r.module])
        if b is None:
            continue
        module = Path(b.module)
        meta_file = module / "assets" / "ganhub.json"
        if not meta_file.is_file():
            raise StudyError(f"trial {b.number} of {label}: its module {module} is missing here "
                             f"(publish where the workers' files are, or copy them)")
        chosen.append((label, b, module, json.loads(meta_file.read_text(encoding="utf-8"))))
    if not chosen:
        raise StudyError(f"study {name} has no finished trial with a module yet; run "
                         f"`ganhub study worker {name}`")
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for label, b, module, meta in chosen:
        stem = entry_name(name, label)
        archive, sha256, size = package(module, out / f"{stem}.tar.gz")
        entry = module_entry(stem, f"{stem}.tar.gz", sha256, size, meta)
        entry["description"] = (f"study {name}: best of variant {label} (trial {b.number}, "
                                f"{spec['scoring']['metric']} {b.value:.4g})")
        entries.append(entry)
        write_text_atomic(out / f"{stem}.md", model_card(meta, handle=archive.resolve()))
    catalog = {"catalog_version": 1, "name": name,
               "description": f"best module per variant of study {name} ({spec['search']} search)",
               "models": entries}
    write_json_atomic(out / CATALOG_FILE, catalog)
    return catalog
