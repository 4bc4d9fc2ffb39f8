"""Architecture registry: each architecture declared once, without importing TensorFlow.

A row names the module that builds the networks, the D normalizations the architecture accepts and
the resolutions it supports; ``training.config`` derives its choices and checks from these rows, and
``build`` imports the module only when networks are built. Adding an architecture = its module (with
``build(config, channels) -> (generator, discriminator)``) + its row here.
"""
import collections
import importlib

# Every D normalization ganhub implements (training/layers.py); a row lists those it accepts.
D_NORMS = ("none", "batch_norm", "layer_norm", "spectral_norm", "weight_norm")

Architecture = collections.namedtuple(
    "Architecture", ["module", "d_norms", "min_resolution", "resolutions", "study_resolutions"])

ARCHITECTURES = {
    # SNDCGAN and DCGAN: the D norms compare_gan asserts (spec §3.1); any size from their minimum
    # with compare_gan's ceil sizing (28 → 14 → 7 → 4 → 2).
    "sndcgan": Architecture("sndcgan", ("none", "spectral_norm"), 8, None, (28, 32, 128)),
    "dcgan": Architecture("dcgan", ("none", "batch_norm", "spectral_norm"), 16, None, (28, 32)),
    # ResNets: all five norms (compare_gan silently ran weight_norm as none, ganhub implements it);
    # log2(s/4) "up" blocks out of 5 (resnet19) or 3 (resnet_cifar), spec §4.4.
    "resnet19": Architecture("resnet", D_NORMS, None, (8, 16, 32, 64, 128), (128,)),
    "resnet_cifar": Architecture("resnet", D_NORMS, None, (8, 16, 32), (32,)),
}


def resolution_error(name, resolution):
    """Why ``resolution`` does not fit architecture ``name`` (None when it does)."""
    a = ARCHITECTURES[name]
    used = ", ".join(map(str, a.study_resolutions))
    if a.min_resolution is not None and resolution < a.min_resolution:
        return f"{name} needs a resolution of at least {a.min_resolution} (the study used {used})"
    if a.resolutions is not None and resolution not in a.resolutions:
        return (f"{name} supports resolution {', '.join(map(str, a.resolutions))} "
                f"(the study used {used})")
    return None


def build(config, channels):
    """(generator, discriminator) for ``config.architecture`` (a validated config)."""
    module = importlib.import_module(
        f"ganhub.training.architectures.{ARCHITECTURES[config.architecture].module}")
    return module.build(config, channels)
