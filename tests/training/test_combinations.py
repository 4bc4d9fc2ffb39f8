"""Every (loss × penalty × D normalization × architecture) combination trains 2 steps without NaN.

Cost: ~300 valid combinations. Tracing one step function per combination would take minutes on
2 CPU cores, so each (architecture, D norm) pair gets ONE traced step in which every loss and every
penalty is computed and combined with one-hot weights fed as tensors: the gradient is then exactly
that of the selected combination (the others enter as 0·finite). Weights and optimizer state are
reset from a snapshot before each combination, so every test id starts from the same fresh model.
The harness is checked against the production step (``GANSteps``) in the last test.
"""
import functools

import numpy as np
import pytest
import tensorflow as tf

from ganhub.training import Config, build_models, losses, penalties
from ganhub.training.config import CHOICES, D_NORMS
from ganhub.training.layers import spectral_norm_step
from ganhub.training.steps import GANSteps

pytestmark = pytest.mark.slow  # ~300 combinations: about 3 minutes on 2 cores

RESOLUTION = {"sndcgan": 8, "dcgan": 16, "resnet19": 8, "resnet_cifar": 8}
LOSSES, PENALTIES = CHOICES["loss"], CHOICES["penalty"]
BATCH, Z_DIM, CHANNELS = 2, 8, 1


def _config(arch, norm, loss="ns", penalty="none"):
    return Config(architecture=arch, d_norm=norm, loss=loss, penalty=penalty, penalty_lambda=1.0,
                  resolution=RESOLUTION[arch], width=0.125, batch_size=BATCH, z_dim=Z_DIM)


class Harness:
    def __init__(self, arch, norm):
        self.config = _config(arch, norm)
        self.g, self.d = build_models(self.config, CHANNELS)
        self.steps = GANSteps(self.config, self.g, self.d)
        self.variables = (list(self.g.variables) + list(self.d.variables)
                          + list(self.steps.d_optimizer.variables)
                          + list(self.steps.g_optimizer.variables))
        self.snapshot = [v.numpy() for v in self.variables]
        # autograph off: no tensor-dependent Python control flow here, and conversion costs seconds
        self.d_step = tf.function(self._d_step, autograph=False)
        self.g_step = tf.function(self._g_step, autograph=False)

    def reset(self):
        for v, value in zip(self.variables, self.snapshot):
            v.assign(value)

    def _d_step(self, real, z, loss_w, penalty_w, step):
        seed = tf.stack([tf.constant(7, tf.int64), step])
        d_vars = self.d.trainable_variables
        disc = functools.partial(self.d, training=True)
        with spectral_norm_step(), tf.GradientTape() as tape:
            fake = self.g(z, training=True)
            real_logits, fake_logits = disc(real), disc(fake)
            d_loss = tf.add_n([loss_w[i] * losses.get_loss(n).d_loss(real_logits, fake_logits)
                               for i, n in enumerate(LOSSES)])
            # every registered penalty through the production dispatch, weighted one-hot
            penalty = tf.add_n([penalty_w[i] * penalties.compute(
                n, disc, self.d, real, fake, penalties.draw_noise(n, tf.shape(real), seed))
                for i, n in enumerate(PENALTIES)])
            total = d_loss + self.config.penalty_lambda * penalty
        self.steps.d_optimizer.apply(tape.gradient(total, d_vars), d_vars)
        return d_loss, penalty

    def _g_step(self, z, loss_w):
        g_vars = self.g.trainable_variables
        with spectral_norm_step(), tf.GradientTape() as tape:
            fake_logits = self.d(self.g(z, training=True), training=True)
            g_loss = tf.add_n([loss_w[i] * losses.get_loss(n).g_loss(fake_logits)
                               for i, n in enumerate(LOSSES)])
        self.steps.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
        return g_loss


@pytest.fixture(scope="module", autouse=True)
def fast_graph_optimization():
    """Grappler's optimization of ~15 large one-off graphs costs more than it saves here."""
    previous = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    yield
    tf.config.optimizer.set_experimental_options(
        {"disable_meta_optimizer": previous.get("disable_meta_optimizer", False)})


