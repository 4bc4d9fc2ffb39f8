"""A study's trials as plain records, and `status` (no TensorFlow)."""
import dataclasses
import math
import time

from ganhub.study import schedule
from ganhub.study import spec as specs
from ganhub.study import storage as stores


@dataclasses.dataclass
class Record:
    variant: str
    number: int
    state: str            # COMPLETE, RUNNING, WAITING, FAIL, PRUNED
    phase: str
    seed: object
    setting: dict
    value: object         # the selection metric (min over checkpoints), or None
    best_step: object
    module: object
    also: dict
    checkpoint_scores: dict
    seconds: object       # wall time of a finished trial
    rerun_of: object = None
    timings: dict = None  # seconds spent training, scoring and exporting (a finished trial)
    key: str = None       # a queued trial's grid point or re-run ("grid:0:0"); its retries share it


def _record(label, trial, also_metrics):
    attrs = trial.user_attrs
    seconds = None
    if trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return Record(variant=label, number=trial.number, state=trial.state.name,
                  phase=schedule.phase(trial), seed=attrs.get("seed"),
                  setting=attrs.get("setting") or dict(trial.params), value=trial.value,
                  best_step=attrs.get("best_step"), module=attrs.get("module"),
                  also={m: attrs.get(m) for m in also_metrics},
                  checkpoint_scores=attrs.get("checkpoint_scores") or {}, seconds=seconds,
                  rerun_of=attrs.get("rerun_of"), timings=attrs.get("timings"),
                  key=attrs.get("key"))


def collect(url, name):
    """(spec, labels, workdir, {label: [Record]}), skipping surplus and duplicate trials."""
    storage = stores.open_storage(url)
    spec, labels, workdir = stores.load_spec(storage, name)
    studies = stores.variant_studies(storage, name, labels)
    records = {}
    for label in labels:
        trials = studies[label].get_trials(deepcopy=False)
        records[label] = [_record(label, t, spec["scoring"]["also"]) for t in trials
                          if not schedule.ignored(t)]
    return spec, labels, workdir, records


def best(records, phase=None):
    done = [r for r in records if r.state == "COMPLETE" and r.value is not None
            and (phase is None or r.phase == phase)]
    return min(done, key=lambda r: (r.value, r.number)) if done else None


LIVE_STATES = {state.name for state in schedule.LIVE}   # a Record's state is the state's name


def status(url, name, now=None):
    """Per variant: done / running / waiting / failed / left, best so far; totals and an ETA
    (trials left x mean trial time / running workers). A failed trial whose grid point or re-run
    was queued again (a worker killed or interrupted, an error retried) counts as "retried", not
    "failed": its copy is counted where it stands."""
    spec, labels, workdir, records = collect(url, name)
    variants = {specs.variant_label(v): v for v in specs.variants(spec)}
    rows, durations = [], []
    for label in labels:
        rs = records[label]
        count = {s: sum(r.state == s for r in rs) for s in ("COMPLETE", "RUNNING", "WAITING", "FAIL")}
        live = {r.key for r in rs if r.key and r.state in LIVE_STATES}
        retried = sum(r.state == "FAIL" and r.key in live for r in rs)
        search_done = sum(r.state == "COMPLETE" and r.phase == "search" for r in rs)
        budget = specs.search_budget(spec, variants[label])
        seeds_planned = [r for r in rs if r.phase == "seeds" and r.state != "FAIL"]
        seeds_left = (spec["best_seeds"] - 1 if not seeds_planned and spec["best_seeds"] > 1
                      else sum(r.state in ("WAITING",) for r in seeds_planned))
        left = max(0, budget - search_done - count["RUNNING"]) + seeds_left
        b = best(rs)
        rows.append({"variant": label, "done": count["COMPLETE"], "running": count["RUNNING"],
                     "waiting": count["WAITING"], "failed": count["FAIL"] - retried,
                     "retried": retried, "left": left,
                     "best": b.value if b else None, "best_trial": b.number if b else None})
        durations += [r.seconds for r in rs if r.state == "COMPLETE" and r.seconds]
    total_left = sum(r["left"] for r in rows)
    running = sum(r["running"] for r in rows)
    mean = sum(durations) / len(durations) if durations else None
    # trials left spread over the workers running now (at least one), each taking the mean time
    eta = None if mean is None else math.ceil(total_left / max(1, running)) * mean
    return {"name": name, "search": spec["search"], "metric": spec["scoring"]["metric"],
            "workdir": str(workdir), "variants": rows, "left": total_left, "running": running,
            "mean_trial_seconds": mean, "eta_seconds": eta, "time": now or time.time()}


def format_duration(seconds):
    if seconds is None:
        return "unknown (no trial finished yet)"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def format_status(st):
    head = ("VARIANT", "DONE", "RUNNING", "WAITING", "FAILED", "LEFT", f"BEST {st['metric'].upper()}")
    rows = [head] + [(r["variant"], str(r["done"]), str(r["running"]), str(r["waiting"]),
                      str(r["failed"]), str(r["left"]),
                      "-" if r["best"] is None else f"{r['best']:.4g} (trial {r['best_trial']})")
                     for r in st["variants"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"{st['search']} search; {st['left']} trial(s) left, {st['running']} running; "
                 f"ETA {format_duration(st['eta_seconds'])} at the current worker count"
                 + (f" (mean trial {format_duration(st['mean_trial_seconds'])})"
                    if st["mean_trial_seconds"] else ""))
    retried = sum(r["retried"] for r in st["variants"])
    if retried:
        lines.append(f"{retried} trial(s) cut short or failed were queued again and are counted "
                     f"where their copies stand, not as failed")
    lines.append(f"files: {st['workdir']}")
    return "\n".join(lines)
