"""Architecture registry: name → builder (config, channels) → (generator, discriminator).

Which D normalizations each architecture accepts, and its resolutions, are checked by
``training.config`` (no TensorFlow needed); the builders assume a validated config.
"""
from ganhub.training.architectures import resnet
from ganhub.training.architectures.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhub.training.architectures.sndcgan import SNDCGANDiscriminator, SNDCGANGenerator


def _sndcgan(config, channels):
    g = SNDCGANGenerator(config.z_dim, config.resolution, channels, config.width)
    d = SNDCGANDiscriminator(config.resolution, channels, config.width, config.d_norm)
    return g, d


def _dcgan(config, channels):
    g = DCGANGenerator(config.z_dim, config.resolution, channels, config.width)
    d = DCGANDiscriminator(config.resolution, channels, config.width, config.d_norm)
    return g, d


def _resnet19(config, channels):
    return resnet.resnet19(config.z_dim, config.resolution, channels, config.width, config.d_norm)


def _resnet_cifar(config, channels):
    return resnet.resnet_cifar(config.z_dim, config.resolution, channels, config.width, config.d_norm)


ARCHITECTURES = {
    "sndcgan": _sndcgan,
    "dcgan": _dcgan,
    "resnet19": _resnet19,
    "resnet_cifar": _resnet_cifar,
}


def build(config, channels):
    """(generator, discriminator) for ``config.architecture``."""
    return ARCHITECTURES[config.architecture](config, channels)
