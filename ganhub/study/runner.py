"""Run one trial: train a Config into a model dir, score every checkpoint, keep the minimum.

compare_gan scored every saved checkpoint (incl. step 0) and reported min FID over checkpoints
(spec §7.1, §10); NaN samples scored 31337. Scores go to ``<model_dir>/scores.csv`` (one row per
checkpoint, so an interrupted evaluation resumes where it stopped) and the run's score to
``<model_dir>/value``, as in compare_gan. The score function is the caller's:
``evaluate(model_dir, checkpoint_path) -> float`` (e.g. FID from ganhub.metrics).
"""
import csv
import dataclasses
import json
import math
from pathlib import Path

from ganhub.training.config import Config

NAN_SCORE = 31337.0   # compare_gan's NAN_DETECTED
SCORES_FILE, VALUE_FILE, TRIAL_FILE = "scores.csv", "value", "trial.json"


@dataclasses.dataclass
class Trial:
    trial_id: str
    config: Config
    model_dir: Path
    setting: dict = dataclasses.field(default_factory=dict)   # the searched values, for analysis

    def to_dict(self):
        return {"trial_id": self.trial_id, "model_dir": str(self.model_dir),
                "setting": self.setting, "config": self.config.to_dict()}


def checkpoints(model_dir):
    """(step, path) of every checkpoint kept in ``model_dir``, oldest first."""
    import tensorflow as tf
    state = tf.train.get_checkpoint_state(str(Path(model_dir) / "checkpoints"))
    if state is None:
        return []
    out = []
    for path in state.all_model_checkpoint_paths:
        out.append((int(path.rsplit("-", 1)[1]), path))
    return sorted(out)


def read_scores(model_dir):
    path = Path(model_dir) / SCORES_FILE
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {int(row["step"]): float(row["score"]) for row in csv.DictReader(f)}


def _append_score(model_dir, step, checkpoint, score):
    path = Path(model_dir) / SCORES_FILE
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["step", "checkpoint", "score"])
        writer.writerow([step, checkpoint, repr(score)])


def score_checkpoints(model_dir, evaluate, from_step=0):
    """Score every not yet scored checkpoint at step ``from_step`` or later (0: all, as
    compare_gan); returns {step: score} for all scored ones."""
    scores = {k: v for k, v in read_scores(model_dir).items() if k >= from_step}
    for step, path in checkpoints(model_dir):
        if step in scores or step < from_step:
            continue
        value = float(evaluate(str(model_dir), path))
        if not math.isfinite(value):
            value = NAN_SCORE
        _append_score(model_dir, step, path, value)
        scores[step] = value
    return scores


def run_trial(trial, evaluate, train_fn=None):
    """Train (or resume) ``trial`` and score it; returns a result dict with ``value`` = min score.
    A diverged run (NaN guard) is still scored on the checkpoints it kept."""
    from ganhub.training.loop import TrainingDivergedError
    if train_fn is None:
        from ganhub.training.loop import train as train_fn
    model_dir = Path(trial.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / TRIAL_FILE).write_text(json.dumps(trial.to_dict(), indent=2) + "\n")
    diverged = None
    try:
        train_fn(trial.config, model_dir, progress=False)
    except TrainingDivergedError as exc:
        diverged = str(exc)
    scores = score_checkpoints(model_dir, evaluate)
    value = min(scores.values()) if scores else NAN_SCORE
    (model_dir / VALUE_FILE).write_text(f"{value!r}\n")
    best_step = min(scores, key=scores.get) if scores else None
    return {"trial_id": trial.trial_id, "value": value, "best_step": best_step,
            "scores": scores, "diverged": diverged, "setting": trial.setting}


def run_trials(trials, evaluate, train_fn=None):
    """Run trials one after another (each resumes if it was interrupted)."""
    return [run_trial(t, evaluate, train_fn) for t in trials]
