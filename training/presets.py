"""The study's best-model settings (spec §6.2, ``best_models_*`` in compare_gan v2) as presets.

Naming rule: ``<architecture>_<dataset>[_<loss>]_<d_norm>[_<penalty>][_<k>]``
- architecture: sndcgan, resnet19, resnet_cifar; dataset: cifar10, celebahq128, lsun_bedroom;
- loss only when it is not the non-saturating default: ``ls``;
- d_norm: ``none``, ``sn`` (spectral), ``ln`` (layer); penalty when there is one: ``gp``, ``dragan``;
- ``_2`` marks the second line of the same kind in the paper's table (its FID is the higher one);
  the unsuffixed name is always the better line.
ResNet lines that were published as TF-Hub modules also have the alias ``compare_gan_model_<k>``
(``https://tfhub.dev/google/compare_gan/model_<k>_...``).

Every study preset trains with batch 64, z_dim 128, Adam, and a checkpoint every 20,000 steps with
all checkpoints kept (the study scored the minimum FID over checkpoints). ``data_dir`` is not set:
pass ``--set data_dir=...``. ``PRESET_INFO`` gives the source line and the FID the study reported.

Presets on the data sets that load offline (not in the study's best-model table, which covers
CIFAR-10, CelebA-HQ and LSUN-Bedroom only), in ``OFFLINE_PRESETS``:
- ``default_fashion_mnist``: ganhub's shipped default model, exactly scripts/default_model.json
  (SNDCGAN line 7's settings at width 1/4, with a generator EMA and a linear learning-rate decay);
- ``sndcgan_fashion_mnist_sn`` and ``sndcgan_mnist_sn``: SNDCGAN line 7 (the study's best SNDCGAN
  on CIFAR-10) unchanged but for the data set, 28×28 zero-padded to 32×32 as ganhub's loaders do
  by default; ``..._28``: the same at the native 28×28 the study trained (Fashion-)MNIST at.
``describe_presets()`` gives every preset's data set and what it reproduces (`ganhub train
--list-presets`).
"""
from ganhub.training.config import Config
from ganhub.training.data import DATASETS

from ganhub.errors import ConfigError

# jit_compile "auto": XLA on or off, whichever ran faster on the training machine when the run
# started (training.steps.choose_jit; the ranking depends on the CPU).
_STUDY = {"batch_size": 64, "z_dim": 128, "checkpoint_every": 20_000, "penalty": "none",
          "penalty_lambda": 0.0, "loss": "ns", "disc_iters": 1, "jit_compile": "auto"}


