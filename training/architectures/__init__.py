"""Architecture registry: name → (generator class, discriminator class builders)."""
from training.architectures.sndcgan import SNDCGANDiscriminator, SNDCGANGenerator


def _sndcgan(config, channels):
    g = SNDCGANGenerator(config.z_dim, config.resolution, channels, config.width)
    d = SNDCGANDiscriminator(config.resolution, channels, config.width, config.d_norm)
    return g, d


ARCHITECTURES = {
    "sndcgan": _sndcgan,
}


def build(config, channels):
    """(generator, discriminator) for ``config.architecture``."""
    return ARCHITECTURES[config.architecture](config, channels)
