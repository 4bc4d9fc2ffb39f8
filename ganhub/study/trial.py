"""One study trial on disk: train with checkpoints → score every checkpoint (min over checkpoints,
NaN → 31337) → export the best checkpoint as a module with its scores in the metadata → drop the
other checkpoints.

Everything a trial writes sits in its run folder (``<workdir>/runs/<variant>/<trial>``) and its
module folder (``<workdir>/modules/<variant>/<trial>``). A trial retried after its worker died
gets the same run folder and resumes: training from the last checkpoint, scoring from
``scores.csv``; once ``result.json`` is written the trial is not redone.
"""
import importlib
import json
import time
from pathlib import Path

from ganhub.fileio import write_json_atomic, write_text_atomic
from ganhub.study import runner

RESULT_FILE = "result.json"
JOINT_METRICS = ("fid", "kid")   # computed from the same Inception pool_3 features


def base_config(spec):
    """The spec's preset + config as a ganhub.training Config (imports TensorFlow)."""
    from ganhub.training.config import Config
    if spec["preset"]:
        from ganhub.training.presets import get_preset
        values = {**get_preset(spec["preset"]).to_dict(), **spec["config"]}
    else:
        values = dict(spec["config"])
    return Config.from_dict(values)


def trial_config(base, variant, setting, seed):
    """The trial's Config: the variant, the searched setting and the seed over the base; every
    checkpoint is kept until scored (step 0, each ``checkpoint_every``, the last step)."""
    setting = dict(setting)
    if variant["penalty"] == "none":
        setting["penalty_lambda"] = 0.0
    config = base.replace(**variant, **setting, seed=seed)
    keep = config.steps // config.checkpoint_every + 2
    return config.replace(keep_checkpoints=max(keep, config.keep_checkpoints))


def make_scorer(scoring, metric):
    """evaluate(model_dir, checkpoint) -> float for ``metric`` under the spec's scoring protocol."""
    if scoring.get("scorer"):
        module, _, name = scoring["scorer"].partition(":")
        return getattr(importlib.import_module(module), name)({**scoring, "metric": metric})
    from ganhub.study.evaluators import metrics_evaluator
    extra = {k: scoring[k] for k in ("extractor", "resize") if scoring.get(k) is not None}
    return metrics_evaluator(scoring["reference"], metric=metric, num_samples=scoring["num_samples"],
                             seed=scoring["seed"], weights=scoring["weights"], **extra)


class Scorers:
    """One scorer per metric for the life of a worker: the reference statistics are read (or
    computed) on the first checkpoint and reused for every later one. With ganhub.metrics, the
    ``also`` metrics that share Inception features (FID, KID) are computed from the same generated
    images as the selection metric, so asking for them on the selected checkpoint costs no pass."""

    def __init__(self, scoring):
        self.scoring, self._cache = scoring, {}
        self._joint = None
        if not scoring.get("scorer") and scoring["metric"] in JOINT_METRICS:
            shared = [m for m in scoring.get("also", []) if m in JOINT_METRICS]
            if shared:
                self._joint = (scoring["metric"], shared)

    def __call__(self, metric):
        if metric not in self._cache:
            if self._joint is not None and metric == self._joint[0]:
                from ganhub.study.evaluators import metrics_evaluator
                self._cache[metric] = metrics_evaluator(
                    self.scoring["reference"], metric=metric, also=self._joint[1],
                    num_samples=self.scoring["num_samples"], seed=self.scoring["seed"],
                    weights=self.scoring["weights"],
                    **{k: self.scoring[k] for k in ("extractor", "resize")
                       if self.scoring.get(k) is not None})
            elif self._joint is not None and metric in self._joint[1]:
                self._cache[metric] = self._shared(metric)
            else:
                self._cache[metric] = make_scorer(self.scoring, metric)
        return self._cache[metric]

    def prepare(self):
        """Load the selection metric's extractor and reference (read, or computed and cached) now,
        so a missing extractor or reference fails before any training."""
        getattr(self(self.scoring["metric"]), "prepare", lambda: None)()

    def protocol(self, metric):
        """The protocol ganhub.metrics recorded for ``metric``'s scores in this process (as
        `ganhub evaluate` records it: extractor sha256, reference provenance, …), or None (a
        stand-in scorer; a resumed trial whose scores were all read from scores.csv)."""
        measured = getattr(self(metric), "protocol", None)
        return dict(measured) if measured else None

    def _shared(self, metric):
        def evaluate(model_dir, checkpoint):
            main = self(self._joint[0])
            found = main.results.get((str(model_dir), str(checkpoint)), {})
            if metric in found:
                return found[metric]
            # not scored in this process (a resumed trial read its scores from scores.csv)
            return main.other(metric)(model_dir, checkpoint)
        return evaluate


