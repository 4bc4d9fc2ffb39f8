"""A stand-in study scorer (``scoring.scorer = "_study_standin:scorer"``): a deterministic number
from the checkpoint's config and step, so search behaviour is checkable without Inception.

score = 20 + 10·(log10(lr) + 3.5)² + 5·[step is not the last] (+ 100 for a "worse" variant), so
the best checkpoint is the last one and the best setting is the one with lr closest to 10^-3.5.
With ``scoring.slow_file``, each score waits while that file exists (the kill test holds a trial
in the middle of its scoring)."""
import json
import math
import os
import time
from pathlib import Path


def standin_value(config, step):
    value = 20.0 + 10.0 * (math.log10(config["learning_rate"]) + 3.5) ** 2
    if step != config["steps"]:
        value += 5.0
    if config["loss"] == "wgan":
        value += 100.0
    return value


def scorer(scoring):
    def evaluate(model_dir, checkpoint):
        hold = os.environ.get("GANHUB_TEST_HOLD")
        if hold:
            Path(hold).with_suffix(f".{os.getpid()}").write_text(str(model_dir))
            while Path(hold).exists():
                time.sleep(0.1)
        config = json.loads((Path(model_dir) / "config.json").read_text())
        return standin_value(config, int(checkpoint.rsplit("-", 1)[1]))
    return evaluate
