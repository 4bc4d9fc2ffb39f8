"""``python -m ganhub.study``: run a search, or analyze finished runs.

    python -m ganhub.study grid   --preset sndcgan_cifar10_sn --penalty wgan_gp --seeds 0 1 \\
                                    --root runs/study --reference cifar10-test [--set key=value ...]
    python -m ganhub.study random --config base.json --n 50 --root runs/study ...
    python -m ganhub.study bayes  --preset ... --n 100 --sampler auto --root runs/study ...
    python -m ganhub.study analyze runs/study_a runs/study_b --out runs/figures

Scores: min FID over checkpoints via ganhub.metrics (``--reference``: statistics or a data name;
``--num-samples`` 10,000 by default, as the study), or any ``--evaluate module:function`` taking
(model_dir, checkpoint) and returning a float.
"""
import argparse
import importlib
import json
import sys
from pathlib import Path


def _base_config(args):
    from ganhub.training.config import Config
    if args.preset:
        from ganhub.training.presets import get_preset
        config = get_preset(args.preset)
    else:
        config = Config.load(args.config) if args.config else Config()
    return config.with_overrides(args.set)


def _evaluator(args):
    if args.evaluate:
        module, _, name = args.evaluate.partition(":")
        return getattr(importlib.import_module(module), name)
    if not args.reference:
        raise SystemExit("give --reference (FID statistics or a data name) or --evaluate module:function")
    from ganhub.study.evaluators import metrics_evaluator
    return metrics_evaluator(args.reference, num_samples=args.num_samples)


def _search(args):
    from ganhub.study import runner, search
    base, evaluate = _base_config(args), _evaluator(args)
    if args.command == "bayes":
        results, sampler = search.bayesian_search(base, args.root, args.n, evaluate, args.penalty,
                                                  seed=args.seeds[0], sampler=args.sampler)
        print(f"sampler: {sampler}")
    else:
        trials = (search.grid_trials(base, args.root, args.penalty, args.seeds)
                  if args.command == "grid"
                  else search.random_trials(base, args.root, args.n, args.penalty, args.seeds))
        results = runner.run_trials(trials, evaluate)
    for r in sorted(results, key=lambda r: r["value"]):
        print(f"{r['trial_id']:<24} {r['value']:9.3f}  step {r['best_step']}  {json.dumps(r['setting'])}")
    return 0


def _analyze(args):
    from ganhub.study import analysis
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = {Path(root).name: [v for _, v in analysis.run_scores(root)] for root in args.roots}
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        raise SystemExit("no finished runs (no */value files) under the given roots")
    curves = {k: analysis.budget_curve(v) for k, v in groups.items()}
    analysis.plot_distributions(groups, out / "fid_distributions.png")
    analysis.plot_budget_curves(curves, out / "budget_curves.png")
    summary = {k: {"runs": len(v), "best": min(v), "median": float(sorted(v)[len(v) // 2]),
                   "budget_curve": curves[k]} for k, v in groups.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for k, s in summary.items():
        print(f"{k:<24} runs {s['runs']:4d}  best {s['best']:8.3f}  median {s['median']:8.3f}")
    print(f"figures in {out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ganhub.study", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("grid", "random", "bayes"):
        p = sub.add_parser(name)
        p.add_argument("--preset")
        p.add_argument("--config")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("--penalty", default="none", choices=("none", "wgan_gp", "dragan", "l2"))
        p.add_argument("--seeds", type=int, nargs="+", default=[0])
        p.add_argument("--root", required=True)
        p.add_argument("--reference")
        p.add_argument("--num-samples", type=int, default=10_000)
        p.add_argument("--evaluate", metavar="MODULE:FUNCTION")
        if name != "grid":
            p.add_argument("--n", type=int, required=True)
        if name == "bayes":
            p.add_argument("--sampler", default="auto", choices=("auto", "gp", "tpe"))
        p.set_defaults(func=_search)
    p = sub.add_parser("analyze")
    p.add_argument("roots", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_analyze)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
