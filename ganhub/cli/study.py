"""`ganhub study create|worker|status|report|publish`: the landscape study on optuna.

No TensorFlow or optuna at import time; each sub-command's arguments are checked first.
"""
import json
import os
from pathlib import Path

from ganhub.errors import ConfigError

# `worker --leave-when-waiting` stopped with trials still running elsewhere (sysexits' EX_TEMPFAIL:
# come back later)
LEFT_WAITING = 75

_STORAGE_HELP = ("study database: a file path (SQLite, the default ./ganhub-studies.db, or "
                 "GANHUB_STUDY_STORAGE) or a URL such as postgresql://USER:PASS@HOST:5432/DB for "
                 "workers on several machines")


def register(sub):
    p = sub.add_parser(
        "study", help="run the GAN Landscape study (grid / GP / random search) on many workers",
        description="The landscape study as optuna studies: `create` stores a spec, any number of "
                    "`worker`s (on any machine that reaches the storage) pull trials until the "
                    "budget is spent, `status` shows progress, `report` writes the paper's "
                    "figures, `publish` makes a hub folder of the best model per variant. For a "
                    "live web view: optuna-dashboard STORAGE_URL.")
    study = p.add_subparsers(dest="study_command", metavar="STUDY_COMMAND")
    study.required = True

    c = study.add_parser(
        "create", help="create a study from a spec",
        description="Create study NAME from SPEC.json: training config (or preset), variants "
                    "(losses x penalties x D normalizations), search (grid = Table 1a, gp = "
                    "optuna's GPSampler over Table 1b, random), budget (finished trials per "
                    "variant), seeds, best_seeds, scoring protocol (metric, reference, "
                    "num_samples, extractor, resize). Keys are described in "
                    "ganhub/study/spec.py and the README.")
    c.add_argument("name", help="study name (no '/')")
    c.add_argument("spec", help="the study spec JSON")
    c.add_argument("--storage", help=_STORAGE_HELP)
    c.add_argument("--workdir", help="where trial folders and modules go (default: "
                                     "ganhub-study/NAME next to a SQLite file, else in the "
                                     "current folder); workers may override it")
    c.set_defaults(func=run_create, check=check_create)

    w = study.add_parser(
        "worker", help="run trials of a study until its budget is spent",
        description="Pull trials of NAME and run them: train with checkpoints, score every "
                    "checkpoint (min over checkpoints), export the best as a module, drop the "
                    "other checkpoints. How many per machine: on CPU, max(1, cores // 4) finish "
                    "each trial soonest (one trial uses about all of a small machine's cores), "
                    "but small networks leave cores idle and two workers on 2 cores then finish "
                    "more trials per hour; with GPUs, one per GPU (CUDA_VISIBLE_DEVICES). "
                    "A worker killed mid-trial is noticed after the spec's grace_seconds and its "
                    "trial is resumed by another worker; a trial that raised is queued again, "
                    "up to the spec's max_retry times. Before its first trial a worker loads the "
                    "training data, the scoring extractor and the reference statistics "
                    "(computing and caching them if need be; workers on one machine compute "
                    "them once), so a missing one stops it at once.")
    w.add_argument("name", help="the study's name (as given to `ganhub study create`)")
    w.add_argument("--storage", help=_STORAGE_HELP)
    w.add_argument("--workdir", help="trial folders and modules (default: the study's)")
    w.add_argument("--max-trials", type=int, metavar="N",
                   help="stop after finishing N trials (default: when the budget is spent)")
    w.add_argument("--leave-when-waiting", action="store_true",
                   help=f"when nothing is left to start but other workers' trials still run, "
                        f"stop with exit code {LEFT_WAITING} instead of waiting for them (one "
                        f"may die and be queued again): for a script that serves several "
                        f"studies and comes back")
    w.set_defaults(func=run_worker, check=check_worker)

    s = study.add_parser("status", help="trials done / running / failed / left, best, ETA",
                         description="Per variant: trials done, running, waiting, failed and "
                                     "left, best score so far; an ETA at the current number "
                                     "of running workers.")
    s.add_argument("name", help="the study's name (as given to `ganhub study create`)")
    s.add_argument("--storage", help=_STORAGE_HELP)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_status, check=check_storage, tensorflow=False)

    r = study.add_parser(
        "report", help="write the study's figures and a markdown + CSV report",
        description="Box plots of the top 5%% of trials per variant, the budget curve (expected "
                    "best score of k random trials, with a bootstrap band), seed spread of the "
                    "best settings, a table of the best model per variant; report.md, "
                    "trials.csv, best.csv and PNGs in DIR.")
    r.add_argument("name", help="the study's name (as given to `ganhub study create`)")
    r.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    r.add_argument("--storage", help=_STORAGE_HELP)
    r.set_defaults(func=run_report, check=check_report, tensorflow=False)

    b = study.add_parser(
        "publish", help="the best module per variant into a hub folder with a catalog",
        description="Pack the best module of each variant into DIR with catalog.json: serve it "
                    "with `ganhub serve DIR`, or set GANHUB_CATALOGS=DIR/catalog.json and load "
                    "the names with ganhub.load.")
    b.add_argument("name", help="the study's name (as given to `ganhub study create`)")
    b.add_argument("out", metavar="DIR")
    b.add_argument("--storage", help=_STORAGE_HELP)
    b.set_defaults(func=run_publish, check=check_publish, tensorflow=False)


