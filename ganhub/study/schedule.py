"""Which trial a worker runs next: pure functions over a variant's optuna trials.

The budget is the number of finished trials. Workers coordinate only through the storage:
- a fresh (sampled) search trial is admitted only while fewer than ``budget`` live search trials
  (waiting, running or complete; surplus and duplicates excluded) have a lower trial number, so
  concurrent workers never overshoot; an undershoot (a lower trial later turned out surplus) is
  made up on the next loop;
- grid trials and seed re-runs are enqueued; an enqueued trial whose ``key`` a lower-numbered live
  trial already has is a duplicate (two workers enqueued the same re-runs) and is skipped;
- a worker that finds the budget taken by running trials waits: if one of them dies, optuna's
  heartbeat check fails it and queues a copy, which the waiting worker then runs;
- a queued trial that raised (a worker error, not a death) is queued again by ``retries`` until
  its key has failed more than ``max_retry`` times, so no grid point or re-run is silently lost.
"""
from optuna.trial import TrialState

from ganhub.study import spec as specs

LIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
RUN, WAIT, RETRY, ENQUEUE_SEEDS, DONE = "run", "wait", "retry", "enqueue_seeds", "done"


def ignored(trial):
    """Surplus and duplicate trials: pruned at once, never counted."""
    return "surplus" in trial.user_attrs or "duplicate_of" in trial.user_attrs


def phase(trial):
    """"search" or "seeds"; a running trial that has not yet set its phase counts as search."""
    return trial.user_attrs.get("phase", "search")


def counted(trials, which="search", states=LIVE):
    return [t for t in trials if t.state in states and not ignored(t) and phase(t) == which]


def next_action(spec, variant, trials):
    """RETRY (queue the failed grid points and re-runs ``retries`` gives), RUN (a queued or a new
    trial), WAIT (running trials may still fail), ENQUEUE_SEEDS (the search is over: queue the
    best setting's re-runs) or DONE."""
    if retries(spec, trials)[0]:
        return RETRY
    if any(t.state == TrialState.WAITING for t in trials):
        return RUN
    running = any(t.state == TrialState.RUNNING for t in trials)
    if spec["search"] != "grid":
        budget = specs.search_budget(spec, variant)
        if len(counted(trials)) < budget:
            return RUN
        if len(counted(trials, states=(TrialState.COMPLETE,))) < budget:
            return WAIT
    elif running and counted(trials, states=(TrialState.RUNNING,)):
        return WAIT
    if spec["best_seeds"] > 1 and not any(phase(t) == "seeds" for t in trials if not ignored(t)):
        if seed_reruns(spec, trials):
            return ENQUEUE_SEEDS
    return WAIT if running else DONE


def admit(spec, variant, number, attrs, trials):
    """None if trial ``number`` (user attrs ``attrs``) should run, else why it is skipped:
    ("surplus", reason) or ("duplicate_of", lower trial number)."""
    if "phase" not in attrs:  # a fresh trial: the sampler's, not a queued one
        if spec["search"] == "grid":
            return "surplus", "no queued grid trial was left"
        lower = [t for t in counted(trials) if t.number < number]
        if len(lower) >= specs.search_budget(spec, variant):
            return "surplus", "the search budget is taken"
        return None
    key = attrs.get("key")
    if key is not None:
        for t in trials:
            if (t.number < number and t.state in LIVE and not ignored(t)
                    and t.user_attrs.get("key") == key):
                return "duplicate_of", t.number
    return None


def best_trial(trials, which=None):
    """The complete trial with the lowest value (earliest on ties), or None."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and not ignored(t)
            and (which is None or phase(t) == which) and t.value is not None]
    return min(done, key=lambda t: (t.value, t.number)) if done else None


def setting_key(trial):
    import json
    return json.dumps(trial.user_attrs.get("setting") or trial.params, sort_keys=True)


def seed_reruns(spec, trials):
    """[(params, user_attrs)] re-running the best search setting until it has ``best_seeds``
    seeds (seeds it already has, e.g. from a grid over seeds, count)."""
    best = best_trial(trials, "search")
    if best is None:
        return []
    key = setting_key(best)
    have = {t.user_attrs.get("seed") for t in trials
            if t.state in LIVE and not ignored(t) and setting_key(t) == key}
    need, seed = [], 0
    while len(have) + len(need) < spec["best_seeds"]:
        if seed not in have:
            need.append(seed)
        seed += 1
    out = []
    for s in need:
        attrs = {"phase": "seeds", "seed": s, "key": f"seeds:{best.number}:{s}",
                 "rerun_of": best.number}
        if "setting" in best.user_attrs and not best.params:
            attrs["setting"] = best.user_attrs["setting"]
        out.append((dict(best.params), attrs))
    return out


RETRY_ATTRS = ("phase", "setting", "seed", "key", "rerun_of", "run_dir")


def retries(spec, trials):
    """([(params, user_attrs)], [(key, failures)]): the failed queued trials (grid points and seed
    re-runs carry a ``key``) to queue again, with their parameters and run folder (training
    resumes), and the keys given up on after ``max_retry`` retries. A key with a live trial (a
    heartbeat copy, an earlier retry, a finished run) needs nothing."""
    live = {t.user_attrs.get("key") for t in trials if t.state in LIVE and not ignored(t)}
    failed = {}
    for t in trials:
        key = t.user_attrs.get("key")
        if t.state == TrialState.FAIL and key is not None and not ignored(t) and key not in live:
            failed.setdefault(key, []).append(t)
    out, exhausted = [], []
    for key, ts in failed.items():
        if len(ts) > spec["max_retry"]:
            exhausted.append((key, len(ts)))
            continue
        last = max(ts, key=lambda t: t.number)
        out.append((dict(last.params),
                    {k: v for k, v in last.user_attrs.items() if k in RETRY_ATTRS}))
    return out, exhausted
