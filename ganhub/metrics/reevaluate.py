"""Re-evaluate a set of catalog modules into one table: `ganhub evaluate --table OUT.csv [filters]`.

One row per module: module, data set, reference, the reported FID / IS / MS-SSIM next to the
measured ones, and how the protocols differ. The CSV is the record: a row is appended (and flushed
to disk) as soon as its module is scored, so Ctrl-C loses no finished row, and a second run skips
every module already in it. ``OUT.md`` (a Markdown table of the same rows) is rewritten after each.
A module that fails (download, protocol mismatch, NaN images) gets a row saying why, and is retried
by the next run; the others go on.
"""
import csv
import math
import os
import sys
from pathlib import Path

from ganhub import settings
from ganhub.errors import BadInputError, GanhubError

COLUMNS = ("module", "dataset", "reference", "num_samples",
           "reported_fid", "measured_fid", "reported_is", "measured_is",
           "reported_ms_ssim", "measured_ms_ssim", "protocol_differences", "status")
# Scores no catalog reports (issue 18): measured only, when --metrics asks for them. Their columns
# come after the original ones, so a table begun before them still reads (module and status keep
# their places).
MEASURED_ONLY = ("precision", "recall", "density", "coverage", "ppl")
COLUMNS += tuple(f"measured_{m}" for m in MEASURED_ONLY)
# Catalog score names → this table's metric names.
_REPORTED = {"fid": "fid", "is": "is", "inception_score": "is", "ms_ssim": "ms_ssim",
             "ms-ssim": "ms_ssim"}
TABLE_FILTERS = ("dataset", "architecture", "loss", "normalization", "penalty")


def add_arguments(parser):
    """`ganhub evaluate`'s table mode: --table and the filters `ganhub list` takes."""
    parser.add_argument("--table", metavar="OUT.csv",
                        help="evaluate every catalog model matching the filters (no HANDLE) into "
                             "OUT.csv and OUT.md; rows already in OUT.csv are skipped (resumable)")
    for key in TABLE_FILTERS:
        parser.add_argument(f"--{key}", help=f"with --table: only models with this {key}")


def selected_entries(filters, names=None):
    """Catalog models (not references) matching ``filters``, or the ``names`` given."""
    from ganhub import catalog
    entries = [e for e in catalog.list_models(**{k: v for k, v in filters.items() if v})
               if e.get("kind", "model") == "model"]
    if names:
        entries = [e for e in entries if e["name"] in set(names)]
    return entries


def check_table_args(args):
    """Before TensorFlow: an output path we can write and at least one model."""
    out = Path(args.table).expanduser()
    if out.suffix != ".csv":
        raise BadInputError(f"--table {args.table}: give a .csv file name (the Markdown table is "
                            f"written next to it as .md)")
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir() or (parent.exists() and not os.access(parent, os.W_OK)):
        raise BadInputError(f"--table {args.table}: cannot write there")
    filters = {k: getattr(args, k, None) for k in TABLE_FILTERS}
    if not selected_entries(filters, [args.handle] if args.handle else None):
        raise BadInputError("--table: no catalog model matches the filters (see `ganhub list`)")
    if args.reference:
        from ganhub.metrics.references import check_reference
        check_reference(args.reference)
    from ganhub.metrics.extractors import check_extractor
    check_extractor(args.extractor, args.offline)


