"""`ganhub list | info | download | cache | serve`. No TensorFlow import for list, info, cache and
serve --no-samples."""
import argparse
import json
import sys

from ganhub import catalog, settings
from ganhub.errors import UnknownModelError


def register(subparsers):
    p = subparsers.add_parser("list", help="list the models in the catalogs")
    for key in ("dataset", "architecture", "loss", "normalization", "penalty"):
        by_value = {}
        for alias, value in catalog.ALIASES.get(key, {}).items():
            by_value.setdefault(value, []).append(alias)
        short = "; ".join(f"{'/'.join(a)} for {v}" for v, a in by_value.items())
        p.add_argument(f"--{key}", help=f"only models with this {key}"
                       + (f" (case-insensitive; {short})" if short else " (case-insensitive)"))
    p.add_argument("--kind", choices=("model", "reference"),
                   help="only models, or only reference statistics (default: both)")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("info", help="show one model's catalog entry")
    p.add_argument("name", metavar="NAME", help="catalog name (see `ganhub list`)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("download", help="download a model into the cache (for offline use)")
    p.add_argument("names", nargs="+", metavar="NAME", help="catalog name, URL or .tar.gz")
    p.set_defaults(func=cmd_download)

    p = subparsers.add_parser("cache", help="inspect and clean the module cache")
    cache_sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    c = cache_sub.add_parser("ls", help="list cached modules")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cache_ls)
    c = cache_sub.add_parser("verify", help="re-hash cached modules and report corrupt ones")
    c.add_argument("names", nargs="*", metavar="NAME", help="default: every entry")
    c.set_defaults(func=cmd_cache_verify)
    c = cache_sub.add_parser("rm", help="remove a cached module")
    c.add_argument("names", nargs="+", metavar="NAME", help="catalog name, URL or sha256 prefix")
    c.set_defaults(func=cmd_cache_rm)
    c = cache_sub.add_parser("prune", help="delete partial downloads, stale locks and temp files")
    c.set_defaults(func=cmd_cache_prune)

    p = subparsers.add_parser("serve", help="serve a directory of exported modules as a hub")
    p.add_argument("directory", metavar="DIR",
                   help="directory of <name>.tar.gz archives and SavedModel directories to serve")
    p.add_argument("--port", type=_port, default=settings.SERVE_PORT,
                   help=f"TCP port to listen on, 0..65535 (default {settings.SERVE_PORT}; "
                        f"0 picks a free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--no-samples", action="store_true",
                   help="do not render sample grids (avoids loading TensorFlow)")
    p.set_defaults(func=cmd_serve, check=check_serve)


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = None
    if port is None or not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number (0..65535)")
    return port


def _penalty(entry):
    from ganhub.describe import format_penalty
    return format_penalty(entry.get("penalty"))


def _score(entry, key, digits=2):
    """'21.73 @2k': the value and, when its protocol says, the generated sample count (FIDs at
    different counts do not compare)."""
    score = (entry.get("scores") or {}).get(key)
    n = None
    if isinstance(score, dict):
        protocol = score.get("protocol")
        n = protocol.get("num_samples") if isinstance(protocol, dict) else None
        score = score.get("value")
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        return "-"
    count = ""
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        count = f" @{n // 1000}k" if n % 1000 == 0 else f" @{n}"
    return f"{score:.{digits}f}{count}"


