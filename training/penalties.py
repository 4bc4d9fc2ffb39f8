"""Discriminator penalties (spec §2). Gradients are of D's logits with respect to D's input.

``discriminator`` below is any callable images → logits [batch]; ``seed`` a stateless RNG seed
(shape [2] int), so a step's penalty is reproducible and a resumed run matches an uninterrupted one.
"""
import tensorflow as tf

SLOPE_EPSILON = 1e-4


def gradient_slope_penalty(discriminator, x):
    """mean_batch (sqrt(1e-4 + Σ_{h,w,c} (∂logit/∂x)²) − 1)²."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = discriminator(x)
    grads = tape.gradient(logits, x)
    slope = tf.sqrt(SLOPE_EPSILON + tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    return tf.reduce_mean(tf.square(slope - 1.0))


def wgan_gp_points(real, fake, seed):
    """x̂ = x + α(x_f − x), one α ~ U[0, 1) per example."""
    alpha = tf.random.stateless_uniform([tf.shape(real)[0], 1, 1, 1], seed)
    return real + alpha * (fake - real)


def dragan_points(real, seed):
    """compare_gan's DRAGAN: clip(x + std·(U[0,1) − 0.5), 0, 1), std over the whole batch tensor."""
    std = tf.sqrt(tf.math.reduce_variance(real))
    noise = tf.random.stateless_uniform(tf.shape(real), seed)
    return tf.clip_by_value(real + std * (noise - 0.5), 0.0, 1.0)


def wgan_gp_penalty(discriminator, real, fake, seed):
    return gradient_slope_penalty(discriminator, wgan_gp_points(real, fake, seed))


def dragan_penalty(discriminator, real, seed):
    return gradient_slope_penalty(discriminator, dragan_points(real, seed))


def discriminator_kernels(discriminator):
    """D's conv and linear kernels: no biases, no norm parameters, no spectral-norm u."""
    return [v for v in discriminator.trainable_variables if v.name.split(":")[0].endswith("kernel")]


def l2_penalty(kernels):
    """Mean over layers of ½‖W‖² (tf.nn.l2_loss), as compare_gan (a mean, not a sum)."""
    return tf.add_n([tf.nn.l2_loss(w) for w in kernels]) / len(kernels)


PENALTIES = ("none", "wgan_gp", "dragan", "l2")


def compute(name, discriminator_fn, discriminator, real, fake, seed):
    """The penalty ``name`` for one D step (0 for 'none')."""
    if name == "none":
        return tf.constant(0.0)
    if name == "wgan_gp":
        return wgan_gp_penalty(discriminator_fn, real, fake, seed)
    if name == "dragan":
        return dragan_penalty(discriminator_fn, real, seed)
    if name == "l2":
        return l2_penalty(discriminator_kernels(discriminator))
    raise ValueError(f"unknown penalty {name!r}; choose one of {', '.join(PENALTIES)}")
