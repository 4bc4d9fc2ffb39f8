"""An exponential moving average of the generator's weights, and "standing" BN statistics for it.

Not part of the study (compare_gan exports the last G weights): ganhub's option for models it
ships, off unless ``g_ema_decay > 0``. Averaging G's weights over the last ~1/(1 − decay) steps
removes the step-to-step oscillation of GAN training and usually lowers FID (Yazıcı et al., "The
Unusual Effectiveness of Averaging in GAN Training", ICLR 2019); BigGAN ships its G that way.

From step ``g_ema_start`` on, after each D step t (and its G step, if any):
    t == g_ema_start:  ema ← g
    t >  g_ema_start:  ema ← decay · ema + (1 − decay) · g
over G's trainable variables. The BN moving averages G kept during training belong to the raw
weights, so an averaged G gets its own: ``standing_statistics`` runs it in training mode on fixed
batches of z and sets each BN layer's moving mean/variance to the plain average of the batch
moments (BigGAN's "standing stats").
"""
import tensorflow as tf
from ganhub.training.layers import BatchNorm

# Standing-statistics defaults: the training batch size's worth of samples per batch keeps the
# normalization G sees at inference like the one it saw in training.
STANDING_BATCHES = 200
STANDING_SEED = 0


def ema_update(ema_vars, vars_, decay):
    """ema ← decay · ema + (1 − decay) · v, in place, for paired lists of variables."""
    for e, v in zip(ema_vars, vars_):
        e.assign(decay * e + (1.0 - decay) * v)


def copy_weights(ema_vars, vars_):
    for e, v in zip(ema_vars, vars_):
        e.assign(v)


def batch_norms(module):
    """The BatchNorm layers of ``module``, in a fixed order."""
    return [m for m in module.submodules if isinstance(m, BatchNorm)]


def standing_statistics(generator, z_dim, batch_size, num_batches=STANDING_BATCHES,
                        seed=STANDING_SEED):
    """Set every BN layer's moving mean/variance of ``generator`` to the mean over ``num_batches``
    batches of z ~ U[-1, 1] (stateless, from ``seed``) of its training-mode batch moments.

    Done by running G in training mode with each layer's momentum set to k/(k+1) on batch k, which
    makes the in-place moving-average update a running mean; the momenta are restored afterwards.
    Returns the number of BN layers updated."""
    norms = batch_norms(generator)
    if not norms:
        return 0
    momenta = [bn.momentum for bn in norms]
    try:
        for k in range(num_batches):
            for bn in norms:
                bn.momentum = k / (k + 1.0)
            z = tf.random.stateless_uniform([batch_size, z_dim], [seed, k], -1.0, 1.0)
            generator(z, training=True)
    finally:
        for bn, m in zip(norms, momenta):
            bn.momentum = m
    return len(norms)
