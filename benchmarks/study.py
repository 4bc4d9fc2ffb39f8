"""The study's own overhead per trial, against a 2-minute trial (the issue's budget: under 5%).

    python benchmarks/study.py [--trials 100] [--search gp] [--export-width 1.0] [--sqlite]

What is timed, on a PostgreSQL server started on 127.0.0.1 in a temp dir (Debian's postgresql,
as in tests/ganhub/study/test_study_workers.py):
- scheduling: a real ``ganhub.study.worker.Worker`` runs ``--trials`` trials of one variant whose
  training, scoring and export are replaced by an instant stand-in (a score from the learning
  rate), so every second measured is the study's own: listing the variant's trials to decide the
  next action, optuna's ask (the GPSampler fitting its GP on every finished trial), the admission
  check, user attrs written one round trip each, the heartbeat thread, tell. Reported: the mean
  over all trials and over the last 10 (the cost grows with the number of finished trials);
- export: ``ganhub.export.export_module`` of an SNDCGAN-32 at ``--export-width`` (the study's size
  is 1.0) after one training step, median of 3, plus dropping the other checkpoints;
- process start: importing TensorFlow, optuna and the study in a fresh interpreter (once per
  worker, so divided by the trials a worker runs).

Measured (2026-12-02, 2 shared cores with other jobs running, load average 4-7, PostgreSQL 15,
optuna 5.1, GP mode, 100 finished trials, export at width 1.0, a process start spread over 10
trials):

    greenlet     scheduling/trial   scheduling/trial   export   process   overhead   % of a
                 (first 10)         (last 10)                   start     per trial  2-min trial
    installed    0.14 s             0.61 s             0.40 s   3.3 s     1.35 s     1.1%
    missing      0.34 s             1.78 s             0.73 s   5.8 s     3.10 s     2.6%

Without greenlet optuna's GPSampler optimizes its acquisition function sequentially (it warns);
the study extra installs it. Scheduling grows with the finished trials (the GP is refit on all of
them each time); the storage round trips alone are the first-10 figure (random start-up trials).
"""
import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIAL_SECONDS = 120.0


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_scheduling(url, n_trials, search="gp", workdir=None):
    """Seconds per trial of a worker whose trials do nothing: [per-trial overhead]."""
    import math

    from ganhub.study import spec as specs
    from ganhub.study import trial as trial_mod
    from ganhub.study.worker import Worker, create

    spec = specs.normalize({
        "config": {"steps": 1, "checkpoint_every": 1},
        "search": search, "budget": n_trials, "best_seeds": 1,
        "scoring": {"scorer": "unused:unused"}, "heartbeat_seconds": 30, "grace_seconds": 120})
    name = f"bench{int(time.time())}"
    create(name, spec, url, workdir=workdir, validate=False)

    stamps = []

    def instant_run(config, run_dir, module_dir, scorers, scoring, name, study_info, **kwargs):
        stamps.append(time.perf_counter())
        value = 20 + 10 * (math.log10(config.learning_rate) + 3.5) ** 2
        return {"value": value, "best_step": 1, "checkpoint_scores": {0: value + 5, 1: value},
                "diverged": None, "module": None, "also": {}, "timings": {}}

    original = trial_mod.run
    trial_mod.run = instant_run
    try:
        worker = Worker(name, url, workdir=workdir, log=lambda m: None)
        worker._prepare()   # the base config (TensorFlow import) is process start, not per trial
        worker.check_inputs = lambda: None   # once per worker start too, and these trials use nothing
        start = time.perf_counter()
        finished = worker.run()
        total = time.perf_counter() - start
    finally:
        trial_mod.run = original
    assert finished == n_trials, finished
    gaps = [b - a for a, b in zip([start] + stamps[:-1], stamps)]
    return {"trials": finished, "total_s": total, "per_trial_s": total / finished,
            "last10_per_trial_s": statistics.mean(gaps[-10:]), "first10_per_trial_s":
            statistics.mean(gaps[:10])}


def bench_export(width, repeats=3):
    from ganhub.export import export_module
    from ganhub.study.trial import drop_checkpoints
    from ganhub.training import Config, train
    conftest = _load(ROOT / "tests" / "conftest.py", "bench_conftest")
    tmp = Path(tempfile.mkdtemp(prefix="ganhub-bench-export-"))
    data = conftest.write_fake_fashion_mnist(tmp / "data")
    config = Config(data_dir=str(data), width=width, batch_size=16, steps=2, checkpoint_every=1,
                    keep_checkpoints=5)
    train(config, tmp / "run", progress=False)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        export_module(tmp / "run", tmp / f"module{i}", archive=False, weights="raw",
                      checkpoint=str(tmp / "run" / "checkpoints" / "ckpt-1"))
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    drop_checkpoints(tmp / "run", 1)
    drop = time.perf_counter() - t0
    return {"export_s": statistics.median(times), "drop_checkpoints_s": drop, "width": width}


def bench_process_start():
    code = ("import tensorflow as tf, optuna\nimport ganhub.study.worker, ganhub.study.trial\n"
            "import ganhub.training\ntf.config.list_physical_devices()")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--search", default="gp", choices=("gp", "random"))
    parser.add_argument("--export-width", type=float, default=1.0)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--trials-per-worker", type=int, default=10,
                        help="to spread one process start over (default 10)")
    args = parser.parse_args(argv)
    helpers = _load(ROOT / "tests" / "ganhub" / "study" / "_study_helpers.py", "bench_helpers")
    work = Path(tempfile.mkdtemp(prefix="ganhub-bench-study-"))
    if args.sqlite:
        sched = bench_scheduling(f"sqlite:///{work / 'b.db'}", args.trials, args.search, work)
    else:
        with helpers.postgres_server() as url:
            sched = bench_scheduling(url, args.trials, args.search, work)
    export = bench_export(args.export_width)
    start = bench_process_start()
    per_trial = (sched["last10_per_trial_s"] + export["export_s"] + export["drop_checkpoints_s"]
                 + start / args.trials_per_worker)
    result = {"storage": "sqlite" if args.sqlite else "postgresql", "search": args.search,
              **sched, **export, "process_start_s": start,
              "trials_per_worker": args.trials_per_worker,
              "overhead_per_trial_s": per_trial,
              "overhead_percent_of_2min_trial": 100 * per_trial / TRIAL_SECONDS}
    print(json.dumps(result, indent=2))
    print(f"overhead per trial at {sched['trials']} finished trials: "
          f"{sched['last10_per_trial_s']:.3f} s scheduling + {export['export_s']:.2f} s export "
          f"(width {args.export_width}) + {start:.1f} s process start / "
          f"{args.trials_per_worker} trials = {per_trial:.2f} s = "
          f"{result['overhead_percent_of_2min_trial']:.1f}% of a 2-minute trial")
    return result


if __name__ == "__main__":
    main()