@functools.lru_cache(maxsize=1)  # one (architecture, norm) at a time: parametrize order groups them
def harness(arch, norm):
    return Harness(arch, norm)


def _one_hot(names, name):
    return tf.constant([1.0 if n == name else 0.0 for n in names])


def run_combination(arch, norm, loss, penalty, steps=2):
    h = harness(arch, norm)
    h.reset()
    rng = np.random.default_rng(0)
    s = RESOLUTION[arch]
    loss_w, penalty_w = _one_hot(LOSSES, loss), _one_hot(PENALTIES, penalty)
    values = []
    for t in range(1, steps + 1):
        real = tf.constant(rng.uniform(size=(BATCH, s, s, CHANNELS)), tf.float32)
        z = tf.constant(rng.uniform(-1, 1, size=(BATCH, Z_DIM)), tf.float32)
        d_loss, pen = h.d_step(real, z, loss_w, penalty_w, tf.constant(t, tf.int64))
        g_loss = h.g_step(z, loss_w)
        values.append((float(d_loss), float(pen), float(g_loss)))
    return h, values


VALID = [(a, n, lo, p) for a in RESOLUTION for n in D_NORMS[a] for lo in LOSSES for p in PENALTIES]


@pytest.mark.parametrize("arch,norm,loss,penalty", VALID,
                         ids=["-".join(c) for c in VALID])
def test_combination_trains_two_steps_without_nan(arch, norm, loss, penalty):
    _config(arch, norm, loss, penalty)  # the config itself is valid
    h, values = run_combination(arch, norm, loss, penalty)
    assert np.all(np.isfinite(values)), values
    if penalty != "none":
        assert values[0][1] > 0
    after = [v.numpy() for v in h.variables]
    assert all(np.all(np.isfinite(a)) for a in after)
    # Every kernel moved (biases may not: under wgan/hinge the last D bias has gradient exactly 0).
    changed = [not np.array_equal(a, b) for a, b, v in zip(after, h.snapshot, h.variables)
               if v.trainable and len(v.shape) >= 2]
    assert changed and all(changed), "some kernel was not updated"


PRODUCTION_CHECKS = [("resnet_cifar", "layer_norm", "ls", p) for p in PENALTIES] + [
    ("sndcgan", "spectral_norm", lo, "dragan") for lo in LOSSES]


@pytest.mark.parametrize("arch,norm,loss,penalty", PRODUCTION_CHECKS,
                         ids=["-".join(c) for c in PRODUCTION_CHECKS])
def test_harness_matches_the_production_step(arch, norm, loss, penalty):
    """First D and G step of the one-hot harness equal GANSteps' (losses, penalty and the updated
    weights) for the same weights and batch: the harness is the production step, mixed."""
    h = harness(arch, norm)
    h.reset()
    config = _config(arch, norm, loss, penalty)
    steps = GANSteps(config, h.g, h.d)
    rng = np.random.default_rng(0)
    s = RESOLUTION[arch]
    real = tf.constant(rng.uniform(size=(BATCH, s, s, CHANNELS)), tf.float32)
    z = tf.constant(rng.uniform(-1, 1, size=(BATCH, Z_DIM)), tf.float32)
    seed = tf.constant([7, 1], tf.int64)
    noise = penalties.draw_noise(penalty, tf.shape(real), seed)
    grads, d_ref, pen_ref = steps.d_replica(real, z, noise)
    h.steps.d_optimizer.apply(grads, h.d.trainable_variables)
    _, g_ref = steps.g_replica(z)
    expected = [v.numpy() for v in h.d.trainable_variables]
    h.reset()
    d_loss, pen = h.d_step(real, z, _one_hot(LOSSES, loss), _one_hot(PENALTIES, penalty),
                           tf.constant(1, tf.int64))
    got = [v.numpy() for v in h.d.trainable_variables]
    g_loss = h.g_step(z, _one_hot(LOSSES, loss))
    np.testing.assert_allclose([float(d_loss), float(pen), float(g_loss)],
                               [float(d_ref), float(pen_ref), float(g_ref)], rtol=1e-5, atol=1e-7)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
