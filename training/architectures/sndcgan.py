"""SNDCGAN (spec §4.1): the DCGAN-like networks of the spectral-normalization paper."""
import tensorflow as tf
from ganhub.training.architectures import ARCHITECTURES
from ganhub.training.architectures.interface import ExportableGenerator
from ganhub.training.layers import (BatchNorm, Conv2D, Conv2DTranspose, Dense, Network, halvings,
                                    lrelu)


def scaled(channels, width):
    return max(1, int(round(channels * width)))


class SNDCGANGenerator(ExportableGenerator, Network):
    """z → linear (s/8)²·512, BN per unit, ReLU → 3 × (deconv 4×4 s2, BN, ReLU) → deconv 3×3 → C,
    tanh, (x+1)/2. BN epsilon 2e-5, decay 0.9."""

    OUTPUT_ACTIVATION = "(tanh + 1) / 2"

    def __init__(self, z_dim, resolution, channels, width=1.0, name="generator"):
        super().__init__(name=name)
        if resolution < 8:
            raise ValueError(f"SNDCGAN needs a resolution of at least 8, got {resolution}")
        self.z_dim, self.resolution, self.channels = z_dim, resolution, channels
        self.image_shape = (resolution, resolution, channels)
        sizes = halvings(resolution, 3)  # ceil sizing as compare_gan: 28 → 4, 7, 14, 28
        self.base = sizes[3]
        c = [scaled(n, width) for n in (512, 256, 128, 64)]
        self.c0 = c[0]
        self.fc = Dense(z_dim, self.base * self.base * c[0], name="g_fc1")
        self.bn1 = BatchNorm(self.base * self.base * c[0], epsilon=2e-5, name="g_bn1")
        self.deconvs = [Conv2DTranspose(c[i], c[i + 1], 4, 2, output_size=sizes[2 - i],
                                        name=f"g_dc{i + 2}") for i in range(3)]
        self.bns = [BatchNorm(c[i + 1], epsilon=2e-5, name=f"g_bn{i + 2}") for i in range(3)]
        self.out = Conv2DTranspose(c[3], channels, 3, 1, name="g_dc5")

    def __call__(self, z, training):
        x = tf.nn.relu(self.bn1(self.fc(z), training))
        x = tf.reshape(x, [-1, self.base, self.base, self.c0])
        for deconv, bn in zip(self.deconvs, self.bns):
            x = tf.nn.relu(bn(deconv(x), training))
        return (tf.tanh(self.out(x)) + 1.0) / 2.0


class SNDCGANDiscriminator(Network):
    """x → 2x−1 → 7 convs (3×3 s1 / 4×4 s2 alternating), LeakyReLU 0.1 → linear 1 (logits [bs]).

    Normalization: none or spectral_norm only (compare_gan asserts this); plain normal init."""

    NORMS = ARCHITECTURES["sndcgan"].d_norms
    LAYERS = ((3, 64, 1), (4, 128, 2), (3, 128, 1), (4, 256, 2), (3, 256, 1), (4, 512, 2), (3, 512, 1))

    def __init__(self, resolution, channels, width=1.0, normalization="spectral_norm",
                 name="discriminator"):
        super().__init__(name=name)
        if normalization not in self.NORMS:
            raise ValueError(f"SNDCGAN's discriminator supports d_norm {', '.join(self.NORMS)} "
                             f"(as in compare_gan), got {normalization!r}")
        sn = normalization == "spectral_norm"
        self.convs = []
        in_ch = channels
        for i, (k, out, stride) in enumerate(self.LAYERS):
            out = scaled(out, width)
            self.convs.append(Conv2D(in_ch, out, k, stride, spectral_norm=sn, truncated=False,
                                     name=f"d_conv{i + 1}"))
            in_ch = out
        self.flat = halvings(resolution, 3)[3] ** 2 * in_ch  # SAME convs: ceil(s/8)
        self.fc = Dense(self.flat, 1, spectral_norm=sn, name="d_fc1")

    def __call__(self, x, training):
        x = x * 2.0 - 1.0
        for conv in self.convs:
            x = lrelu(conv(x), 0.1)
        return tf.squeeze(self.fc(tf.reshape(x, [-1, self.flat])), axis=1)


def build(config, channels):
    """(generator, discriminator) of a validated config (training.architectures.build)."""
    g = SNDCGANGenerator(config.z_dim, config.resolution, channels, config.width)
    d = SNDCGANDiscriminator(config.resolution, channels, config.width, config.d_norm)
    return g, d
