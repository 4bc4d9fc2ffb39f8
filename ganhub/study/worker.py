"""`create` a study in its storage and run `worker`s that pull trials until the budget is spent.

A worker runs one trial at a time through ``optuna.Study.optimize(n_trials=1)``, so optuna
heartbeats it: a worker killed mid-trial stops heartbeating and, ``grace_seconds`` later, any
worker fails that trial and queues a copy (same parameters and user attrs, hence the same run
folder: training resumes from the dead worker's last checkpoint).
"""
import os
import socket
import sys
import time
from pathlib import Path

from ganhub.study import schedule
from ganhub.study import spec as specs
from ganhub.study import storage as stores
from ganhub.study.storage import StudyError


def _gp_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def check_engine(spec):
    if spec["search"] == "gp" and not _gp_available():
        raise StudyError("search \"gp\" uses optuna's GPSampler, which needs torch: pip install "
                         "'ganhub[study]' (torch==2.13.0, the CPU build)")


def create(name, spec, url, workdir=None, validate=True):
    """Store ``spec`` (normalized) as study NAME and queue the grid's trials. ``validate`` builds
    every variant's Config first (imports TensorFlow), so a bad key fails before anything is
    written."""
    if not name or "/" in name or name != name.strip():
        raise StudyError(f"study name {name!r}: use a name without '/' or surrounding spaces")
    check_engine(spec)
    variants = specs.variants(spec)
    if validate:
        from ganhub.errors import GanhubError
        from ganhub.study.trial import base_config, trial_config
        base = base_config(spec)
        for variant in variants:
            settings = (specs.search_settings(spec, variant) if spec["search"] == "grid"
                        else [({}, spec["seeds"][0])])
            for setting, seed in settings:
                try:
                    trial_config(base, variant, setting, seed)
                except (TypeError, ValueError) as exc:
                    if isinstance(exc, GanhubError):
                        raise type(exc)(f"variant {specs.variant_label(variant)}: {exc}") from None
                    raise StudyError(f"variant {specs.variant_label(variant)}: {exc}") from None
    storage = stores.open_storage(url)
    optuna = stores._quiet_optuna()
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage,
                                                                      include_best_trial=False)}
    if name in existing:
        raise StudyError(f"study {name!r} already exists in {stores._redact(url)}; pick another "
                         f"name, or run workers for it: ganhub study worker {name}")
    workdir = Path(workdir) if workdir else stores.default_workdir(url, name)
    labels = [specs.variant_label(v) for v in variants]
    # Variant studies first, the study carrying the spec last: a study is complete once `load_spec`
    # finds it (a crash in between leaves only unlisted variant studies).
    for variant, label in zip(variants, labels):
        vname = stores.variant_study_name(name, label)
        if vname in existing:
            optuna.delete_study(study_name=vname, storage=storage)
        study = optuna.create_study(study_name=vname, storage=storage, direction="minimize")
        study.set_user_attr("variant", variant)
        study.set_user_attr("study", name)
        if spec["search"] == "grid":
            for i, (setting, seed) in enumerate(specs.search_settings(spec, variant)):
                study.enqueue_trial({}, user_attrs={"phase": "search", "setting": setting,
                                                    "seed": seed, "key": f"grid:{i}:{seed}"})
    main = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    main.set_user_attr(stores.VARIANTS_ATTR, labels)
    main.set_user_attr(stores.WORKDIR_ATTR, str(Path(workdir).resolve()))
    main.set_user_attr(stores.SPEC_ATTR, spec)
    return {"name": name, "variants": labels, "workdir": Path(workdir).resolve(),
            "trials_per_variant": {label: specs.search_budget(spec, v)
                                   for v, label in zip(variants, labels)}}


def _sampler(spec, label_index):
    import optuna
    # Workers must not share a seed: two identical samplers suggest the same setting twice. A
    # single worker's search is reproducible given the study's trials only for grid mode.
    seed = (spec["sampler_seed"] * 1_000_003 + label_index * 7919 + os.getpid()
            + int(time.time() * 1000)) % (2 ** 31)
    if spec["search"] == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=spec["gp_startup_trials"])
    return optuna.samplers.RandomSampler(seed=seed)


