"""The Fashion-MNIST landscape study (docs/landscape/): run it, snapshot it, report it, ship its zoo.

    python scripts/landscape.py freeze      # install git HEAD for the workers (others edit the tree)
    python scripts/landscape.py work        # restore or create the live database, run the workers
    python scripts/landscape.py snapshot    # consistent copy of the live database into the repo
    python scripts/landscape.py report      # docs/landscape/<study>/ and findings.md, from the copy
    python scripts/landscape.py zoo         # best module per variant -> ganhub/models/fashion_mnist
    python scripts/landscape.py status      # `ganhub study status` of every study
    python scripts/landscape.py results     # snapshot + report + zoo (then commit them)

The live database and the trial folders live outside the repository, in $LANDSCAPE_LIVE (default
/work/landscape-live): study.db and ganhub-study/<study>/ (checkpoints are never committed). The
repository keeps docs/landscape/study.db, a snapshot taken with SQLite's backup API (consistent
while workers write), which `work` restores on a machine that has no live database, and which
`report` reads, so every number in docs/landscape/ comes from the committed file.

The studies run one after the other, in STUDIES' order (the most informative first); a worker
that finds only other workers' trials left in a study moves on to the next study and comes back
(so two workers keep both cores busy to the end). Within a study the worker spreads trials over
the variants, so at any point every variant has run the same settings. A trial cut short (Ctrl-C,
SIGTERM, a killed machine) is queued again by optuna's heartbeat check and resumed from its run
folder when that folder still exists; a trial that raised is queued again by the worker itself (up
to the spec's max_retry times).
"""
import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "landscape"
SNAPSHOT = DOCS / "study.db"
ZOO_DIR = ROOT / "ganhub" / "models" / "fashion_mnist"
ZOO_CATALOG = ROOT / "ganhub" / "catalogs" / "fashion_mnist.json"
ZOO_HANDLE = "ganhub:models/fashion_mnist/"
COST = DOCS / "cost.json"              # benchmarks/regularization_cost.py --json
VS_DEFAULT = DOCS / "vs_default.json"  # `vs-default`: the zoo's best against the default at 10k
WAIT_SECONDS = 60   # `work`: the pause when every study waits on other workers' last trials

# (study name, spec file, architecture, report folder), the order the workers run them in
STUDIES = [
    ("fashion_mnist_sndcgan", "spec.json", "sndcgan", "sndcgan"),
    ("fashion_mnist_dcgan_norms", "spec-norms.json", "dcgan", "dcgan_norms"),
]


def live_dir():
    return Path(os.environ.get("LANDSCAPE_LIVE", "/work/landscape-live"))


def live_db():
    return live_dir() / "study.db"


def workdir(name):
    return live_dir() / "ganhub-study" / name


def sqlite_url(path):
    return f"sqlite:///{Path(path).resolve()}"


def backup(src, dst):
    """Copy SQLite database ``src`` to ``dst`` with SQLite's online backup (a consistent snapshot
    even while workers write), through a temp file renamed into place."""
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as source, \
                sqlite3.connect(tmp) as target:
            source.backup(target)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def code_dir():
    return live_dir() / "code"


