"""`ganhub study report NAME -o DIR`: the paper's analyses of a study (no TensorFlow).

Writes into DIR: ``top5_<metric>.png`` (box plots of the best 5% of trials per variant; at least
``MIN_TOP`` trials, since 5% of a small study is one trial), ``budget_curve.png`` (expected best
score when k of the variant's search trials are drawn at random, k = 1..N, with a 90% bootstrap
band), ``seed_spread.png`` (the best setting of each variant over its seeds, median marked),
``top5_<other>.png`` for metrics measured beside the selection metric (KID: unbiased at small sample
counts), ``trials.csv`` (every counted trial), ``best.csv`` and ``report.md``. Every file is written
to a temp name and renamed.
"""
import csv
import io
import json
import statistics
from pathlib import Path

from ganhub.fileio import atomic_path, write_text_atomic
from ganhub.study import analysis
from ganhub.study import spec as specs
from ganhub.study.results import best, collect

MIN_TOP = 5


def _search_values(records):
    return [r.value for r in records if r.state == "COMPLETE" and r.phase == "search"
            and r.value is not None]


def seed_runs(records):
    """(best search record, [values of its setting over every seed]) of a variant."""
    top = best(records, "search")
    if top is None:
        return None, []
    key = json.dumps(top.setting, sort_keys=True)
    same = [r for r in records if r.state == "COMPLETE" and r.value is not None
            and json.dumps(r.setting, sort_keys=True) == key]
    return top, [r.value for r in sorted(same, key=lambda r: r.number)]


def _csv(rows, header):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _plot(fn, path, *args, **kwargs):
    """fn(*args, tmp_path, **kwargs) into a temp file (same suffix) renamed to ``path``."""
    with atomic_path(path) as tmp:
        fn(*args, tmp, **kwargs)
    return Path(path)


