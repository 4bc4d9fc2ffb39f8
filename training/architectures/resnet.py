"""ResNet architectures of compare_gan (spec §4.3-§4.5): ResNet19 ("resnet5", 128×128) and
ResNet CIFAR (32×32).

Every block has a 3×3 conv shortcut (never identity) with the block's up/down scaling; G blocks
upsample by zero-insertion unpool before conv1, D blocks average-pool after conv2; D ends with ReLU,
a global *mean* pool and a linear layer.
"""
import math

import tensorflow as tf
from ganhub.training.architectures import D_NORMS  # every norm: the ResNets accept all
from ganhub.training.architectures.interface import ExportableGenerator
from ganhub.training.architectures.sndcgan import scaled
from ganhub.training.layers import BatchNorm, Conv2D, Dense, LayerNorm, Network, downsample, unpool


def _norm_layer(kind, channels, name):
    if kind == "batch_norm":
        return BatchNorm(channels, momentum=0.9, epsilon=1e-5, name=name)
    if kind == "layer_norm":
        return LayerNorm(channels, name=name)
    return None


class ResNetBlock(tf.Module):
    """Pre-activation block: [norm1] → ReLU → (unpool) → conv1 → [norm2] → ReLU → conv2 → (pool),
    plus a 3×3 conv shortcut with the same scaling. ``scale`` ∈ {up, down, none}; ``norm`` is the
    activation norm (batch_norm / layer_norm / none); ``kernel_norm`` the kernel reparametrization
    (spectral_norm / weight_norm / none)."""

    def __init__(self, in_ch, out_ch, scale, norm="none", kernel_norm="none", name=None):
        super().__init__(name=name)
        self.scale = scale
        sn, wn = kernel_norm == "spectral_norm", kernel_norm == "weight_norm"
        self.shortcut = Conv2D(in_ch, out_ch, 3, spectral_norm=sn, weight_norm=wn, name="conv_shortcut")
        self.norm1 = _norm_layer(norm, in_ch, "norm1")
        self.conv1 = Conv2D(in_ch, out_ch, 3, spectral_norm=sn, weight_norm=wn, name="conv1")
        self.norm2 = _norm_layer(norm, out_ch, "norm2")
        self.conv2 = Conv2D(out_ch, out_ch, 3, spectral_norm=sn, weight_norm=wn, name="conv2")

    def __call__(self, x, training):
        shortcut = x
        if self.scale == "up":
            shortcut = unpool(shortcut)
        shortcut = self.shortcut(shortcut)
        if self.scale == "down":
            shortcut = downsample(shortcut)

        h = self.norm1(x, training) if self.norm1 is not None else x
        h = tf.nn.relu(h)
        if self.scale == "up":
            h = unpool(h)
        h = self.conv1(h)
        h = self.norm2(h, training) if self.norm2 is not None else h
        h = self.conv2(tf.nn.relu(h))
        if self.scale == "down":
            h = downsample(h)
        return h + shortcut


def up_blocks(resolution):
    """Number of "up" G blocks from the 4×4 start: log2(s/4) (spec §4.4); the rest use "none"."""
    n = math.log2(resolution / 4)
    if resolution < 8 or n != int(n):
        raise ValueError(f"ResNet generators need a power-of-two resolution >= 8, got {resolution}")
    return int(n)


class ResNetGenerator(ExportableGenerator, Network):
    """linear z → 4·4·c0 → blocks (BN always) → BN, ReLU, conv 3×3 → C, sigmoid."""

    def __init__(self, z_dim, resolution, channels, block_channels, width=1.0, name="generator"):
        super().__init__(name=name)
        self.z_dim, self.image_shape = z_dim, (resolution, resolution, channels)
        ups = up_blocks(resolution)
        if ups > len(block_channels) - 1:
            raise ValueError(f"this generator has {len(block_channels) - 1} blocks and cannot reach "
                             f"{resolution}x{resolution} from 4x4")
        c = [scaled(n, width) for n in block_channels]
        self.c0 = c[0]
        self.fc = Dense(z_dim, 4 * 4 * c[0], name="fc_noise")
        self.blocks = [ResNetBlock(cin, cout, "up" if i < ups else "none", "batch_norm",
                                   name=f"B{i + 1}")
                       for i, (cin, cout) in enumerate(zip(c[:-1], c[1:]))]
        self.final_norm = BatchNorm(c[-1], momentum=0.9, epsilon=1e-5, name="final_norm")
        self.final_conv = Conv2D(c[-1], channels, 3, name="final_conv")

    def __call__(self, z, training):
        x = tf.reshape(self.fc(z), [-1, 4, 4, self.c0])
        for block in self.blocks:
            x = block(x, training)
        x = tf.nn.relu(self.final_norm(x, training))
        return tf.sigmoid(self.final_conv(x))


class ResNetDiscriminator(Network):
    """blocks (down/none) → ReLU → global mean pool → linear 1 (logits [batch])."""

    def __init__(self, channels, stages, width=1.0, normalization="none", name="discriminator"):
        super().__init__(name=name)
        if normalization not in D_NORMS:
            raise ValueError(f"ResNet discriminators support d_norm {', '.join(D_NORMS)}, "
                             f"got {normalization!r}")
        act_norm = normalization if normalization in ("batch_norm", "layer_norm") else "none"
        kernel_norm = normalization if normalization in ("spectral_norm", "weight_norm") else "none"
        self.blocks = []
        in_ch = channels
        for i, (out, scale) in enumerate(stages):
            out = scaled(out, width)
            self.blocks.append(ResNetBlock(in_ch, out, scale, act_norm, kernel_norm, name=f"B{i}"))
            in_ch = out
        self.fc = Dense(in_ch, 1, spectral_norm=kernel_norm == "spectral_norm",
                        weight_norm=kernel_norm == "weight_norm", name="disc_final_fc")

    def __call__(self, x, training):
        for block in self.blocks:
            x = block(x, training)
        x = tf.reduce_mean(tf.nn.relu(x), axis=[1, 2])
        return tf.squeeze(self.fc(x), axis=1)


# G: channels of the fc output followed by each block's output; D: (out channels, scale) per block.
RESNET19_G = (512, 512, 256, 256, 128, 64)
RESNET19_D = ((64, "down"), (128, "down"), (256, "down"), (256, "down"), (512, "down"), (512, "down"))
RESNET_CIFAR_G = (256, 256, 256, 256)
RESNET_CIFAR_D = ((128, "down"), (128, "down"), (128, "none"), (128, "none"))


def resnet19(z_dim, resolution, channels, width, d_norm):
    return (ResNetGenerator(z_dim, resolution, channels, RESNET19_G, width),
            ResNetDiscriminator(channels, RESNET19_D, width, d_norm))


def resnet_cifar(z_dim, resolution, channels, width, d_norm):
    return (ResNetGenerator(z_dim, resolution, channels, RESNET_CIFAR_G, width),
            ResNetDiscriminator(channels, RESNET_CIFAR_D, width, d_norm))


def build(config, channels):
    """(generator, discriminator) of a validated config (training.architectures.build)."""
    make = resnet19 if config.architecture == "resnet19" else resnet_cifar
    return make(config.z_dim, config.resolution, channels, config.width, config.d_norm)
