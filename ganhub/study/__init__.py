"""The GAN Landscape study: search spaces, trial runner, and analysis.

- ``space``: the fixed grid (Table 1a, as recalled in spec §6.3) and the wide ranges of Table 1b
  (spec §6.1, compare_gan ``params.py``) with compare_gan's sampling convention.
- ``runner``: a trial = a Config + a model dir (+ seed); train it, score every checkpoint with a
  caller-supplied ``evaluate(model_dir, checkpoint) -> float`` and keep the minimum (compare_gan's
  ``value``). No dependency on ganhub.metrics at import time.
- ``search``: grid, random, and Bayesian search (optuna, the ``study`` extra; GP sampler with torch,
  else TPE).
- ``analysis``: FID distributions and computational-budget curves (numbers in numpy; figures with
  matplotlib, the ``study`` extra).
"""
from ganhub.study.runner import Trial, run_trial, run_trials  # noqa: F401