def cmd_list(args):
    from ganhub import catalog
    filters = {k: getattr(args, k) for k in catalog.FILTER_KEYS if getattr(args, k)}
    entries = catalog.list_models(**filters)
    if args.json:
        json.dump(entries, sys.stdout, indent=1)
        print()
        return 0
    rows = [("NAME", "DATASET", "ARCH", "LOSS", "NORM", "PENALTY", "FID", "KID")]
    for e in entries:
        rows.append((e["name"], str(e.get("dataset") or "-"), str(e.get("architecture") or "-"),
                     str(e.get("loss") or "-"), str(e.get("normalization") or "-"), _penalty(e),
                     _score(e, "fid"), _score(e, "kid", digits=4)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if not entries:
        why = "; ".join(f"no entry has {key} {value!r} (they have {', '.join(have)})"
                        for key, value, have in catalog.absent_filters(**filters))
        print(f"(no model matches{': ' + why if why else ''})", file=sys.stderr)
    return 0


def _cached_sha(entry):
    from ganhub import catalog
    from ganhub.hub import cache
    if entry.get("sha256"):
        return entry["sha256"] if cache.lookup(entry["sha256"]) else None
    if catalog.is_url(entry["handle"]):
        sha = cache.lookup_ref(entry["handle"].split("#")[0])
        return sha if sha and cache.lookup(sha) else None
    return None


def _training(training):
    """One line of the metadata's training section (with "xla on/off (how chosen)" when the run
    recorded it); the full config is in `info --json`."""
    if not training:
        return None
    return ", ".join(f"{k} {v}" for k, v in training.items()
                     if k not in ("config", "generator_weights") and v is not None
                     and not isinstance(v, dict))


def cmd_info(args):
    from ganhub import catalog, describe
    entry = catalog.get_entry(args.name)
    cached = _cached_sha(entry)
    if args.json:
        json.dump(dict(entry, cached_sha256=cached), sys.stdout, indent=1)
        print()
        return 0
    z = entry.get("z") or {}
    lines = [
        ("name", entry["name"]), ("catalog", entry.get("catalog")), ("handle", entry["handle"]),
        ("format", entry.get("format")),
        ("signature", f"{entry.get('signature')} ({entry.get('input_key')} -> {entry.get('output_key')})"),
        ("z", describe.format_z(z) if z else None),
        ("image shape", entry.get("image_shape")), ("dataset", entry.get("dataset")),
        ("architecture", entry.get("architecture")), ("loss", entry.get("loss")),
        ("normalization", entry.get("normalization")), ("penalty", _penalty(entry)),
        ("training", _training(entry.get("training"))),
        ("weights", describe.describe_weights((entry.get("training") or {}).get("generator_weights"))),
    ]
    integrity = entry.get("integrity")
    if integrity == "pinned":
        lines += [("sha256", entry["sha256"]), ("size", f"{entry['size']} bytes (verified on download)")]
    elif integrity == "unverified":
        lines += [("sha256", "unknown, not verified"), ("size", "unknown, not verified"),
                  ("integrity", entry.get("integrity_note", "no checksum is pinned for this model"))]
    else:
        lines += [("integrity", entry.get("integrity_note", integrity))]
    lines.append(("cached", f"yes (sha256 {cached})" if cached else
                  (("packaged, installed" if entry.get("installed") else "packaged, NOT installed "
                    "in this copy of ganhub") if integrity == "packaged" else "no")))
    for key, score in (entry.get("scores") or {}).items():
        if isinstance(score, dict):
            from ganhub.describe import summarize_protocol
            value = score.get("value")
            value = f"{value:.6g}" if isinstance(value, (int, float)) else str(value)
            if isinstance(score.get("std"), (int, float)):
                value += f" ± {score['std']:.2g}"
            lines.append((f"score {key}", f"{value}  [{summarize_protocol(score.get('protocol'))}; "
                                          f"{score.get('source', 'source not given')}]"))
        else:
            lines.append((f"score {key}", score))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        if value is not None:
            print(f"{key.ljust(width)}  {value}")
    return 0


def cmd_download(args):
    from ganhub.hub.resolver import resolve
    for name in args.names:
        # trust=True: downloading runs nothing; the op scan happens when the module is loaded.
        got = resolve(name, trust=True)
        sha = f" sha256 {got.sha256}" if got.sha256 else ""
        print(f"{name}: {got.source}{sha} -> {got.path}")
    return 0


def _human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def cmd_cache_ls(args):
    from ganhub.hub import cache
    entries = cache.entries()
    if args.json:
        json.dump({"cache": str(cache.root()), "entries": entries,
                   "other_files": cache.other_files()}, sys.stdout, indent=1)
        print()
        return 0
    print(f"cache: {cache.root()}")
    for e in entries:
        origin = ", ".join(e["urls"]) or e["source"] or "?"
        print(f"{e['sha256'][:12]}  {_human(e['bytes']):>9}  {origin}")
    others = cache.other_files()
    if others:
        print("\nevaluation files:")
        for item in others:
            print(f"{_human(item['bytes']):>9}  {item['what']}  ({item['path']})")
    total = sum(e["bytes"] for e in entries) + sum(item["bytes"] for item in others)
    if not entries and not others:
        print("(empty)")
    else:
        print(f"\n{_human(total)} in all")
    return 0


def _shas_for(name):
    """Cache keys a user-given name refers to: catalog name, URL, or sha256 prefix."""
    from ganhub import catalog
    from ganhub.hub import cache
    entry = catalog.find_entry(name)
    if entry is not None:
        sha = _cached_sha(entry)
        return [sha] if sha else []
    if catalog.is_url(name):
        from ganhub.hub.resolver import split_sha256_fragment
        url, sha = split_sha256_fragment(name)
        sha = sha or cache.lookup_ref(url)
        return [sha] if sha and cache.entry_dir(sha).exists() else []
    matches = [e["sha256"] for e in cache.entries() if e["sha256"].startswith(name.lower())]
    if len(matches) > 1:
        raise UnknownModelError(f"{name!r} matches {len(matches)} cache entries; give more digits")
    return matches


def cmd_cache_verify(args):
    from ganhub.hub import cache
    missing = 0
    if args.names:
        shas = []
        for name in args.names:
            found = _shas_for(name)
            if not found:
                print(f"{name}: not in the cache", file=sys.stderr)
                missing += 1
            shas += found
    else:
        shas = [e["sha256"] for e in cache.entries()]
    bad = 0
    for sha in shas:
        problems = cache.verify_entry(sha)
        if problems:
            bad += 1
            print(f"CORRUPT {sha}: " + "; ".join(problems[:5]) +
                  (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
        else:
            print(f"ok      {sha}")
    print(f"{len(shas)} checked, {bad} corrupt" +
          ("; remove them with `ganhub cache rm SHA` and load again to re-download" if bad else ""))
    return 1 if bad or missing else 0


def cmd_cache_rm(args):
    from ganhub.hub import cache
    missing = 0
    for name in args.names:
        shas = _shas_for(name)
        if not shas:
            print(f"{name}: not in the cache", file=sys.stderr)
            missing += 1
        for sha in shas:
            cache.remove(sha)
            print(f"removed {sha} ({name})")
    return 1 if missing else 0


def cmd_cache_prune(args):
    from ganhub.hub import cache
    removed = cache.prune()
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} leftover(s) removed")
    return 0


def check_serve(args):
    """The folder before TensorFlow is imported (rendering sample grids needs it)."""
    from ganhub.hub.serve import check_directory
    check_directory(args.directory)


def cmd_serve(args):
    from ganhub.hub.serve import serve
    return serve(args.directory, host=args.host, port=args.port, samples=not args.no_samples)
