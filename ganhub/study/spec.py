"""The study spec: what `ganhub study create NAME SPEC.json` reads (checked without TensorFlow).

    {
      "preset": "sndcgan_cifar10_sn",              optional: a training preset to start from
      "config": {"dataset": "cifar10", "steps": 100000, "checkpoint_every": 5000, ...},
      "variants": {"loss": ["ns", "wgan"], "penalty": ["none", "wgan_gp"],
                   "d_norm": ["none", "spectral_norm"]},       losses x penalties x D norms
      "search": "grid" | "gp" | "random",
      "budget": 24,             finished trials per variant (grid: default, and at most, grid x seeds)
      "seeds": [0],             grid: every setting with each seed; gp/random: the search's seed
      "best_seeds": 5,          the best setting of each variant re-run to this many seeds (the
                                paper's 5 by default; 1 = off); the report gives their median
      "grid": [{...}, ...],     optional: settings instead of Table 1a
      "scoring": {"metric": "fid", "also": ["kid"], "reference": "cifar10-test",
                  "num_samples": 10000, "extractor": null, "resize": null, "seed": 0,
                  "weights": "raw", "scorer": null, "from_step": 0},
      "heartbeat_seconds": 60, "grace_seconds": 600, "max_retry": 3, "sampler_seed": 0,
      "gp_startup_trials": 10, "run_functions_eagerly": false
    }

``scoring.scorer`` ("module:function") replaces ganhub.metrics: the function gets the scoring dict
and returns ``evaluate(model_dir, checkpoint) -> float`` (tests use a stand-in; the module must be
importable on every worker). ``also``: metrics measured on the selected checkpoint only (KID beside
FID: unbiased at small sample counts; the default when FID uses fewer than 10,000 samples); with
ganhub.metrics they come from the same generated images as the selection metric, so they cost no
extra pass. ``from_step``: checkpoints before this step are not scored (0, the default, scores every
checkpoint including the untrained step 0, as compare_gan did; 1 skips step 0, which never wins a
trial that trains at all, and saves one full scoring pass per trial: a deviation from compare_gan).
"""
import json
import math
import numbers
from pathlib import Path

from ganhub.errors import ConfigError
from ganhub.metrics.evaluation import METRICS as EVALUATION_METRICS

SEARCHES = ("grid", "gp", "random")
VARIANT_KEYS = ("loss", "penalty", "d_norm")
DEFAULT_VARIANT = {"loss": "ns", "penalty": "none", "d_norm": "spectral_norm"}
SCORING_DEFAULTS = {"metric": "fid", "also": [], "reference": None, "num_samples": 10_000,
                    "extractor": None, "resize": None, "seed": 0, "weights": "raw", "scorer": None,
                    "from_step": 0}
# The selection metric (min over checkpoints: lower is better) and the metrics measured beside it
# on the chosen checkpoint, any of ganhub.metrics' table (precision, recall, density, coverage, ppl...).
METRICS = ("fid", "kid", "is")
ALSO_METRICS = EVALUATION_METRICS
TOP_KEYS = {"preset", "config", "variants", "search", "budget", "seeds", "best_seeds", "grid",
            "scoring", "heartbeat_seconds", "grace_seconds", "max_retry", "sampler_seed",
            "run_functions_eagerly", "description", "gp_startup_trials"}


def _positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _strings(value, what):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{what} must be a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{what} lists a name twice: {value!r}")
    return list(value)


def variant_label(variant):
    """'ns-wgan_gp-spectral_norm': loss, penalty, D normalization (also a safe folder name)."""
    return "-".join(variant[k] for k in VARIANT_KEYS)


