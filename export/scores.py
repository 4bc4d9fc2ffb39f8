"""Scores measured by ``ganhub evaluate`` → the module metadata's ``scores``.

An evaluation (the dict ``ganhub.evaluate`` returns, or the JSON ``ganhub evaluate --json``
prints) records which weights it scored (``protocol.generator``: module name, training step and
config). Scores are only written into an export of those same weights.
"""
import json
import math
from pathlib import Path

from ganhub.errors import BadInputError


def read_evaluation(evaluation):
    """A dict, or the path of a JSON file written from `ganhub evaluate --json`."""
    if isinstance(evaluation, dict):
        return evaluation
    path = Path(evaluation)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such evaluation file; write one with "
                            f"`ganhub evaluate MODULE ... --json > {path.name}`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path} is not the JSON of `ganhub evaluate --json` ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("protocol"), dict):
        raise BadInputError(f"{path} has no 'protocol'; is it the output of `ganhub evaluate --json`?")
    return data


def check_same_weights(evaluation, metadata):
    """Raise BadInputError unless the evaluation scored a model at metadata's training step/config."""
    scored = evaluation["protocol"].get("generator") or {}
    training = metadata.get("training") or {}
    for key, ours in (("training_steps", training.get("steps")),
                      ("training_config", training.get("config"))):
        if key not in scored:
            raise BadInputError(f"the evaluation does not say which weights it scored (no "
                                f"protocol.generator.{key}); re-run `ganhub evaluate` on the export")
        if scored[key] != ours:
            if key == "training_steps":
                raise BadInputError(f"the evaluation scored a model at step {scored[key]}, but this "
                                    f"export is step {ours}; evaluate this checkpoint's export first")
            raise BadInputError("the evaluation scored a model trained with another config than "
                                "this export's; evaluate this checkpoint's export first")
    # Evaluations from before the generator EMA existed scored raw weights.
    ours = training.get("generator_weights") or {"kind": "raw"}
    theirs = scored.get("generator_weights") or {"kind": "raw"}
    if theirs != ours and not (theirs.get("kind") == ours.get("kind") == "raw"):
        raise BadInputError(f"the evaluation scored the {_kind(theirs)} weights, but this export "
                            f"holds the {_kind(ours)} weights; evaluate this export first")


def _kind(weights):
    return "EMA" if weights.get("kind") == "ema" else "raw"


def scores_from_evaluation(evaluation, metadata=None):
    """{metric: {"value", "std" (when measured), "protocol", "source": "measured"}}.

    With ``metadata`` (the export's), first checks the evaluation scored the same weights."""
    evaluation = read_evaluation(evaluation)
    if metadata is not None:
        check_same_weights(evaluation, metadata)
    protocol = evaluation["protocol"]
    metrics = protocol.get("metrics") if isinstance(protocol, dict) else None
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise BadInputError("the evaluation does not say which metrics it measured "
                            "(protocol.metrics); re-run `ganhub evaluate ... --json`")
    scores = {}
    for key in metrics:
        value = evaluation.get(key)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise BadInputError(f"the evaluation's {key} is {value!r}, not a finite number")
        score = {"value": float(value), "protocol": protocol, "source": "measured"}
        std = evaluation.get(f"{key}_std")
        if isinstance(std, (int, float)) and math.isfinite(std):
            score["std"] = float(std)
        scores[key] = score
    if not scores:
        raise BadInputError(f"the evaluation holds none of the metrics it lists ({', '.join(metrics)})")
    return scores
