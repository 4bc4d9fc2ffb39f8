"""jit_compile=True (XLA) computes the same step as plain tf.function, penalty included."""
import numpy as np
import pytest
import tensorflow as tf

from ganhub.training import Config, build_models
from ganhub.training.steps import GANSteps


def _one_step(jit):
    config = Config(architecture="sndcgan", d_norm="spectral_norm", penalty="wgan_gp",
                    penalty_lambda=1.0, resolution=8, width=0.0625, batch_size=4, z_dim=8,
                    jit_compile=jit)
    g, d = build_models(config, 1)
    steps = GANSteps(config, g, d)
    real = tf.random.stateless_uniform([4, 8, 8, 1], [1, 2])
    t = tf.constant(1, tf.int64)
    z = steps.latents(t)
    d_loss, penalty = steps.d_step(real, z, t)
    g_loss = steps.g_step(z)
    return [float(d_loss), float(penalty), float(g_loss)], [v.numpy() for v in g.variables + d.variables]


@pytest.mark.slow
def test_xla_step_equals_plain_step():
    plain_losses, plain_vars = _one_step(False)
    xla_losses, xla_vars = _one_step(True)
    np.testing.assert_allclose(xla_losses, plain_losses, rtol=1e-4)
    assert plain_losses[1] > 0
    # Adam's first step is ±lr·sign(g): compare the share of weights that agree
    close = sum(int(np.sum(np.isclose(a, b, rtol=1e-4, atol=1e-6))) for a, b in zip(xla_vars, plain_vars))
    total = sum(a.size for a in plain_vars)
    assert close / total > 0.99
