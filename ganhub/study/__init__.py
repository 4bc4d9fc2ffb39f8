"""The GAN Landscape study on optuna: `ganhub study create|worker|status|report|publish`.

- ``spec``: the study spec (variants, search, budget, seeds, scoring), checked without TensorFlow.
- ``space``: the fixed grid (Table 1a, as recalled in spec §6.3) and the ranges of Table 1b.
- ``storage``: optuna RDB storage (SQLite file or PostgreSQL), one optuna study per variant.
- ``schedule``: which trial runs next; the budget, duplicates and waiting on running trials.
- ``worker``: `create` and the worker loop (heartbeats: a dead worker's trial is retried).
- ``trial`` / ``runner``: train → score every checkpoint (min; NaN → 31337) → export the best.
- ``evaluators``: checkpoint scores with ganhub.metrics.
- ``results`` (status), ``report`` and ``analysis`` (figures), ``publish`` (a hub folder).
"""
from ganhub.study.runner import Trial, run_trial, run_trials  # noqa: F401
