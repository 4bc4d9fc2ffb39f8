"""Discriminator penalties (spec §2). Gradients are of D's logits with respect to D's input.

``discriminator`` below is any callable images → logits [batch]. The random numbers of a step's
penalty are drawn by ``draw_noise`` from a stateless seed (shape [2] int) for the *global* batch, so
a step's penalty is reproducible, a resumed run matches an uninterrupted one, and under a
tf.distribute strategy each replica takes its slice of the same draw.

``PENALTIES`` is the one declaration of the penalties (how each draws its noise and computes its
value): the config's choices, the CLI's and the study's derive from it, so adding a penalty means
adding its functions and its row here.
"""
import collections

from ganhub.training.lazy_tf import tf

from ganhub.errors import ConfigError

SLOPE_EPSILON = 1e-4


def gradient_slope_penalty(discriminator, x):
    """mean_batch (sqrt(1e-4 + Σ_{h,w,c} (∂logit/∂x)²) − 1)²."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = discriminator(x)
    grads = tape.gradient(logits, x)
    slope = tf.sqrt(SLOPE_EPSILON + tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    return tf.reduce_mean(tf.square(slope - 1.0))


def wgan_gp_points(real, fake, alpha):
    """x̂ = x + α(x_f − x), one α per example."""
    return real + alpha * (fake - real)


def dragan_points(real, noise):
    """compare_gan's DRAGAN: clip(x + std·(U[0,1) − 0.5), 0, 1), std over the whole batch tensor
    (under a strategy: over the replica's batch, like BN statistics)."""
    std = tf.sqrt(tf.math.reduce_variance(real))
    return tf.clip_by_value(real + std * (noise - 0.5), 0.0, 1.0)


def wgan_gp_penalty(discriminator, real, fake, alpha):
    return gradient_slope_penalty(discriminator, wgan_gp_points(real, fake, alpha))


def dragan_penalty(discriminator, real, noise):
    return gradient_slope_penalty(discriminator, dragan_points(real, noise))


def discriminator_kernels(discriminator):
    """D's conv and linear kernels: no biases, no norm parameters, no spectral-norm u."""
    return [v for v in discriminator.trainable_variables if v.name.split(":")[0].endswith("kernel")]


def l2_penalty(kernels):
    """Mean over layers of ½‖W‖² (tf.nn.l2_loss), as compare_gan (a mean, not a sum)."""
    return tf.add_n([tf.nn.l2_loss(w) for w in kernels]) / len(kernels)


def _no_noise(real_shape, seed):
    return tf.zeros([real_shape[0]])


def _alpha_noise(real_shape, seed):
    """α ~ U[0, 1), one per example: [batch, 1, 1, 1]."""
    return tf.random.stateless_uniform([real_shape[0], 1, 1, 1], seed)


def _pixel_noise(real_shape, seed):
    """U[0, 1) of the batch's shape."""
    return tf.random.stateless_uniform(real_shape, seed)


# compute(discriminator_fn, discriminator, real, fake, noise) -> scalar penalty of one D step
Penalty = collections.namedtuple("Penalty", ["draw_noise", "compute"])

PENALTIES = {
    "none": Penalty(_no_noise, lambda d_fn, d, real, fake, noise: tf.constant(0.0)),
    "wgan_gp": Penalty(_alpha_noise,
                       lambda d_fn, d, real, fake, noise: wgan_gp_penalty(d_fn, real, fake, noise)),
    "dragan": Penalty(_pixel_noise,
                      lambda d_fn, d, real, fake, noise: dragan_penalty(d_fn, real, noise)),
    "l2": Penalty(_no_noise,
                  lambda d_fn, d, real, fake, noise: l2_penalty(discriminator_kernels(d))),
}


def get_penalty(name):
    try:
        return PENALTIES[name]
    except KeyError:
        raise ConfigError(f"unknown penalty {name!r}; choose one of {', '.join(PENALTIES)}") from None


def draw_noise(name, real_shape, seed):
    """The penalty's random numbers for a batch of shape ``real_shape`` from a stateless ``seed``."""
    return get_penalty(name).draw_noise(real_shape, seed)


def compute(name, discriminator_fn, discriminator, real, fake, noise):
    """The penalty ``name`` for one D step (0 for 'none'); ``noise`` from ``draw_noise``."""
    return get_penalty(name).compute(discriminator_fn, discriminator, real, fake, noise)
