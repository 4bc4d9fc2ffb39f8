"""DCGAN (spec §4.2): 5×5 stride-2 (de)convolutions; D normalization none, batch_norm or
spectral_norm (compare_gan asserts exactly these three)."""
import tensorflow as tf
from ganhub.training.architectures import ARCHITECTURES
from ganhub.training.architectures.interface import ExportableGenerator
from ganhub.training.architectures.sndcgan import scaled
from ganhub.training.layers import (BatchNorm, Conv2D, Conv2DTranspose, Dense, Network, halvings,
                                    lrelu)


class DCGANGenerator(ExportableGenerator, Network):
    """z → linear (s/16)²·512, reshape, BN, ReLU → 3 × (deconv 5×5 s2, BN, ReLU) → deconv 5×5 s2 → C,
    0.5·tanh + 0.5. BN per channel, decay 0.9, epsilon 1e-5."""

    OUTPUT_ACTIVATION = "0.5 * tanh + 0.5"

    def __init__(self, z_dim, resolution, channels, width=1.0, name="generator"):
        super().__init__(name=name)
        self.z_dim, self.image_shape = z_dim, (resolution, resolution, channels)
        sizes = halvings(resolution, 4)  # ceil sizing as compare_gan: 28 → 2, 4, 7, 14, 28
        self.base = sizes[4]
        c = [scaled(n, width) for n in (512, 256, 128, 64)]
        self.c0 = c[0]
        self.fc = Dense(z_dim, self.base * self.base * c[0], name="g_fc1")
        self.bn1 = BatchNorm(c[0], name="g_bn1")
        self.deconvs = [Conv2DTranspose(c[i], c[i + 1], 5, 2, output_size=sizes[3 - i],
                                        name=f"g_dc{i + 2}") for i in range(3)]
        self.bns = [BatchNorm(c[i + 1], name=f"g_bn{i + 2}") for i in range(3)]
        self.out = Conv2DTranspose(c[3], channels, 5, 2, output_size=sizes[0], name="g_dc5")

    def __call__(self, z, training):
        x = tf.reshape(self.fc(z), [-1, self.base, self.base, self.c0])
        x = tf.nn.relu(self.bn1(x, training))
        for deconv, bn in zip(self.deconvs, self.bns):
            x = tf.nn.relu(bn(deconv(x), training))
        return 0.5 * tf.tanh(self.out(x)) + 0.5


class DCGANDiscriminator(Network):
    """4 × conv 5×5 s2 (64, 128, 256, 512), LeakyReLU 0.2, [BN on layers 2-4] → linear 1."""

    NORMS = ARCHITECTURES["dcgan"].d_norms

    def __init__(self, resolution, channels, width=1.0, normalization="none", name="discriminator"):
        super().__init__(name=name)
        if normalization not in self.NORMS:
            raise ValueError(f"DCGAN's discriminator supports d_norm {', '.join(self.NORMS)}, "
                             f"got {normalization!r}")
        sn = normalization == "spectral_norm"
        self.convs, self.norms = [], []
        in_ch = channels
        for i, out in enumerate(scaled(n, width) for n in (64, 128, 256, 512)):
            self.convs.append(Conv2D(in_ch, out, 5, 2, spectral_norm=sn, name=f"d_conv{i + 1}"))
            if i > 0 and normalization == "batch_norm":
                self.norms.append(BatchNorm(out, name=f"d_bn{i + 1}"))
            in_ch = out
        self.flat = halvings(resolution, 4)[4] ** 2 * in_ch  # SAME convs: ceil(s/16)
        self.fc = Dense(self.flat, 1, spectral_norm=sn, name="d_fc1")

    def __call__(self, x, training):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i > 0 and self.norms:
                x = self.norms[i - 1](x, training)
            x = lrelu(x, 0.2)
        return tf.squeeze(self.fc(tf.reshape(x, [-1, self.flat])), axis=1)


def build(config, channels):
    """(generator, discriminator) of a validated config (training.architectures.build)."""
    g = DCGANGenerator(config.z_dim, config.resolution, channels, config.width)
    d = DCGANDiscriminator(config.resolution, channels, config.width, config.d_norm)
    return g, d
