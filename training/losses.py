"""GAN losses as pure functions of discriminator logits (spec §1).

Each loss has ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``; logits are [batch].
``LOSSES`` is the one declaration of the losses: the config's choices, the CLI's and the study's
derive from it, so adding a loss means adding its functions and its row here.
"""
import collections

from ganhub.training.lazy_tf import tf

from ganhub.errors import ConfigError

Loss = collections.namedtuple("Loss", ["d_loss", "g_loss"])


def _mean(x):
    return tf.reduce_mean(x)


def ns_d_loss(real_logits, fake_logits):
    return _mean(tf.nn.softplus(-real_logits)) + _mean(tf.nn.softplus(fake_logits))


def ns_g_loss(fake_logits):
    return _mean(tf.nn.softplus(-fake_logits))


def mm_g_loss(fake_logits):
    """Minimax: G minimizes mean log(1 − D(G(z))) = −mean softplus(l_f)."""
    return -_mean(tf.nn.softplus(fake_logits))


def ls_d_loss(real_logits, fake_logits):
    """Least squares on the sigmoid outputs, as compare_gan did (not on raw logits)."""
    d_real, d_fake = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
    return 0.5 * (_mean(tf.square(d_real - 1.0)) + _mean(tf.square(d_fake)))


def ls_g_loss(fake_logits):
    return 0.5 * _mean(tf.square(tf.sigmoid(fake_logits) - 1.0))


def wgan_d_loss(real_logits, fake_logits):
    return -_mean(real_logits) + _mean(fake_logits)


def wgan_g_loss(fake_logits):
    return -_mean(fake_logits)


def hinge_d_loss(real_logits, fake_logits):
    return _mean(tf.nn.relu(1.0 - real_logits)) + _mean(tf.nn.relu(1.0 + fake_logits))


LOSSES = {
    "ns": Loss(ns_d_loss, ns_g_loss),
    "mm": Loss(ns_d_loss, mm_g_loss),
    "ls": Loss(ls_d_loss, ls_g_loss),
    "wgan": Loss(wgan_d_loss, wgan_g_loss),
    "hinge": Loss(hinge_d_loss, wgan_g_loss),
}


def get_loss(name):
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