def _seed_plot(spread, metric, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    labels = [k for k, v in spread.items() if v]
    fig, ax = plt.subplots(figsize=(max(5.5, 1.4 + 1.1 * len(labels)), 4.5))
    for i, label in enumerate(labels, 1):
        v = np.asarray(spread[label], float)
        ax.plot(np.full(len(v), i) + np.linspace(-0.1, 0.1, len(v)), v, "o", alpha=0.7)
        ax.plot([i - 0.25, i + 0.25], [np.median(v)] * 2, "k-", lw=2)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
    ax.set_ylabel(f"{metric.upper()} (lower is better)")
    ax.set_title("Best setting per variant over seeds (bar: median)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def _setting_text(setting_json, variant=None):
    """'learning_rate=0.0003962, beta1=0.8386, disc_iters=4' (4 significant digits); λ only for
    a variant with a penalty (the grid sets it for every variant, where it is unused)."""
    setting = json.loads(setting_json)
    if variant is not None and variant.get("penalty") == "none":
        setting.pop("penalty_lambda", None)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in setting.items()) or "-"


def _relative(path, workdir):
    """A module path as the report shows it: relative to the study's folder when inside it."""
    if not path:
        return "-"
    try:
        return str(Path(path).relative_to(workdir))
    except ValueError:
        return path


def write_report(url, name, out_dir, n_boot=1000, workdir_shown=None):
    """Writes the report; returns {"files": [...], "best": [rows]}. ``workdir_shown``: how the
    report names the study's folder (default: its path on this machine)."""
    spec, labels, workdir, records = collect(url, name)

    def shown(module):
        if not module or workdir_shown is None:
            return module or ""
        relative = _relative(module, workdir)
        return relative if relative == module else f"{workdir_shown}/{relative}"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric, also = spec["scoring"]["metric"], spec["scoring"]["also"]
    M = metric.upper()
    files = []

    trial_rows = []
    for label in labels:
        for r in sorted(records[label], key=lambda r: r.number):
            trial_rows.append([label, r.number, r.state, r.phase, r.seed,
                               json.dumps(r.setting, sort_keys=True),
                               "" if r.value is None else repr(r.value),
                               "" if r.best_step is None else r.best_step,
                               *["" if r.also.get(m) is None else repr(r.also[m]) for m in also],
                               shown(r.module), "" if r.seconds is None else round(r.seconds, 1)])
    path = out / "trials.csv"
    write_text_atomic(path, _csv(trial_rows, ["variant", "trial", "state", "phase", "seed",
                                              "setting", metric, "best_step", *also, "module",
                                              "seconds"]))
    files.append(path)

    values = {label: _search_values(records[label]) for label in labels}
    values = {k: v for k, v in values.items() if v}
    best_rows, spread, summary = [], {}, {}   # a study with no finished trial yet: empty
    for label in labels:
        b = best(records[label])
        top, seeds = seed_runs(records[label])
        spread[label] = seeds
        median = statistics.median(seeds) if seeds else None
        if b is not None:
            best_rows.append([label, b.number, repr(b.value),
                              *["" if b.also.get(m) is None else repr(b.also[m]) for m in also],
                              b.best_step, b.seed, json.dumps(b.setting, sort_keys=True),
                              "" if median is None else repr(median), len(seeds), shown(b.module)])
    path = out / "best.csv"
    write_text_atomic(path, _csv(best_rows, ["variant", "trial", metric, *also, "best_step",
                                             "seed", "setting", f"median_{metric}_over_seeds",
                                             "seeds", "module"]))
    files.append(path)

    if values:
        top = {k: analysis.top_fraction(v, 0.05, at_least=MIN_TOP) for k, v in values.items()}
        files.append(_plot(analysis.plot_distributions, out / f"top5_{metric}.png", top,
                           title=f"{M} of the top 5% of trials (at least {MIN_TOP}) per variant",
                           ylabel=f"{M} (lower is better)"))
        curves = {k: analysis.budget_curve(v, n_boot=n_boot) for k, v in values.items()}
        files.append(_plot(analysis.plot_budget_curves, out / "budget_curve.png", curves,
                           title=f"Expected best {M} vs. number of trials",
                           ylabel=f"expected minimum {M}"))
        for m in also:
            extra = {}
            for label in values:
                done = sorted((r for r in records[label] if r.state == "COMPLETE"
                               and r.phase == "search" and r.also.get(m) is not None),
                              key=lambda r: (r.value, r.number))
                n = min(len(done), max(MIN_TOP, round(0.05 * len(done))))
                if n:
                    extra[label] = [r.also[m] for r in done[:n]]
            if extra:
                files.append(_plot(analysis.plot_distributions, out / f"top5_{m}.png", extra,
                                   title=f"{m.upper()} of the same top trials (selected by {M})",
                                   ylabel=f"{m.upper()} (lower is better)"))
        if any(spread.values()):
            files.append(_plot(_seed_plot, out / "seed_spread.png", spread, metric))
        summary = {k: {"trials": len(v), "best": min(v), "median": statistics.median(v),
                       "budget_curve": curves[k]} for k, v in values.items()}

    lines = [f"# Study {name}", "",
             f"{spec['search']} search over {len(labels)} variant(s); {M} "
             f"({spec['scoring']['num_samples']} samples, reference "
             f"{spec['scoring']['reference'] or spec['scoring']['scorer']}), min over checkpoints "
             f"(a diverged checkpoint, FID NaN, counts as 31337 as in compare_gan). Modules and "
             f"trial folders are under {workdir_shown or workdir}.", "",
             "## Best model per variant", "",
             f"| variant | trial | {M} | " + "".join(f"{m.upper()} | " for m in also)
             + f"median {M} over seeds (n) | setting | module |",
             "|---|---|---|" + "---|" * len(also) + "---|---|---|"]
    by_label = {specs.variant_label(v): v for v in specs.variants(spec)}
    for row in best_rows:
        label, number, value = row[0], row[1], float(row[2])
        extras = row[3:3 + len(also)]
        median, n, module = row[-3], row[-2], row[-1]
        med = f"{float(median):.4g} ({n})" if median else "-"
        lines.append(f"| {label} | {number} | {value:.4g} | "
                     + "".join(f"{float(e):.4g} | " if e else "- | " for e in extras)
                     + f"{med} | {_setting_text(row[-4], by_label.get(label))} | "
                     f"{_relative(module, workdir_shown or workdir)} |")
    lines += ["", "## Search trials per variant", "", f"| variant | trials | best {M} | median {M} |",
              "|---|---|---|---|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['trials']} | {s['best']:.4g} | {s['median']:.4g} |")
    lines += ["", "## Figures", ""]
    for f in files:
        if f.suffix == ".png":
            lines.append(f"![{f.stem}]({f.name})")
    lines += ["", "Data: `trials.csv` (every counted trial), `best.csv`, `summary.json`.", ""]
    path = out / "summary.json"
    write_text_atomic(path, json.dumps({"name": name, "metric": metric, "variants": summary},
                                       indent=2) + "\n")
    files.append(path)
    path = out / "report.md"
    write_text_atomic(path, "\n".join(lines))
    files.append(path)
    return {"files": files, "best": best_rows}