def read_rows(path):
    """Finished rows of an earlier run, by module; a torn last line (a kill mid-write) is dropped."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") is not None]
    return {r["module"]: r for r in rows if r["status"] == "ok"}


def _number(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _reported(entry):
    values, protocols = {}, {}
    for key, score in (entry.get("scores") or {}).items():
        metric = _REPORTED.get(key.lower())
        protocol = None
        if isinstance(score, dict):
            score, protocol = score.get("value"), score.get("protocol")
        if metric and isinstance(score, (int, float)) and not isinstance(score, bool):
            values[metric], protocols[metric] = float(score), protocol
    return values, protocols


def _differences(reported_protocols, measured):
    from ganhub.describe import summarize_protocol
    from ganhub.metrics.evaluation import protocol_differences
    notes = []
    for metric, protocol in reported_protocols.items():
        if isinstance(protocol, dict):
            notes += [f"{metric} {d}" for d in protocol_differences(protocol, measured)]
        elif protocol:
            notes.append(f"{metric} reported: {protocol}")
    notes.append(f"measured: {summarize_protocol(measured)}")
    return "; ".join(dict.fromkeys(notes))


def evaluate_entry(entry, *, reference=None, metrics=("fid",), num_samples=None, seed=None,
                   extractor=None, resize=None, offline=None, trust=False, batch_size=None,
                   declared=None, data_dir=None):
    """One table row for a catalog model entry (raises GanhubError on failure)."""
    import ganhub
    from ganhub.metrics import references
    from ganhub.metrics.evaluation import evaluate, resolve_reference
    reference = reference or references.default_reference(entry["name"])
    from ganhub.metrics.evaluation import REFERENCE_METRICS
    needs_reference = bool(set(REFERENCE_METRICS) & set(metrics))
    if needs_reference and not reference:
        raise BadInputError("names no reference and none was given (--reference)")
    declared = (references.model_reference(entry) or {}).get("num_samples")
    n = num_samples or declared or settings.EVAL_NUM_SAMPLES
    ref = None
    if needs_reference:
        ref = resolve_reference(reference, n, extractor, resize, offline=offline,
                                declared=declared, data_dir=data_dir)
    generator = ganhub.load(entry["name"], offline=offline, trust=trust)
    result = evaluate(generator, reference=ref, metrics=metrics, num_samples=n, seed=seed,
                      extractor=extractor, resize=resize, batch_size=batch_size, progress=False)
    reported, protocols = _reported(entry)
    row = {"module": entry["name"], "dataset": entry.get("dataset") or "",
           "reference": str(reference or ""), "num_samples": str(n),
           "protocol_differences": _differences(protocols, result["protocol"]), "status": "ok"}
    for metric in ("fid", "is", "ms_ssim"):
        row[f"reported_{metric}"] = _number(reported.get(metric))
        row[f"measured_{metric}"] = _number(result.get(metric))
    for metric in MEASURED_ONLY:
        if metric in result:
            row[f"measured_{metric}"] = _number(result[metric])
    return row


def _append(path, row):
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
        f.flush()
        os.fsync(f.fileno())


def _drop_torn_tail(path):
    """A line cut by a kill mid-write would merge with the next row: end the file at the last
    complete line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def markdown(rows):
    rows = list(rows)
    extra = [m for m in MEASURED_ONLY if any(row.get(f"measured_{m}") for row in rows)]
    head = ("module", "dataset", "n", "FID reported", "FID measured", "IS reported", "IS measured",
            "MS-SSIM reported", "MS-SSIM measured", *(m if m != "ppl" else "PPL" for m in extra),
            "status", "protocol differences")
    keys = ("module", "dataset", "num_samples", "reported_fid", "measured_fid", "reported_is",
            "measured_is", "reported_ms_ssim", "measured_ms_ssim",
            *(f"measured_{m}" for m in extra), "status", "protocol_differences")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row.get(k, "")).replace("|", "\\|").replace("\n", " ") or "-" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_markdown(csv_path):
    from ganhub.fileio import write_text_atomic
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # The latest row per module (an error row followed, on a later run, by its ok row).
    latest = {}
    for row in rows:
        latest[row["module"]] = row
    write_text_atomic(csv_path.with_suffix(".md"), markdown(latest.values()))


def reevaluate(entries, table, *, log=print, **kwargs):
    """Score ``entries`` into ``table`` (.csv), skipping modules already there → list of new rows."""
    table = Path(table).expanduser()
    table.parent.mkdir(parents=True, exist_ok=True)
    _drop_torn_tail(table)
    done = read_rows(table)
    rows = []
    for i, entry in enumerate(entries, 1):
        name = entry["name"]
        if name in done:
            log(f"[{i}/{len(entries)}] {name}: already in {table}, skipped")
            continue
        try:
            row = evaluate_entry(entry, **kwargs)
        except GanhubError as exc:
            row = {"module": name, "dataset": entry.get("dataset") or "",
                   "status": f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}
        _append(table, row)
        _write_markdown(table)
        rows.append(row)
        shown = row.get("measured_fid") or row["status"]
        log(f"[{i}/{len(entries)}] {name}: {shown}")
    return rows


def run_cli(args):
    """`ganhub evaluate --table` (arguments checked by check_table_args)."""
    from ganhub.metrics.evaluation import parse_metrics
    from ganhub.metrics.extractors import load_extractor
    filters = {k: getattr(args, k, None) for k in TABLE_FILTERS}
    entries = selected_entries(filters, [args.handle] if args.handle else None)
    metrics = parse_metrics(args.metrics)
    extractor = None
    from ganhub.metrics.evaluation import EXTRACTOR_METRICS
    if set(EXTRACTOR_METRICS) & set(metrics):
        extractor = load_extractor(args.extractor, offline=args.offline)
    n = None if args.num_samples == settings.EVAL_NUM_SAMPLES else args.num_samples
    rows = reevaluate(entries, args.table, metrics=metrics, num_samples=n, seed=args.seed,
                      extractor=extractor, resize=args.resize, offline=args.offline,
                      trust=args.trust, reference=args.reference, batch_size=args.batch_size,
                      declared=args.reference_protocol, data_dir=args.data_dir,
                      log=lambda line: print(line, file=sys.stderr))
    failed = [r for r in rows if r["status"] != "ok"]
    print(f"{args.table}: {len(rows) - len(failed)} module(s) scored, {len(failed)} failed "
          f"(rerun to retry them); Markdown in {Path(args.table).with_suffix('.md')}")
    return 1 if failed else 0
