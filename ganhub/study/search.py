"""Grid, random and Bayesian search over a base Config (spec §6).

Trials are plain (Config, model dir) pairs run by ``ganhub.study.runner``; seeds are repeated per
setting as compare_gan did (seed = 0 … num_seeds-1 unless given). The paper's GP bandit ran on
Google's internal Vizier; ``bayesian_search`` uses optuna instead: its ``GPSampler`` when torch is
installed (CPU build: ``pip install torch==2.13.0``, see the ``study`` extra), otherwise optuna's
TPE sampler (a different algorithm; the result records which sampler ran).
"""
import logging
from pathlib import Path

from ganhub.study import space as spaces
from ganhub.study.runner import Trial, run_trial

log = logging.getLogger(__name__)


def _trial(base, setting, seed, root, trial_id):
    config = base.replace(**setting, seed=seed)
    # every checkpoint is scored (min over checkpoints), so none may be deleted during training:
    # step 0, each multiple of checkpoint_every, and the final step
    keep = config.steps // config.checkpoint_every + 2
    if config.keep_checkpoints < keep:
        config = config.replace(keep_checkpoints=keep)
    return Trial(trial_id, config, Path(root) / trial_id, {**setting, "seed": seed})


def grid_trials(base, root, penalty="none", seeds=(0,)):
    """Table 1a × seeds as Trials under ``root``."""
    return [_trial(base, s, seed, root, f"grid{i:03d}_seed{seed}")
            for i, s in enumerate(spaces.table_1a(penalty)) for seed in seeds]


def random_trials(base, root, n, penalty="none", seeds=(0,), sample_seed=0):
    """n settings sampled from Table 1b × seeds as Trials under ``root``."""
    settings = spaces.sample(spaces.table_1b(penalty), n, sample_seed, penalty)
    return [_trial(base, s, seed, root, f"random{i:03d}_seed{seed}")
            for i, s in enumerate(settings) for seed in seeds]


def make_sampler(kind="auto", seed=0):
    """(optuna sampler, name): "gp" needs torch; "auto" takes GP when torch imports, else TPE."""
    import optuna
    if kind in ("auto", "gp"):
        try:
            import torch  # noqa: F401
            return optuna.samplers.GPSampler(seed=seed), "gp"
        except ImportError:
            if kind == "gp":
                raise ImportError("optuna's GPSampler needs torch: pip install torch==2.13.0 "
                                  "(the CPU build)") from None
            log.warning("torch is not installed: using optuna's TPE sampler instead of GP")
    return optuna.samplers.TPESampler(seed=seed), "tpe"


def bayesian_search(base, root, n_trials, evaluate, penalty="none", seed=0, sampler="auto",
                    train_fn=None):
    """Minimize the run score (min FID over checkpoints) over Table 1b with optuna. Returns
    (results, sampler name); each result as from ``run_trial``."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler_obj, name = make_sampler(sampler, seed)
    study = optuna.create_study(direction="minimize", sampler=sampler_obj)
    table = spaces.table_1b(penalty)
    results = []

    def objective(trial):
        setting = {"penalty": penalty, "penalty_lambda": 0.0}
        for key, p in table.items():
            if p.integer:
                setting[key] = trial.suggest_int(key, int(p.low), int(p.high))
            else:
                low, high = p.bounds()
                setting[key] = trial.suggest_float(key, low, high, log=p.log)
        t = _trial(base, setting, seed, root, f"{name}{trial.number:03d}_seed{seed}")
        result = run_trial(t, evaluate, train_fn)
        results.append(result)
        return result["value"]

    study.optimize(objective, n_trials=n_trials)
    return results, name