def normalize(spec, where="spec"):
    """The spec with defaults filled in; ConfigError naming the first problem. Config keys and
    values are checked later against ganhub.training.Config (which imports TensorFlow)."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must hold a JSON object")
    unknown = sorted(set(spec) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: "
                          f"{', '.join(sorted(TOP_KEYS))}")
    out = {"description": str(spec.get("description", ""))}
    out["preset"] = spec.get("preset")
    if out["preset"] is not None and not isinstance(out["preset"], str):
        raise ConfigError(f"{where}: preset must be a preset name (see `ganhub train --list-presets`)")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: config must be an object of training config keys")
    clash = sorted(set(config) & (set(VARIANT_KEYS) | {"seed"}))
    if clash:
        raise ConfigError(f"{where}: config sets {', '.join(clash)}, which the study varies; "
                          f"list them under variants (loss, penalty, d_norm) or seeds")
    out["config"] = dict(config)
    variants = spec.get("variants", {})
    if not isinstance(variants, dict) or set(variants) - set(VARIANT_KEYS):
        raise ConfigError(f"{where}: variants must be an object with keys among "
                          f"{', '.join(VARIANT_KEYS)}, got {variants!r}")
    out["variants"] = {k: _strings(variants.get(k, DEFAULT_VARIANT[k]), f"{where}: variants.{k}")
                       for k in VARIANT_KEYS}
    out["search"] = spec.get("search", "grid")
    if out["search"] not in SEARCHES:
        raise ConfigError(f"{where}: search must be one of {', '.join(SEARCHES)}, got "
                          f"{out['search']!r}")
    seeds = spec.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"{where}: seeds must be a list of distinct integers >= 0, got {seeds!r}")
    out["seeds"] = seeds
    out["best_seeds"] = _positive_int(spec.get("best_seeds", 5), f"{where}: best_seeds")
    grid = spec.get("grid")
    if grid is not None:
        if out["search"] != "grid":
            raise ConfigError(f"{where}: grid is only used with search \"grid\"")
        if not isinstance(grid, list) or not grid or not all(isinstance(g, dict) for g in grid):
            raise ConfigError(f"{where}: grid must be a non-empty list of setting objects")
        bad = sorted({k for g in grid for k in g} & (set(VARIANT_KEYS) | {"seed"}))
        if bad:
            raise ConfigError(f"{where}: grid settings may not set {', '.join(bad)}")
    out["grid"] = grid
    budget = spec.get("budget")
    if budget is None and out["search"] != "grid":
        raise ConfigError(f"{where}: give a budget (finished trials per variant) for search "
                          f"\"{out['search']}\"")
    out["budget"] = None if budget is None else _positive_int(budget, f"{where}: budget")
    scoring = spec.get("scoring", {})
    if not isinstance(scoring, dict) or set(scoring) - set(SCORING_DEFAULTS):
        raise ConfigError(f"{where}: scoring must be an object with keys among "
                          f"{', '.join(SCORING_DEFAULTS)}")
    also_given = "also" in scoring
    scoring = {**SCORING_DEFAULTS, **scoring}
    if scoring["metric"] not in METRICS:
        raise ConfigError(f"{where}: scoring.metric must be one of {', '.join(METRICS)}")
    scoring["also"] = [m for m in _strings(scoring["also"], f"{where}: scoring.also")
                       if m != scoring["metric"]] if scoring["also"] else []
    if set(scoring["also"]) - set(ALSO_METRICS):
        raise ConfigError(f"{where}: scoring.also must name metrics among {', '.join(ALSO_METRICS)}")
    scoring["num_samples"] = _positive_int(scoring["num_samples"], f"{where}: scoring.num_samples")
    from_step = scoring["from_step"]
    if isinstance(from_step, bool) or not isinstance(from_step, numbers.Integral) or from_step < 0:
        raise ConfigError(f"{where}: scoring.from_step must be an integer >= 0 (0 scores every "
                          f"checkpoint), got {from_step!r}")
    if (not also_given and scoring["metric"] == "fid"
            and scoring["num_samples"] < SCORING_DEFAULTS["num_samples"]):
        # FID's bias grows as the sample count shrinks; KID's estimator is unbiased
        scoring["also"] = ["kid"]
    if scoring["weights"] not in ("raw", "ema"):
        raise ConfigError(f"{where}: scoring.weights must be \"raw\" (the study's) or \"ema\"")
    if scoring["scorer"] is None and scoring["reference"] is None and scoring["metric"] != "is":
        raise ConfigError(f"{where}: scoring.reference is missing: reference statistics or a data "
                          f"name such as \"cifar10-test\"")
    if scoring["scorer"] is not None and ":" not in str(scoring["scorer"]):
        raise ConfigError(f"{where}: scoring.scorer must be \"module:function\"")
    out["scoring"] = scoring
    out["heartbeat_seconds"] = _positive_int(spec.get("heartbeat_seconds", 60),
                                             f"{where}: heartbeat_seconds")
    out["grace_seconds"] = _positive_int(spec.get("grace_seconds", 600), f"{where}: grace_seconds")
    if out["grace_seconds"] < 2 * out["heartbeat_seconds"]:
        raise ConfigError(f"{where}: grace_seconds must be at least twice heartbeat_seconds (a "
                          f"live worker's trial would be declared dead and run twice)")
    out["max_retry"] = _positive_int(spec.get("max_retry", 3), f"{where}: max_retry")
    seed = spec.get("sampler_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{where}: sampler_seed must be an integer")
    out["sampler_seed"] = seed
    # optuna's GPSampler samples at random until this many trials finished (its default: 10)
    out["gp_startup_trials"] = _positive_int(spec.get("gp_startup_trials", 10),
                                             f"{where}: gp_startup_trials")
    out["run_functions_eagerly"] = bool(spec.get("run_functions_eagerly", False))
    return out


def load(path):
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"spec file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"spec file {path} is not readable JSON: {exc}") from None
    return normalize(data, where=str(path))


def variants(spec):
    """Every (loss, penalty, d_norm) combination as dicts, in the spec's order."""
    import itertools
    lists = [spec["variants"][k] for k in VARIANT_KEYS]
    return [dict(zip(VARIANT_KEYS, combo)) for combo in itertools.product(*lists)]


def search_settings(spec, variant):
    """Grid mode: the (setting, seed) pairs of one variant, in order, cut to the budget."""
    from ganhub.study import space
    if spec["grid"] is not None:
        settings = [dict(g) for g in spec["grid"]]
    else:
        settings = space.table_1a(variant["penalty"])
        for s in settings:   # the variant sets the penalty; the grid only its λ
            s.pop("penalty")
    pairs = [(s, seed) for s in settings for seed in spec["seeds"]]
    budget = spec["budget"] or len(pairs)
    return pairs[:budget]


def search_budget(spec, variant):
    """Finished search trials of one variant."""
    if spec["search"] == "grid":
        return len(search_settings(spec, variant))
    return spec["budget"]


def is_finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