def _line(arch, dataset, steps, d_norm, lr, b1, b2, seed, *, penalty="none", lam=0.0, loss="ns",
          disc_iters=1):
    return {**_STUDY, "architecture": arch, "dataset": dataset, "resolution": DATASETS[dataset].study_resolution,
            "steps": steps, "d_norm": d_norm, "learning_rate": lr, "beta1": b1, "beta2": b2,
            "seed": seed, "penalty": penalty, "penalty_lambda": lam, "loss": loss,
            "disc_iters": disc_iters, "keep_checkpoints": steps // 20_000 + 1}


# name: (overrides, source line, reported FID, TF-Hub model number or None)
_TABLE = {
    # SNDCGAN (best_models_sndcgan)
    "sndcgan_cifar10_none": (_line("sndcgan", "cifar10", 200_000, "none", 1e-4, 0.5, 0.999, 2), "SNDCGAN 1", 28.66, None),
    "sndcgan_cifar10_none_2": (_line("sndcgan", "cifar10", 200_000, "none", 2e-4, 0.5, 0.999, 2), "SNDCGAN 2", 33.23, None),
    "sndcgan_celebahq128_none": (_line("sndcgan", "celebahq128", 100_000, "none", 4.12e-4, 0.246, 0.341, 23), "SNDCGAN 3", 61.15, None),
    "sndcgan_celebahq128_none_2": (_line("sndcgan", "celebahq128", 100_000, "none", 2.54e-4, 0.222, 0.599, 23), "SNDCGAN 4", 62.96, None),
    "sndcgan_lsun_bedroom_none": (_line("sndcgan", "lsun_bedroom", 100_000, "none", 2e-4, 0.5, 0.999, 23), "SNDCGAN 5", 163.51, None),
    "sndcgan_lsun_bedroom_none_2": (_line("sndcgan", "lsun_bedroom", 100_000, "none", 6.2e-5, 0.608, 0.620, 23), "SNDCGAN 6", 167.15, None),
    "sndcgan_cifar10_sn": (_line("sndcgan", "cifar10", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2), "SNDCGAN 7 (=13)", 25.27, None),
    "sndcgan_cifar10_sn_2": (_line("sndcgan", "cifar10", 200_000, "spectral_norm", 1e-4, 0.5, 0.999, 2), "SNDCGAN 8", 26.16, None),
    "sndcgan_celebahq128_sn": (_line("sndcgan", "celebahq128", 100_000, "spectral_norm", 2e-4, 0.5, 0.9, 2), "SNDCGAN 9", 28.21, None),
    "sndcgan_celebahq128_sn_2": (_line("sndcgan", "celebahq128", 100_000, "spectral_norm", 1.54e-4, 0.246, 0.734, 2), "SNDCGAN 10", 29.92, None),
    "sndcgan_lsun_bedroom_sn": (_line("sndcgan", "lsun_bedroom", 100_000, "spectral_norm", 2.64e-4, 0.011, 0.966, 2), "SNDCGAN 11 (=17)", 53.59, None),
    "sndcgan_lsun_bedroom_sn_2": (_line("sndcgan", "lsun_bedroom", 100_000, "spectral_norm", 1.92e-3, 0.097, 0.938, 2), "SNDCGAN 12 (=18)", 56.71, None),
    "sndcgan_cifar10_sn_gp": (_line("sndcgan", "cifar10", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, penalty="wgan_gp", lam=10.0), "SNDCGAN 14", 26.00, None),
    "sndcgan_celebahq128_sn_gp": (_line("sndcgan", "celebahq128", 100_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, penalty="wgan_gp", lam=1.0), "SNDCGAN 15", 24.67, None),
    "sndcgan_celebahq128_sn_gp_2": (_line("sndcgan", "celebahq128", 100_000, "spectral_norm", 2e-4, 0.5, 0.9, 2, penalty="wgan_gp", lam=1.0), "SNDCGAN 16", 25.22, None),
    # ResNet19 (best_models_resnet19); lr/betas with the digits of the TF-Hub metadata
    "resnet19_celebahq128_none": (_line("resnet19", "celebahq128", 200_000, "none", 3.381e-5, 0.3753, 0.9982, 2), "ResNet19 1", 34.29, 1),
    "resnet19_celebahq128_none_2": (_line("resnet19", "celebahq128", 200_000, "none", 1e-4, 0.5, 0.999, 2), "ResNet19 2", 35.85, 2),
    "resnet19_lsun_bedroom_ls_none": (_line("resnet19", "lsun_bedroom", 200_000, "none", 3.22e-5, 0.585, 0.9904, 2, loss="ls"), "ResNet19 3", 102.74, 3),
    "resnet19_lsun_bedroom_none": (_line("resnet19", "lsun_bedroom", 200_000, "none", 1.927e-5, 0.1947, 0.8819, 2), "ResNet19 4", 112.92, 4),
    "resnet19_celebahq128_ln": (_line("resnet19", "celebahq128", 200_000, "layer_norm", 1e-4, 0.5, 0.999, 2), "ResNet19 5", 30.02, 5),
    # line 6 differs from line 5 only in an unused lambda: the same effective config, another trial
    "resnet19_celebahq128_ln_2": (_line("resnet19", "celebahq128", 200_000, "layer_norm", 1e-4, 0.5, 0.999, 2), "ResNet19 6", 32.05, 6),
    "resnet19_lsun_bedroom_ls_sn": (_line("resnet19", "lsun_bedroom", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, loss="ls"), "ResNet19 7 (=12)", 41.60, 7),
    "resnet19_lsun_bedroom_sn": (_line("resnet19", "lsun_bedroom", 200_000, "spectral_norm", 2.851e-4, 0.1019, 0.998, 2), "ResNet19 8", 42.51, 8),
    "resnet19_celebahq128_sn_gp": (_line("resnet19", "celebahq128", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, penalty="wgan_gp", lam=1.0), "ResNet19 9", 29.04, None),
    "resnet19_celebahq128_ln_dragan": (_line("resnet19", "celebahq128", 200_000, "layer_norm", 1e-4, 0.5, 0.9, 2, penalty="dragan", lam=1.0, disc_iters=5), "ResNet19 10", 29.13, 9),
    "resnet19_lsun_bedroom_ln_gp": (_line("resnet19", "lsun_bedroom", 200_000, "layer_norm", 1.281e-4, 0.7108, 0.9792, 2, penalty="wgan_gp", lam=0.1451), "ResNet19 11", 40.36, 10),
    # ResNet CIFAR (best_models_resnet_cifar): n_dis 5
    "resnet_cifar_cifar10_none": (_line("resnet_cifar", "cifar10", 200_000, "none", 2e-4, 0.5, 0.999, 2, disc_iters=5), "ResNet CIFAR 1", 28.12, 11),
    "resnet_cifar_cifar10_none_2": (_line("resnet_cifar", "cifar10", 200_000, "none", 1e-4, 0.5, 0.999, 2, disc_iters=5), "ResNet CIFAR 2", 30.08, 12),
    "resnet_cifar_cifar10_sn": (_line("resnet_cifar", "cifar10", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, disc_iters=5), "ResNet CIFAR 3 (=6)", 22.91, 13),
    "resnet_cifar_cifar10_sn_2": (_line("resnet_cifar", "cifar10", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, disc_iters=5), "ResNet CIFAR 4", 23.22, 14),
    "resnet_cifar_cifar10_sn_gp": (_line("resnet_cifar", "cifar10", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2, penalty="wgan_gp", lam=1.0, disc_iters=5), "ResNet CIFAR 5", 22.73, 15),
}

PRESETS = {name: overrides for name, (overrides, _, _, _) in _TABLE.items()}
PRESETS.update({f"compare_gan_model_{hub}": overrides
                for name, (overrides, _, _, hub) in _TABLE.items() if hub})
PRESET_INFO = {name: {"line": line, "fid": fid, "tfhub_model": hub}
               for name, (_, line, fid, hub) in _TABLE.items()}


# The shipped default model's config (scripts/default_model.json; a test keeps the two equal).
# Deviates from the study: width 1/4 (so it trains on a 2-core CPU), generator EMA and linear
# learning-rate decay (ganhub additions), checkpoints every 500 steps. It was trained with
# jit_compile true; "auto" now measures which is faster on the machine that trains.
DEFAULT_MODEL = {
    "architecture": "sndcgan", "loss": "ns", "penalty": "none", "penalty_lambda": 0.0,
    "d_norm": "spectral_norm", "dataset": "fashion_mnist", "data_dir": "", "resolution": 32,
    "width": 0.25, "z_dim": 128, "batch_size": 64, "steps": 50000, "disc_iters": 1,
    "learning_rate": 0.0002, "beta1": 0.5, "beta2": 0.999, "seed": 2, "checkpoint_every": 500,
    "keep_checkpoints": 3, "jit_compile": "auto", "g_ema_decay": 0.999, "g_ema_start": 18713,
    "lr_decay": "linear", "lr_decay_start": 36922,
}

_LINE_7 = "SNDCGAN 7's settings (the study's best SNDCGAN, CIFAR-10 FID 25.27)"
# name: (config, what it reproduces)
OFFLINE_PRESETS = {
    "default_fashion_mnist": (DEFAULT_MODEL, "ganhub's default model (FID 12.30 / KID 0.0042, 10k "
                              "vs 10k Fashion-MNIST-32 test; 7.1 h on a 2-core CPU)"),
    "sndcgan_fashion_mnist_sn": (_line("sndcgan", "fashion_mnist", 200_000, "spectral_norm", 2e-4,
                                       0.5, 0.999, 2),
                                 f"{_LINE_7} on Fashion-MNIST; no FID published for this data set"),
    "sndcgan_mnist_sn": (_line("sndcgan", "mnist", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2),
                         f"{_LINE_7} on MNIST; no FID published for this data set"),
    # native 28×28 with compare_gan's ceil sizing, as the study trained (Fashion-)MNIST
    "sndcgan_fashion_mnist_sn_28": (
        {**_line("sndcgan", "fashion_mnist", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2),
         "resolution": 28},
        f"{_LINE_7} on Fashion-MNIST at its native 28x28, as the study; no FID published"),
    "sndcgan_mnist_sn_28": (
        {**_line("sndcgan", "mnist", 200_000, "spectral_norm", 2e-4, 0.5, 0.999, 2),
         "resolution": 28},
        f"{_LINE_7} on MNIST at its native 28x28, as the study; no FID published"),
}
PRESETS.update({name: config for name, (config, _) in OFFLINE_PRESETS.items()})


def describe_presets():
    """[{name, dataset, steps, reproduces}] for every preset, offline data sets first."""
    rows = [{"name": name, "dataset": config["dataset"], "steps": config["steps"],
             "reproduces": text} for name, (config, text) in OFFLINE_PRESETS.items()]
    for name, info in PRESET_INFO.items():
        hub = f"; TF-Hub compare_gan model {info['tfhub_model']}" if info["tfhub_model"] else ""
        rows.append({"name": name, "dataset": PRESETS[name]["dataset"],
                     "steps": PRESETS[name]["steps"],
                     "reproduces": f"the study's best models, {info['line']}: FID {info['fid']:.2f}{hub}"})
    aliases = {f"compare_gan_model_{i['tfhub_model']}": n for n, i in PRESET_INFO.items()
               if i["tfhub_model"]}
    for alias, name in sorted(aliases.items(), key=lambda item: int(item[0].rsplit("_", 1)[1])):
        rows.append({"name": alias, "dataset": PRESETS[name]["dataset"],
                     "steps": PRESETS[name]["steps"], "reproduces": f"alias of {name}"})
    return rows


def get_preset(name):
    """The Config of preset ``name``."""
    try:
        overrides = PRESETS[name]
    except KeyError:
        import difflib
        close = difflib.get_close_matches(str(name), PRESETS, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))} "
                          f"(`ganhub train --list-presets` describes them).{hint}") from None
    return Config.from_dict(dict(overrides))