def suggest(trial, penalty):
    """Table 1b for this variant's penalty (compare_gan's ranges, log scale where it sampled
    exponents). Re-queued trials return their fixed values."""
    from ganhub.study import space
    setting = {}
    for key, p in space.table_1b(penalty).items():
        if p.integer:
            setting[key] = trial.suggest_int(key, int(p.low), int(p.high))
        else:
            low, high = p.bounds()
            setting[key] = trial.suggest_float(key, low, high, log=p.log)
    return setting


class Worker:
    """Pulls trials of study NAME until every variant's budget is spent (or ``max_trials``)."""

    def __init__(self, name, url, workdir=None, log=None, train_fn=None, poll_seconds=None):
        self.name, self.url = name, url
        base_storage = stores.open_storage(url)
        self.spec, self.labels, default_workdir = stores.load_spec(base_storage, name)
        check_engine(self.spec)
        self.workdir = Path(workdir).resolve() if workdir else default_workdir
        self.storage = stores.open_storage(url, self.spec)
        self.variants = {specs.variant_label(v): v for v in specs.variants(self.spec)}
        self.studies = stores.variant_studies(
            self.storage, name, self.labels,
            lambda label: _sampler(self.spec, self.labels.index(label)))
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.train_fn = train_fn
        self.poll = poll_seconds or min(5.0, float(self.spec["heartbeat_seconds"]))
        self._scorers = self._base = None
        self.host = socket.gethostname()
        from ganhub import settings
        # the training progress bar (steps with a total) when a person watches this worker
        self.progress = sys.stderr.isatty() and not settings.progress_disabled()

    def _total(self):
        """(finished, planned) trials over all variants; planned counts the seed re-runs still to
        be queued."""
        import optuna
        done = planned = 0
        for label, study in self.studies.items():
            trials = study.get_trials(deepcopy=False)
            done += len([t for t in trials if t.state == optuna.trial.TrialState.COMPLETE
                         and not schedule.ignored(t)])
            planned += specs.search_budget(self.spec, self.variants[label])
            reruns = [t for t in trials if schedule.phase(t) == "seeds" and not schedule.ignored(t)
                      and t.state != optuna.trial.TrialState.FAIL]
            planned += len(reruns) if reruns else self.spec["best_seeds"] - 1
        return done, planned

    def _warn_if_oversubscribed(self):
        """Several workers on one machine's CPU cores slow each other down (TensorFlow spreads
        one trial over every core)."""
        import optuna
        from ganhub.fileio import pid_alive
        here = 0
        for study in self.studies.values():
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
                # a trial left RUNNING by a killed worker (not yet failed as stale) is no worker
                here += host == self.host and pid.isdigit() and pid_alive(int(pid))
        cores = os.cpu_count() or 1
        if here + 1 > max(1, cores // 4):
            self.log(f"study {self.name}: note: {here + 1} workers on this {cores}-core machine; "
                     f"on CPU, max(1, cores // 4) = {max(1, cores // 4)} finish each trial sooner "
                     f"(TensorFlow uses every core for one trial), unless each has a GPU; more "
                     f"can finish more trials per hour when the networks are small")

    # --- one trial ----------------------------------------------------------------------------
    def _prepare(self):
        if self._base is None:
            from ganhub.study.trial import Scorers, base_config
            if self.spec["run_functions_eagerly"]:
                import tensorflow as tf
                tf.config.run_functions_eagerly(True)
            self._base, self._scorers = base_config(self.spec), Scorers(self.spec["scoring"])

    def _objective(self, label):
        import optuna

        from ganhub.study import trial as trials

        variant = self.variants[label]

        def objective(trial):
            self._current = trial.number
            study = self.studies[label]
            skip = schedule.admit(self.spec, variant, trial.number, trial.user_attrs,
                                  study.get_trials(deepcopy=False))
            if skip is not None:
                trial.set_user_attr(*skip)
                raise optuna.TrialPruned(f"{skip[0]}: {skip[1]}")
            attrs = trial.user_attrs
            if "phase" not in attrs:
                trial.set_user_attr("phase", "search")
                trial.set_user_attr("seed", self.spec["seeds"][0])
            seed = trial.user_attrs["seed"]
            setting = (dict(attrs["setting"]) if self.spec["search"] == "grid"
                       else suggest(trial, variant["penalty"]))
            run_rel = attrs.get("run_dir") or f"runs/{label}/t{trial.number:05d}"
            trial.set_user_attr("run_dir", run_rel)   # a re-queued copy inherits it and resumes
            trial.set_user_attr("variant", label)
            trial.set_user_attr("setting", setting)
            trial.set_user_attr("worker", f"{self.host}:{os.getpid()}")
            self._prepare()
            config = trials.trial_config(self._base, variant, setting, seed)
            module_rel = "modules/" + run_rel.split("/", 1)[1]
            info = {"name": self.name, "variant": label, "trial": trial.number,
                    "phase": trial.user_attrs["phase"], "seed": seed}
            result = trials.run(config, self.workdir / run_rel, self.workdir / module_rel,
                                self._scorers, self.spec["scoring"],
                                name=f"{self.name}-{label}-{Path(run_rel).name}",
                                study_info=info, train_fn=self.train_fn,
                                progress=self.progress)
            trial.set_user_attr("checkpoint_scores",
                                {str(k): v for k, v in sorted(result["checkpoint_scores"].items())})
            trial.set_user_attr("best_step", result["best_step"])
            trial.set_user_attr("module", result["module"])
            trial.set_user_attr("timings", result["timings"])
            for metric, v in result["also"].items():
                trial.set_user_attr(metric, v)
            if result["diverged"]:
                trial.set_user_attr("diverged", result["diverged"][:200])
            return result["value"]

        return objective

    def run_one(self, label):
        """Run (or skip) one trial of ``label``; returns the finished FrozenTrial or None."""
        study = self.studies[label]
        self._current = None
        try:
            study.optimize(self._objective(label), n_trials=1, gc_after_trial=False,
                           show_progress_bar=False)
        except RuntimeError as exc:
            if "finished" not in str(exc):
                raise
            # optuna failed it while we ran (no heartbeat for grace_seconds): a copy was queued
            # and owns the result; ours is dropped, the run folder is shared with the copy
            self.log(f"study {self.name}: a trial of {label} was declared dead while it ran "
                     f"(raise grace_seconds if workers stall); its copy owns the result")
            return None
        if self._current is None:
            return None
        return next((t for t in study.get_trials(deepcopy=False) if t.number == self._current), None)

    # --- the loop -----------------------------------------------------------------------------
    def snapshot(self):
        """{label: its trials}, read once per pass of the loop."""
        return {label: study.get_trials(deepcopy=False) for label, study in self.studies.items()}

    def actions(self, trials):
        return {label: schedule.next_action(self.spec, self.variants[label], ts)
                for label, ts in trials.items()}

    def _enqueue(self, label, queued):
        for params, attrs in queued:
            self.studies[label].enqueue_trial(params, user_attrs=attrs)

    def _log_given_up(self, trials):
        """Keys failed more than ``max_retry`` times (see schedule.retries), once per run."""
        for label, ts in trials.items():
            for key, n in schedule.retries(self.spec, ts)[1]:
                self.log(f"study {self.name}: {label} {key} failed {n} times (max_retry "
                         f"{self.spec['max_retry']}); not queued again")

    def check_inputs(self):
        """Before taking a trial: load the training data, the scoring extractor and the reference
        statistics (computed once and cached if need be), so a missing one stops the worker with
        one line instead of failing (and retrying) every trial after its training."""
        from ganhub.training import data
        self._prepare()
        data.load_dataset(self._base.dataset, "train", self._base.data_dir, self._base.resolution)
        self._scorers.prepare()

    def _requeue_interrupted(self, label):
        """A trial stopped by Ctrl-C / SIGTERM failed; queue its copy as for a dead worker."""
        import optuna
        if self._current is None:
            return
        study = self.studies[label]
        frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == self._current),
                      None)
        callback = self.storage.get_heartbeat_stale_trial_callback()
        if (frozen is not None and frozen.state == optuna.trial.TrialState.FAIL
                and "phase" in frozen.user_attrs and callback is not None):
            callback(study, frozen)
            self.log(f"study {self.name}: trial {frozen.number} of {label} was interrupted and "
                     f"queued again (its run folder is kept; the next worker resumes it)")

    def _fail_stale(self):
        import optuna
        for study in self.studies.values():
            optuna.storages.fail_stale_trials(study)

    def run(self, max_trials=None, max_failures=3, leave_when_waiting=False):
        """Returns the number of trials this worker finished. SIGTERM stops it as Ctrl-C does
        (the running trial is queued again at once). ``leave_when_waiting``: when nothing is left
        to start but other workers' trials still run (one may yet die and be queued again), stop
        instead of waiting and set ``self.left_waiting``; for a caller with other studies to
        serve, which comes back later."""
        import signal
        import threading
        if threading.current_thread() is not threading.main_thread():
            return self._run(max_trials, max_failures, leave_when_waiting)

        def terminate(signum, frame):
            raise KeyboardInterrupt("SIGTERM")

        previous = signal.signal(signal.SIGTERM, terminate)
        try:
            return self._run(max_trials, max_failures, leave_when_waiting)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _run(self, max_trials, max_failures, leave_when_waiting=False):
        import optuna
        finished = failures = 0
        self._warn_if_oversubscribed()
        checked = waited = False
        self.left_waiting = False
        while max_trials is None or finished < max_trials:
            trials = self.snapshot()
            actions = self.actions(trials)
            runnable = [label for label, a in actions.items() if a == schedule.RUN]
            if schedule.RETRY in actions.values() or schedule.ENQUEUE_SEEDS in actions.values():
                waited = False
                for label, action in actions.items():
                    if action == schedule.RETRY:
                        self._enqueue(label, schedule.retries(self.spec, trials[label])[0])
                    elif action == schedule.ENQUEUE_SEEDS:
                        self._enqueue(label, schedule.seed_reruns(self.spec, trials[label]))
            elif runnable:
                waited = False
                if not checked:
                    self.check_inputs()
                    checked = True
                # spread workers over variants: the one with the fewest finished trials first
                label = min(runnable, key=lambda lb: (len(schedule.counted(
                    trials[lb], states=(optuna.trial.TrialState.COMPLETE,))),
                    self.labels.index(lb)))
                try:
                    trial = self.run_one(label)
                except KeyboardInterrupt:
                    self._requeue_interrupted(label)
                    raise
                except Exception as exc:
                    failures += 1
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    self.log(f"study {self.name}: a trial of {label} failed: {first}")
                    if failures >= max_failures:
                        raise StudyError(f"{failures} trials failed in a row, the last with: "
                                         f"{first}") from None
                    continue
                if trial is not None and trial.state == optuna.trial.TrialState.COMPLETE:
                    failures = 0
                    finished += 1
                    done, planned = self._total()
                    self.log(f"study {self.name}: {label} trial {trial.number} "
                             f"{self.spec['scoring']['metric']} {trial.value:.4g} "
                             f"(step {trial.user_attrs.get('best_step')}); "
                             f"{done}/{planned} trials done")
            elif schedule.WAIT in actions.values():
                # the last pass failed dead workers' trials and nothing became runnable: only
                # live workers' trials are left
                if leave_when_waiting and waited:
                    self.left_waiting = True
                    break
                if not leave_when_waiting:
                    time.sleep(self.poll)
                self._fail_stale()
                waited = True
            else:
                self._log_given_up(trials)
                break
        return finished