def _url(args):
    from ganhub.study.storage import storage_url
    return storage_url(args.storage)


def check_storage(args):
    import importlib.util
    if importlib.util.find_spec("optuna") is None:
        raise ConfigError("`ganhub study` needs optuna: pip install 'ganhub[study]'")
    args.storage_url = _url(args)
    if args.storage_url.startswith("sqlite:///") and args.study_command != "create":
        path = Path(args.storage_url[len("sqlite:///"):])
        if not path.is_file():
            raise ConfigError(f"no study database at {path}; create a study first (ganhub study "
                              f"create NAME SPEC.json) or pass --storage")


def check_create(args):
    from ganhub.study import spec as specs
    if not args.name or "/" in args.name or args.name != args.name.strip():
        raise ConfigError(f"study name {args.name!r}: use a name without '/' or surrounding spaces")
    args.spec_data = specs.load(args.spec)
    check_storage(args)
    if args.workdir and Path(args.workdir).is_file():
        raise ConfigError(f"--workdir {args.workdir} is a file")


def check_worker(args):
    check_storage(args)
    if args.max_trials is not None and args.max_trials <= 0:
        raise ConfigError("--max-trials must be a positive integer")


def _check_out(path, what):
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file; give a folder")
    if not path.exists() and not path.parent.resolve().is_dir():
        raise ConfigError(f"{what} {path}: folder {path.parent} does not exist")


def check_report(args):
    check_storage(args)
    _check_out(args.out, "-o")


def check_publish(args):
    check_storage(args)
    _check_out(args.out, "DIR")


def run_create(args):
    from ganhub.study.worker import create
    info = create(args.name, args.spec_data, args.storage_url, workdir=args.workdir)
    total = sum(info["trials_per_variant"].values())
    print(f"created study {info['name']}: {len(info['variants'])} variant(s), {total} search "
          f"trial(s)" + (f" + re-runs of each variant's best setting to "
                         f"{args.spec_data['best_seeds']} seeds" if args.spec_data["best_seeds"] > 1
                         else ""))
    print(f"files: {info['workdir']}")
    storage = "" if args.storage is None else f" --storage {args.storage}"
    print(f"start workers with: ganhub study worker {info['name']}{storage}")
    return 0


def run_worker(args):
    from ganhub.study.worker import Worker
    worker = Worker(args.name, args.storage_url, workdir=args.workdir)
    n = worker.run(max_trials=args.max_trials, leave_when_waiting=args.leave_when_waiting)
    print(f"worker finished {n} trial(s) of study {args.name}"
          + ("; other workers' trials still run" if worker.left_waiting else ""))
    return LEFT_WAITING if worker.left_waiting else 0


def run_status(args):
    from ganhub.study.results import format_status, status
    st = status(args.storage_url, args.name)
    print(json.dumps(st, indent=2) if args.json else format_status(st))
    return 0


def run_report(args):
    from ganhub.study.report import write_report
    result = write_report(args.storage_url, args.name, args.out)
    for f in result["files"]:
        print(f)
    return 0


def run_publish(args):
    from ganhub.study.publish import CATALOG_FILE, publish
    catalog = publish(args.storage_url, args.name, args.out)
    for e in catalog["models"]:
        print(f"{e['name']}  {e['size']} bytes  sha256 {e['sha256'][:12]}")
    where = os.path.abspath(os.path.join(args.out, CATALOG_FILE))
    print(f"serve with: ganhub serve {args.out}; or load by name with "
          f"GANHUB_CATALOGS={where}")
    return 0
