"""Training every GAN variant of The GAN Landscape (compare_gan) in TensorFlow 2.

Importing the package does not import TensorFlow (configs, presets and the registries of losses
and penalties are read before it); the loop's names load it on first use.
"""

_LOOP_NAMES = ("build_models", "load_generator", "train")


def __getattr__(name):
    if name == "Config":
        from ganhub.training.config import Config
        return Config
    if name in _LOOP_NAMES:
        from ganhub.training import loop
        return getattr(loop, name)
    raise AttributeError(f"module 'ganhub.training' has no attribute {name!r}")


__all__ = ["Config", *_LOOP_NAMES]