def _env():
    """Workers run a frozen install of the committed code when `freeze` made one: the working
    tree is edited by others while a study runs for hours, and a half-made edit imported mid-trial
    fails the trial."""
    env = dict(os.environ)
    site = code_dir() / "site"
    if (site / "ganhub" / "__init__.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


_CHILD = {}


def _ganhub(*args, nice=False):
    cmd = (["nice", "-n", "19"] if nice else []) + [sys.executable, "-m", "ganhub", *args]
    # not from the repository: `python -m` puts the current folder first on sys.path
    child = subprocess.Popen(cmd, env=_env(), cwd=live_dir())
    _CHILD["proc"] = child
    try:
        return child.wait()
    finally:
        _CHILD.pop("proc", None)


def cmd_freeze(args):
    """Install the committed code (git HEAD) into $LANDSCAPE_LIVE/code/site for the workers."""
    src, site = code_dir() / "src", code_dir() / "site"
    for d in (src, site):
        shutil.rmtree(d, ignore_errors=True)
    src.mkdir(parents=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", head], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(src)], check=True)
    (code_dir() / "COMMIT").write_text(head + "\n")
    check = subprocess.run([sys.executable, "-c", "import ganhub, ganhub.training, ganhub.study; "
                            "print(ganhub.__file__)"], env=_env(), capture_output=True, text=True,
                           cwd=live_dir())
    if check.returncode or not check.stdout.startswith(str(site)):
        sys.exit(f"the frozen install does not import from {site}: {check.stderr or check.stdout}")
    print(f"workers will run commit {head[:12]} from {site}")
    return 0


def restore():
    """The live database: kept if present, else restored from the snapshot, else created."""
    db = live_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        return "kept"
    if SNAPSHOT.exists():
        backup(SNAPSHOT, db)
        return "restored"
    for name, spec, _, _ in STUDIES:
        rc = _ganhub("study", "create", name, str(DOCS / spec), "--storage", str(db),
                     "--workdir", str(workdir(name)))
        if rc:
            sys.exit(rc)
    return "created"


def cmd_work(args):
    import signal

    def stop(signum, frame):   # SIGTERM: the worker queues its trial again, then we stop
        if "proc" in _CHILD:
            _CHILD["proc"].send_signal(signal.SIGTERM)
        raise KeyboardInterrupt

    from ganhub.cli.study import LEFT_WAITING
    signal.signal(signal.SIGTERM, stop)
    print(f"live database {live_db()}: {restore()}", flush=True)
    if not (code_dir() / "site").is_dir():
        print("note: no frozen code (python scripts/landscape.py freeze); workers import the "
              "working tree", flush=True)
    try:
        pending = [name for name, _, _, _ in STUDIES if args.study in (None, name)]
        while pending:
            waiting = []
            for name in pending:
                # a study whose last trials run on other workers is left for the next one and
                # come back to; the last study left is waited on (nothing else to do meanwhile)
                rc = _work_on(name, args, leave_when_waiting=len(pending) > 1)
                if rc == LEFT_WAITING:
                    waiting.append(name)
                elif rc != 0:
                    return rc
            if waiting and waiting == pending:   # every study waits on other workers
                time.sleep(WAIT_SECONDS)
            pending = waiting
    except KeyboardInterrupt:
        if "proc" in _CHILD:
            _CHILD["proc"].wait()
        return 130
    return 0


def _work_on(name, args, leave_when_waiting):
    """One study's worker until it is done (0), left waiting (LEFT_WAITING) or failed
    ``args.attempts`` times (its exit code)."""
    from ganhub.cli.study import LEFT_WAITING
    extra = ["--leave-when-waiting"] if leave_when_waiting else []
    for attempt in range(args.attempts):
        rc = _ganhub("study", "worker", name, "--storage", str(live_db()),
                     "--workdir", str(workdir(name)), *extra, nice=not args.no_nice)
        if rc in (0, LEFT_WAITING):
            return rc
        print(f"worker of {name} stopped with exit code {rc} (attempt {attempt + 1} of "
              f"{args.attempts})", flush=True)
    return rc


def cmd_snapshot(args):
    backup(live_db(), SNAPSHOT)
    print(f"{SNAPSHOT} ({SNAPSHOT.stat().st_size / 1e6:.2f} MB); commit it with\n"
          f"  git commit -m 'landscape: results so far' -- {SNAPSHOT.relative_to(ROOT)}")
    return 0


def cmd_status(args):
    db = args.db or (live_db() if live_db().exists() else SNAPSHOT)
    for name, _, _, _ in STUDIES:
        _ganhub("study", "status", name, "--storage", str(db))
    return 0


@contextlib.contextmanager
def snapshot_url(db=None):
    """The URL of a temp copy of the committed snapshot (or ``db``): optuna may write to a
    database it opens."""
    tmpdir = Path(tempfile.mkdtemp(prefix="landscape-"))
    try:
        yield sqlite_url(backup(db or SNAPSHOT, tmpdir / "study.db"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def collect_all(db=None):
    """{study name: (spec, labels, {label: [Record]})} from the snapshot (or ``db``)."""
    with snapshot_url(db) as url:
        return _collect(url)


def _collect(url):
    from ganhub.study.results import collect
    out = {}
    for name, _, _, _ in STUDIES:
        spec, labels, _, records = collect(url, name)
        out[name] = (spec, labels, records)
    return out


def write_reports(url, results):
    """Each study's report from ``url`` and findings.md from ``results`` (``_collect(url)``)."""
    import landscape_findings as findings
    from ganhub.study.report import write_report
    for name, _, _, folder in STUDIES:
        write_report(url, name, DOCS / folder,   # no machine's path in the committed report
                     workdir_shown=f"$LANDSCAPE_LIVE/ganhub-study/{name}")
        print(f"report of {name}: {DOCS / folder}/report.md")
    (DOCS / "findings.md").write_text(findings.render(results, *extras()), encoding="utf-8")
    print(f"findings: {DOCS / 'findings.md'}")


def cmd_report(args):
    with snapshot_url(args.db) as url:
        write_reports(url, _collect(url))
    return 0


def extras():
    """(cost, vs_default): the committed measurements findings.md reads besides the study."""
    return tuple(json.loads(p.read_text(encoding="utf-8")) if p.exists() else None
                 for p in (COST, VS_DEFAULT))


def cmd_vs_default(args):
    """The zoo's best model (lowest committed 2k FID) scored like the shipped default (10k
    generated vs the 10k test images, the default's seed, extractor and resize), beside the
    default's recorded score, into docs/landscape/vs_default.json."""
    import datetime
    import ganhub
    from ganhub.metrics.evaluation import evaluate, protocol_differences
    zoo = json.loads(ZOO_CATALOG.read_text(encoding="utf-8"))["models"]
    best = min(zoo, key=lambda e: (e["scores"]["fid"]["value"], e["name"]))
    default = ganhub.load("default").metadata["scores"]
    protocol = default["fid"]["protocol"]
    ref = protocol["reference"]
    print(f"scoring {best['name']} (2k FID {best['scores']['fid']['value']:.1f}) with "
          f"{protocol['num_samples']} samples against {ref['dataset']}-{ref['split']}", flush=True)
    result = evaluate(best["name"], reference=f"{ref['dataset']}-{ref['split']}",
                      metrics=("fid", "kid"), num_samples=protocol["num_samples"],
                      seed=protocol["seed"], extractor=protocol["extractor_id"],
                      resize=protocol["resize"], kid_blocks=protocol.get("kid_blocks"))
    differences = protocol_differences(protocol, result["protocol"])
    if differences:
        sys.exit("the zoo model was not scored like the default: " + "; ".join(differences))
    out = {"measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "zoo": {"name": best["name"], "fid_2k": best["scores"]["fid"]["value"],
                   "fid": result["fid"], "kid": result["kid"], "protocol": result["protocol"]},
           "default": {"name": "default", "fid": default["fid"]["value"],
                       "kid": default["kid"]["value"], "protocol": protocol}}
    from ganhub.fileio import write_json_atomic
    write_json_atomic(VS_DEFAULT, out)
    verdict = "beats" if out["zoo"]["fid"] < out["default"]["fid"] else "does not beat"
    print(f"{best['name']}: FID {result['fid']:.2f} at {protocol['num_samples']} samples; the "
          f"default {out['default']['fid']:.2f}: it {verdict} the default. Wrote {VS_DEFAULT}")
    return 0


# --- the zoo -----------------------------------------------------------------------------------
def zoo_name(arch, label):
    return f"fashion_mnist/{arch}-{label}"


def _read_meta(module):
    path = Path(module) / "assets" / "ganhub.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def build_zoo(results, zoo_dir=ZOO_DIR, catalog_path=ZOO_CATALOG, log=print):
    """Copy the best module of every variant (min FID over all its trials, seed re-runs included)
    into ``zoo_dir``/<arch>-<variant> and write the catalog. A variant whose best module is not on
    this machine (trained elsewhere) keeps the copy already in the zoo, if any. Returns the
    catalog."""
    from ganhub.catalog import module_entry, validate_entry
    from ganhub.study.results import best
    zoo_dir = Path(zoo_dir)
    zoo_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, _, arch, _ in STUDIES:
        if name not in results:
            continue
        spec, labels, records = results[name]
        for label in labels:
            b = best([r for r in records[label] if r.module])
            if b is None:
                continue
            folder = f"{arch}-{label}"
            target = zoo_dir / folder
            if Path(b.module, "saved_model.pb").is_file():
                tmp = zoo_dir / f".{folder}.tmp"
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(b.module, tmp)
                shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
            elif target.is_dir():
                have = (_read_meta(target) or {}).get("scores", {}).get("fid", {})
                study = have.get("protocol", {}).get("study", {}) if isinstance(have, dict) else {}
                if study.get("trial") != b.number:
                    log(f"{name} {label}: best trial {b.number}'s module is not here ({b.module}); "
                        f"keeping trial {study.get('trial')} in the zoo")
            else:
                log(f"{name} {label}: best trial {b.number}'s module is not here ({b.module}); "
                    f"no zoo entry")
                continue
            meta = _read_meta(target)
            fid = meta["scores"]["fid"]
            trial = fid["protocol"]["study"]["trial"]
            entry = module_entry(zoo_name(arch, label), ZOO_HANDLE + folder, None, None, meta)
            entry.update(
                integrity="packaged",
                integrity_note="ships inside the ganhub package; nothing is downloaded",
                description=(f"The GAN Landscape on Fashion-MNIST, {arch.upper()} width "
                             f"{meta['training']['config']['width']}: best of variant {label} "
                             f"(study {name}, trial {trial}, FID {fid['value']:.4g} at "
                             f"{fid['protocol']['num_samples']} samples; docs/landscape/)"))
            entry.pop("metadata", None)   # read from the module itself when loaded
            entries.append(validate_entry(entry, str(catalog_path)))
    kept = {Path(e["handle"][len(ZOO_HANDLE):]).name for e in entries}
    for stale in zoo_dir.iterdir():
        if stale.is_dir() and stale.name not in kept:
            shutil.rmtree(stale)
    catalog = {"catalog_version": 1, "name": "fashion_mnist",
               "description": ("The GAN Landscape reproduced on Fashion-MNIST at reduced width: the "
                               "best model of each variant (docs/landscape/)"),
               "models": entries}
    from ganhub.fileio import write_json_atomic
    write_json_atomic(catalog_path, catalog)
    return catalog


def zoo_size(zoo_dir=ZOO_DIR):
    return sum(f.stat().st_size for f in Path(zoo_dir).rglob("*") if f.is_file())


def publish_zoo(results):
    catalog = build_zoo(results)
    print(f"{len(catalog['models'])} models in {ZOO_CATALOG.relative_to(ROOT)}; "
          f"{ZOO_DIR.relative_to(ROOT)} holds {zoo_size() / 1e6:.2f} MB")


def cmd_zoo(args):
    publish_zoo(collect_all(args.db))   # the committed snapshot: the zoo matches it
    return 0


def cmd_results(args):
    """snapshot, then report and zoo from one read of it: what a commit of results holds."""
    cmd_snapshot(args)
    with snapshot_url() as url:
        results = _collect(url)
        write_reports(url, results)
    publish_zoo(results)
    return 0


def main(argv=None):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(1, str(ROOT))   # ganhub from this checkout, installed or not
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("work", help="restore or create the live database and run the workers")
    w.add_argument("--no-nice", action="store_true", help="run at normal priority")
    w.add_argument("--study", choices=[s[0] for s in STUDIES],
                   help="run only this study (default: each in turn); two `work --study` "
                        "processes, one per study, advance both questions at once")
    w.add_argument("--attempts", type=int, default=5,
                   help="restarts of a study's worker after it stopped on errors (default 5)")
    w.set_defaults(func=cmd_work)
    sub.add_parser("freeze", help="install git HEAD into $LANDSCAPE_LIVE/code for the workers"
                   ).set_defaults(func=cmd_freeze)
    sub.add_parser("snapshot", help="copy the live database to docs/landscape/study.db"
                   ).set_defaults(func=cmd_snapshot)
    sub.add_parser("results", help="snapshot, report and zoo in one go"
                   ).set_defaults(func=cmd_results)
    sub.add_parser("vs-default", help="score the zoo's best model like the default (10k vs 10k) "
                   "into docs/landscape/vs_default.json").set_defaults(func=cmd_vs_default)
    for cmd, func, what in (("report", cmd_report, "the snapshot"),
                            ("zoo", cmd_zoo, "the snapshot; modules are read from the trial folders"),
                            ("status", cmd_status, "the live database if present, else the snapshot")):
        s = sub.add_parser(cmd)
        s.add_argument("--db", type=Path, help=f"SQLite study database (default: {what})")
        s.set_defaults(func=func)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
