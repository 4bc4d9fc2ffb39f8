"""The training config: one flat dataclass, saved as JSON next to the checkpoints."""
import dataclasses
import json
from pathlib import Path

from ganhub.training.architectures import ARCHITECTURES, resolution_error
from ganhub.training.architectures import D_NORMS as ARCH_D_NORMS
from ganhub.training.losses import LOSSES
from ganhub.training.penalties import PENALTIES

from ganhub.errors import ConfigError
from ganhub.fileio import write_text_atomic

# Losses, penalties and architectures are declared once, in their registries (importable without
# TensorFlow); the config's choices derive from them.
CHOICES = {
    "architecture": tuple(ARCHITECTURES),
    "loss": tuple(LOSSES),
    "penalty": tuple(PENALTIES),
    "d_norm": ARCH_D_NORMS,
    "lr_decay": ("none", "linear"),
}

# D normalizations each architecture accepts.
D_NORMS = {name: arch.d_norms for name, arch in ARCHITECTURES.items()}

CONFIG_FILE = "config.json"


@dataclasses.dataclass
class Config:
    architecture: str = "sndcgan"
    loss: str = "ns"
    penalty: str = "none"
    penalty_lambda: float = 0.0
    d_norm: str = "spectral_norm"
    dataset: str = "fashion_mnist"
    data_dir: str = ""            # empty: the data set's default location
    resolution: int = 32
    width: float = 1.0            # channel multiplier; 1.0 is the study's size
    z_dim: int = 128
    batch_size: int = 64
    steps: int = 100_000          # discriminator steps (spec §5.2b)
    disc_iters: int = 1
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 2
    checkpoint_every: int = 5_000
    keep_checkpoints: int = 3
    # XLA: true, false or "auto" (measure both on this machine when training starts and take the
    # faster; training/steps.py choose_jit). Off by default: plain tf.function was the faster on
    # the AVX-512 machines measured at every SNDCGAN width (benchmarks/train_step.py).
    jit_compile: bool = False
    # ganhub's addition, not the study's (training/ema.py): an exponential moving average of G's
    # weights from step g_ema_start on, exported instead of the raw weights. 0 turns it off.
    g_ema_decay: float = 0.0
    g_ema_start: int = 0
    # ganhub's addition too (training/optim.py): "linear" decays the learning rate linearly from D
    # step lr_decay_start to the last step, as SN-GAN did; the study kept it constant ("none").
    lr_decay: str = "none"
    lr_decay_start: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self):
        for key, valid in CHOICES.items():
            if getattr(self, key) not in valid:
                raise ConfigError(f"{key}={getattr(self, key)!r} is not valid; choose one of "
                                  f"{', '.join(valid)}")
        for key in ("resolution", "z_dim", "batch_size", "steps", "disc_iters", "checkpoint_every",
                    "keep_checkpoints"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{key} must be a positive integer, got {value!r}")
        for key in ("seed", "g_ema_start", "lr_decay_start"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{key} must be an integer, got {value!r}")
        if self.g_ema_start < 0:
            raise ConfigError(f"g_ema_start must be >= 0, got {self.g_ema_start!r}")
        if self.lr_decay_start < 0:
            raise ConfigError(f"lr_decay_start must be >= 0, got {self.lr_decay_start!r}")
        if self.lr_decay != "none" and self.lr_decay_start >= self.steps:
            raise ConfigError(f"lr_decay_start={self.lr_decay_start} must be below steps="
                              f"{self.steps} (the decay runs from lr_decay_start to the last step)")
        if not 0.0 <= float(self.g_ema_decay) < 1.0:
            raise ConfigError(f"g_ema_decay must be in [0, 1) (0 turns the generator EMA off), "
                              f"got {self.g_ema_decay!r}")
        for key in ("width", "learning_rate"):
            if not float(getattr(self, key)) > 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)!r}")
        for key in ("beta1", "beta2"):
            if not 0.0 <= float(getattr(self, key)) < 1.0:
                raise ConfigError(f"{key} must be in [0, 1), got {getattr(self, key)!r}")
        if self.d_norm not in D_NORMS[self.architecture]:
            raise ConfigError(f"d_norm={self.d_norm!r} is not supported by architecture="
                              f"{self.architecture!r}; choose one of "
                              f"{', '.join(D_NORMS[self.architecture])}")
        problem = resolution_error(self.architecture, self.resolution)
        if problem:
            raise ConfigError(f"resolution={self.resolution}: {problem}")
        if not (isinstance(self.jit_compile, bool) or self.jit_compile == "auto"):
            raise ConfigError(f'jit_compile must be true, false or "auto", got {self.jit_compile!r}')
        if float(self.penalty_lambda) < 0:
            raise ConfigError(f"penalty_lambda must be >= 0, got {self.penalty_lambda!r}")

    # --- (de)serialization -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; valid keys: "
                              f"{', '.join(fields)}")
        return cls(**{k: _coerce(fields[k], v) for k, v in values.items()})

    def to_dict(self):
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return Config.from_dict({**self.to_dict(), **changes})

    def with_overrides(self, assignments):
        """Apply ``key=value`` strings (the CLI's ``--set``); values are parsed as JSON when they
        parse, else taken as strings."""
        changes = {}
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            try:
                changes[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                changes[key.strip()] = raw
        return Config.from_dict({**self.to_dict(), **changes})

    @classmethod
    def load(cls, path):
        return cls.from_dict(cls.load_dict(path))

    @staticmethod
    def load_dict(path):
        """The raw key → value object of a config file (keys not yet checked)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        return values

    def save(self, path):
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def _coerce(field, value):
    """Accept ints for float fields (JSON writes 1.0 as 1 in some tools) and nothing looser."""
    if field.type in (float, "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


# The generator EMA's keys. They may change when resuming (the EMA only reads G), but not once
# the EMA has started: the average would no longer be the one a run with the final config from
# step 0 would give (training.loop checks that, and refuses to start it at a past step).
EMA_KEYS = ("g_ema_decay", "g_ema_start")

# The learning-rate schedule's keys (with ``steps``, which sets where a linear decay ends). They
# may change when resuming as long as the steps already run keep their learning rates (checked by
# training.loop): a decay can be switched on from the resumed step, but not moved once it has begun.
LR_DECAY_KEYS = ("lr_decay", "lr_decay_start")

# Keys that may change when a run is resumed: a longer run, other checkpoint cadence, XLA on/off,
# the generator EMA and the learning-rate schedule.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "keep_checkpoints", "jit_compile",
                     "data_dir") + EMA_KEYS + LR_DECAY_KEYS
