"""Analysis of a study (spec §10; the paper's exact resampling counts are not in the code).

- ``run_scores``: min score (FID) per run from the runs' ``value`` files.
- ``expected_min``: E[min FID of k trials drawn without replacement] — exact (order statistics), so
  the budget curve's mean needs no resampling.
- ``budget_curve``: that mean for k = 1 … n plus a bootstrap band (quantiles of the min over k trials
  drawn with replacement), the "computational budget" plot.
- ``plot_distributions`` / ``plot_budget_curves``: figures (matplotlib, the ``study`` extra).
"""
import json
import math
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
    # in log space: C(n, k) overflows a float beyond n ≈ 1,000
    log_total = _log_comb(n, k)
    weights = np.array([math.exp(_log_comb(n - i, k - 1) - log_total) if n - i >= k - 1 else 0.0
                        for i in range(1, n + 1)])
    return float(np.dot(weights, x))


def _log_comb(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def budget_curve(scores, ks=None, n_boot=1000, quantiles=(0.05, 0.95), seed=0):
    """{"k", "mean" (exact, without replacement), "low", "high" (bootstrap quantiles)}.

    Each bootstrap replicate is one sequence of draws with replacement and its running minimum, so
    every band edge is non-increasing in k, as the mean is."""
    x = np.asarray(scores, np.float64)
    ks = list(ks) if ks is not None else list(range(1, len(x) + 1))
    rng = np.random.default_rng(seed)
    running_min = np.minimum.accumulate(x[rng.integers(0, len(x), size=(n_boot, max(ks)))], axis=1)
    mean, low, high = [], [], []
    for k in ks:
        mean.append(expected_min(x, k))
        lo, hi = np.quantile(running_min[:, k - 1], quantiles)
        low.append(float(lo))
        high.append(float(hi))
    return {"k": ks, "mean": mean, "low": low, "high": high}


def top_fraction(scores, fraction=0.05, at_least=1):
    """The best ``fraction`` of the scores (at least ``at_least``), for "distribution of the top
    5%" plots."""
    x = np.sort(np.asarray(scores, np.float64))
    return x[:min(len(x), max(at_least, int(round(len(x) * fraction))))]


def plot_distributions(groups, path, title="FID of trained models", ylabel="FID (lower is better)"):
    """Box plots of FID per group ({label: scores}); writes ``path`` (PNG/PDF)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(5.5, 1.2 + 1.1 * len(groups)), 4.5))
    labels = list(groups)
    values = [np.asarray(groups[k], float) for k in labels]
    ax.boxplot(values, showfliers=False)   # every point is drawn below
    for i, v in enumerate(values, 1):   # the points themselves: top-5% groups are small
        ax.plot(np.full(len(v), i) + np.linspace(-0.08, 0.08, len(v)), v, "o", ms=3, alpha=0.6,
                color="tab:blue")
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_budget_curves(curves, path, title="Minimum FID vs. budget", ylabel="expected minimum FID"):
    """Budget curves ({label: budget_curve(...)}) with their bootstrap bands; writes ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    colors = plt.get_cmap("tab20").colors   # a study has up to ~24 variants: 10 colours repeat
    most = 1
    for i, (label, c) in enumerate(curves.items()):
        # markers: a variant with one finished trial is a single point, invisible as a line
        line, = ax.plot(c["k"], c["mean"], marker="o", ms=3, label=label,
                        color=colors[i % len(colors)], linestyle="-" if i < len(colors) else "--")
        ax.fill_between(c["k"], c["low"], c["high"], alpha=0.15, color=line.get_color())
        most = max(most, int(max(c["k"])))
    if most > 10:   # the paper's budgets (up to 100 settings) on a log axis, a short grid on a linear one
        ax.set_xscale("log")
    else:
        ax.set_xticks(range(1, most + 1))
        ax.set_xlim(0.8, most + 0.2)
    ax.set_xlabel("number of hyperparameter settings tried (k)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