def _weights_record(config, weights):
    """What load_generator records for these weights (the export's metadata must match)."""
    if weights == "raw":
        return {"kind": "raw", "bn_statistics": {"kind": "training moving averages"}}
    from ganhub.training import ema
    return {"kind": "ema", "decay": config.g_ema_decay, "start": config.g_ema_start,
            "bn_statistics": {"kind": "standing", "batches": ema.STANDING_BATCHES,
                              "batch_size": config.batch_size, "seed": ema.STANDING_SEED}}


def drop_checkpoints(run_dir, keep_step):
    """Delete every checkpoint but ``keep_step``'s: the state file is pointed at it first, so an
    interrupted clean-up never leaves it naming deleted files. Idempotent."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    kept = f"ckpt-{keep_step}"
    if not Path(f"{ckpt_dir / kept}.index").is_file():
        return
    text = f'model_checkpoint_path: "{kept}"\nall_model_checkpoint_paths: "{kept}"\n'
    write_text_atomic(ckpt_dir / "checkpoint", text)
    for f in ckpt_dir.glob("ckpt-*"):
        if f.is_file() and f.name.split(".", 1)[0] != kept:
            f.unlink()


def run(config, run_dir, module_dir, scorers, scoring, name, study_info, train_fn=None,
        progress=False):
    """Train, score, export, clean up; returns the result dict (also written to result.json)."""
    from ganhub.training.config import Config
    from ganhub.training.loop import TrainingDivergedError
    run_dir, module_dir = Path(run_dir), Path(module_dir)
    done = run_dir / RESULT_FILE
    if done.is_file():  # finished before its worker died: only the clean-up may be left
        result = json.loads(done.read_text())
        result["checkpoint_scores"] = {int(k): v for k, v in result["checkpoint_scores"].items()}
        if result["module"] is not None:
            drop_checkpoints(run_dir, result["best_step"])
        return result
    if train_fn is None:
        from ganhub.training.loop import train as train_fn
    run_dir.mkdir(parents=True, exist_ok=True)
    timings, t0 = {}, time.perf_counter()
    diverged = None
    try:
        train_fn(config, run_dir, progress=progress)
    except TrainingDivergedError as exc:  # scored on the checkpoints it kept
        diverged = str(exc)
    timings["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    metric = scoring["metric"]
    from_step = scoring.get("from_step", 0)
    scores = runner.score_checkpoints(run_dir, scorers(metric), from_step=from_step)
    value = min(scores.values()) if scores else runner.NAN_SCORE
    best_step = min(scores, key=lambda s: (scores[s], s)) if scores else None
    paths = dict(runner.checkpoints(run_dir))
    result = {"value": value, "best_step": best_step, "checkpoint_scores": scores,
              "diverged": diverged, "module": None, "also": {}}
    if best_step is not None and value < runner.NAN_SCORE:
        for other in scoring["also"]:  # beside the selection metric, on the selected checkpoint
            v = float(scorers(other)(str(run_dir), paths[best_step]))
            result["also"][other] = v if v == v else None
        timings["score"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        from ganhub.export import export_module
        trained = Config.load(run_dir / "config.json")
        protocol = scorers.protocol(metric) or {
            k: scoring[k] for k in ("num_samples", "reference", "extractor", "resize", "seed",
                                    "scorer") if scoring.get(k) is not None}
        protocol.update(
            selection=(f"{metric} of the best of {len(scores)} checkpoints (the study's min over "
                       f"checkpoints: optimistic for this checkpoint)"
                       + (f"; checkpoints before step {from_step} not scored" if from_step else "")),
            checkpoint_scores={str(k): v for k, v in sorted(scores.items())},
            study=study_info,
            generator={"training_steps": best_step, "training_config": trained.to_dict(),
                       "generator_weights": _weights_record(trained, scoring["weights"])})
        protocol["metrics"] = [metric] + [m for m, v in result["also"].items() if v is not None]
        evaluation = {metric: value, "protocol": protocol}
        evaluation.update({k: v for k, v in result["also"].items() if v is not None})
        export_module(run_dir, module_dir, name=name, overwrite=True, archive=False,
                      checkpoint=paths[best_step], weights=scoring["weights"], scores=evaluation)
        result["module"] = str(module_dir.resolve())
        timings["export"] = time.perf_counter() - t0
    else:
        timings["score"] = time.perf_counter() - t0
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    # the result first, then the clean-up: a retry after a kill in between only finishes the
    # clean-up (retraining from the kept checkpoint would reuse scores of other weights)
    write_json_atomic(done, {**result, "checkpoint_scores": {str(k): v for k, v in scores.items()}})
    if result["module"] is not None:
        drop_checkpoints(run_dir, best_step)
    return result

