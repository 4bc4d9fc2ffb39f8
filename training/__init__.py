"""Training every GAN variant of The GAN Landscape (compare_gan) in TensorFlow 2."""
from ganhub.training.config import Config
from ganhub.training.loop import build_models, load_generator, train

__all__ = ["Config", "build_models", "load_generator", "train"]
