"""Analysis of a study (spec §10; the paper's exact resampling counts are not in the code).

- ``run_scores``: min score (FID) per run from the runs' ``value`` files.
- ``expected_min``: E[min FID of k trials drawn without replacement] — exact (order statistics), so
  the budget curve's mean needs no resampling.
- ``budget_curve``: that mean for k = 1 … n plus a bootstrap band (quantiles of the min over k trials
  drawn with replacement), the "computational budget" plot.
- ``plot_distributions`` / ``plot_budget_curves``: figures (matplotlib, the ``study`` extra).
"""
import json
from math import comb
from pathlib import Path

import numpy as np

from ganhub.study.runner import TRIAL_FILE, VALUE_FILE


def run_scores(root):
    """[(trial dict, min score)] of every finished run under ``root``."""
    out = []
    for value_file in sorted(Path(root).glob(f"*/{VALUE_FILE}")):
        trial_file = value_file.with_name(TRIAL_FILE)
        trial = json.loads(trial_file.read_text()) if trial_file.exists() else {}
        out.append((trial, float(value_file.read_text())))
    return out


def expected_min(scores, k):
    """E[min of a uniformly random k-subset of ``scores``]: Σ_i x_(i)·C(n−i, k−1)/C(n, k) with x
    sorted ascending (i = 1-based rank)."""
    x = np.sort(np.asarray(scores, np.float64))
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    weights = np.array([comb(n - i, k - 1) for i in range(1, n + 1)], np.float64) / comb(n, k)
    return float(np.dot(weights, x))


def budget_curve(scores, ks=None, n_boot=1000, quantiles=(0.05, 0.95), seed=0):
    """{"k", "mean" (exact, without replacement), "low", "high" (bootstrap quantiles)}."""
    x = np.asarray(scores, np.float64)
    ks = list(ks) if ks is not None else list(range(1, len(x) + 1))
    rng = np.random.default_rng(seed)
    mean, low, high = [], [], []
    for k in ks:
        mean.append(expected_min(x, k))
        boot = x[rng.integers(0, len(x), size=(n_boot, k))].min(axis=1)
        lo, hi = np.quantile(boot, quantiles)
        low.append(float(lo))
        high.append(float(hi))
    return {"k": ks, "mean": mean, "low": low, "high": high}


def top_fraction(scores, fraction=0.05):
    """The best ``fraction`` of the scores (at least one), for "distribution of the top 5%" plots."""
    x = np.sort(np.asarray(scores, np.float64))
    return x[:max(1, int(round(len(x) * fraction)))]


def plot_distributions(groups, path, title="FID of trained models"):
    """Box plots of FID per group ({label: scores}); writes ``path`` (PNG/PDF)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(groups), 4))
    labels = list(groups)
    ax.boxplot([np.asarray(groups[k], float) for k in labels])
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
    ax.set_ylabel("FID (lower is better)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_budget_curves(curves, path, title="Minimum FID vs. budget"):
    """Budget curves ({label: budget_curve(...)}) with their bootstrap bands; writes ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, c in curves.items():
        line, = ax.plot(c["k"], c["mean"], label=label)
        ax.fill_between(c["k"], c["low"], c["high"], alpha=0.2, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("number of hyperparameter settings tried (k)")
    ax.set_ylabel("expected minimum FID")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
