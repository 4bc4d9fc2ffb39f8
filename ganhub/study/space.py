"""Search spaces of the study (spec §6).

Table 1a (fixed grid) is NOT in compare_gan; spec §6.3 recalls it as learning rate {2e-4, 1e-4, 1e-3}
× λ {1, 10} × (β1, β2, n_dis) {(0.5, 0.9, 5), (0.5, 0.999, 1), (0.5, 0.999, 5), (0.9, 0.999, 5)}
= 24 settings. It is used here as recalled; verify against the paper before quoting results as the
paper's grid. λ only matters with a penalty: without one the grid has 12 distinct settings.

Table 1b (ranges for random / Bayesian search) is compare_gan's ``params.py``: learning rate
10^[-5, -2] and λ 10^[-1, 2] (L2: 10^[-4, 1]) on a log scale, β1 and β2 uniform in [0, 1], n_dis an
integer in [1, 5]. β values are capped just below 1 (Adam needs β < 1; the Config rejects 1).
"""
import dataclasses
import itertools
import math

import numpy as np

GRID_LEARNING_RATES = (2e-4, 1e-4, 1e-3)
GRID_LAMBDAS = (1.0, 10.0)
GRID_ADAM_NDIS = ((0.5, 0.9, 5), (0.5, 0.999, 1), (0.5, 0.999, 5), (0.9, 0.999, 5))
BETA_MAX = 0.9999


def table_1a(penalty="none"):
    """The fixed grid as a list of Config overrides (dicts), in a stable order, deduplicated."""
    settings, seen = [], set()
    for lr, lam, (b1, b2, n_dis) in itertools.product(GRID_LEARNING_RATES, GRID_LAMBDAS, GRID_ADAM_NDIS):
        setting = {"learning_rate": lr, "beta1": b1, "beta2": b2, "disc_iters": n_dis,
                   "penalty": penalty, "penalty_lambda": lam if penalty != "none" else 0.0}
        key = tuple(sorted(setting.items()))
        if key not in seen:
            seen.add(key)
            settings.append(setting)
    return settings


@dataclasses.dataclass(frozen=True)
class Param:
    """One search dimension: ``low``/``high`` are exponents of 10 when ``log`` (compare_gan's
    convention), ``integer`` for discrete ranges."""
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def sample(self, rng):
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        value = rng.uniform(self.low, self.high)
        return float(10.0 ** value) if self.log else float(value)

    def bounds(self):
        """(low, high) in value space."""
        if self.log:
            return 10.0 ** self.low, 10.0 ** self.high
        return self.low, self.high


def table_1b(penalty="none"):
    """The wide ranges as {config key: Param}."""
    space = {
        "learning_rate": Param(-5, -2, log=True),
        "beta1": Param(0.0, BETA_MAX),
        "beta2": Param(0.0, BETA_MAX),
        "disc_iters": Param(1, 5, integer=True),
    }
    if penalty == "l2":
        space["penalty_lambda"] = Param(-4, 1, log=True)
    elif penalty != "none":
        space["penalty_lambda"] = Param(-1, 2, log=True)
    return space


def sample(space, n, seed, penalty="none"):
    """n random settings from ``space`` (compare_gan v1's GetSample convention: uniform on each
    interval, in exponent space for log-scale params)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        setting = {k: p.sample(rng) for k, p in space.items()}
        setting["penalty"] = penalty
        setting.setdefault("penalty_lambda", 0.0)
        out.append(setting)
    return out


def in_space(setting, space):
    """True when every searched key of ``setting`` lies in its range (tests, sanity checks)."""
    for key, param in space.items():
        low, high = param.bounds()
        value = setting[key]
        if not (low - 1e-12 * abs(low) <= value <= high + 1e-12 * abs(high)):
            return False
        if param.integer and value != math.floor(value):
            return False
    return True
