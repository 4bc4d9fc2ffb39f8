"""ganhub: pretrained generators from The GAN Landscape (compare_gan), in TensorFlow 2."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
