"""One D step and one G step (spec §5.2b) under a ``tf.distribute`` strategy.

Distribution: the global batch (real images, z, the penalty's noise) is drawn once from the
stateless per-step streams and each replica takes its contiguous slice (``replica_id_in_sync_group``
picks it, so MultiWorkerMirrored workers, which all draw the same global batch, agree). Each replica
computes its losses as means over its own slice and scales them, and their gradients, by
local_batch / global_batch before a SUM all-reduce: the result is the global-batch mean. Adam then
updates the mirrored variables once, in cross-replica context. BN in G (and in D) normalizes with
each replica's own batch statistics and keeps per-replica moving averages that are averaged when
read (ON_READ variables), as Keras does; spectral-norm u vectors likewise. With one replica none of
this machinery runs and the step is the plain single-device computation.

Spectral norm: every D call of one step (real, fake, penalty) uses the power iteration from the
step's starting ``u``, and ``u`` advances once per D step and once per G step, as in compare_gan's
TF1 graph (``layers.spectral_norm_step``; on each replica under a strategy).

Several steps per call (``train_steps``, one device): k training steps (D step, its G step when due,
the generator-EMA update) run in one ``tf.function`` call, a ``tf.while_loop`` over the k real
batches with z, the penalty's noise and the learning rate drawn in the graph from the step number.
Each step calls the same D and G update functions as ``d_step``/``g_step`` (XLA-compiled or not),
and the weights are bit for bit those of one call per step (tests/training/test_steps_per_call.py).
What it saves is per-step work outside the graph: on 2 busy cores, ~4 ms of Python and dispatch
per step (7 eager calls and 3 host syncs), a tenth of a width-1/8 SNDCGAN step.
"""
import time

import numpy as np
import tensorflow as tf
from ganhub.training import losses, penalties
from ganhub.training.layers import spectral_norm_step
from ganhub.training.optim import Adam, lr_scale

from ganhub.errors import ConfigError

# Offsets that separate the stateless RNG streams of one step (do not change: resumed runs rely
# on them).
Z_STREAM, PENALTY_STREAM = 0, 1


class GANSteps:
    def __init__(self, config, generator, discriminator, strategy=None, ema=None, jit_compile=None):
        """``ema``: (ema_variables, generator_variables, decay, start) of the generator EMA that
        ``train_steps`` updates after each step t >= start (copy at t == start; training/ema.py).
        ``jit_compile``: True/False instead of the config's (which may be "auto": ``choose_jit``)."""
        jit = config.jit_compile if jit_compile is None else jit_compile
        if not isinstance(jit, bool):
            raise ValueError(f"jit_compile={jit!r}: resolve 'auto' with choose_jit first")
        self.config = config
        self.ema = ema
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % self.replicas:
            raise ConfigError(f"batch_size={config.batch_size} must be divisible by the number of "
                              f"replicas ({self.replicas})")
        self.generator, self.discriminator = generator, discriminator
        self.loss = losses.get_loss(config.loss)
        with self.strategy.scope():
            self.d_optimizer = Adam(discriminator.trainable_variables, config.learning_rate,
                                    config.beta1, config.beta2, name="d_optimizer")
            self.g_optimizer = Adam(generator.trainable_variables, config.learning_rate,
                                    config.beta1, config.beta2, name="g_optimizer")
        self.jit_compile = jit
        if self.replicas == 1:
            self._d_update = tf.function(self._d_step, jit_compile=jit)
            self._g_update = tf.function(self._g_step, jit_compile=jit)
            self._d_replica, self._g_replica = self.d_replica, self.g_replica
        else:  # XLA compiles each replica's computation; the all-reduce and update stay outside
            self._d_update = tf.function(self._d_step)
            self._g_update = tf.function(self._g_step)
            self._d_replica = tf.function(self.d_replica, jit_compile=jit) if jit else self.d_replica
            self._g_replica = tf.function(self.g_replica, jit_compile=jit) if jit else self.g_replica
        # Random numbers are drawn outside the (possibly XLA-compiled) step: XLA implements the
        # stateless RNG ops differently, and a run must see the same z and penalty noise whether
        # jit_compile is on or off (it may be toggled when resuming).
        self.latents = tf.function(self._latents)
        self.penalty_noise = tf.function(self._penalty_noise)
        self._chunk_fn = None

    # --- random streams ------------------------------------------------------------------------
    def _seed(self, step, stream):
        return tf.stack([tf.constant(self.config.seed, tf.int64),
                         tf.cast(step, tf.int64) * 2 + stream])

    def _penalty_noise(self, real_shape, step):
        return penalties.draw_noise(self.config.penalty, real_shape,
                                    self._seed(step, PENALTY_STREAM))

    def _latents(self, step):
        """z ~ U[-1, 1]^{batch × z_dim} of step ``step``, for the global batch."""
        return tf.random.stateless_uniform([self.config.batch_size, self.config.z_dim],
                                           self._seed(step, Z_STREAM), -1.0, 1.0)

    # --- per-replica computations --------------------------------------------------------------
    def d_replica(self, real, z, noise):
        """Gradients of the D objective on this replica's slice, with d_loss and the penalty; all
        divided by the number of replicas (so that summing over replicas gives the global mean)."""
        d_vars = self.discriminator.trainable_variables
        with spectral_norm_step(), tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.loss.d_loss(real_logits, fake_logits)
            penalty = penalties.compute(
                self.config.penalty, lambda x: self.discriminator(x, training=True),
                self.discriminator, real, fake, noise)
            total = d_loss + self.config.penalty_lambda * penalty
        grads = tape.gradient(total, d_vars)
        return self._scaled(grads, d_loss, penalty)

    def g_replica(self, z):
        g_vars = self.generator.trainable_variables
        with spectral_norm_step(), tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            g_loss = self.loss.g_loss(self.discriminator(fake, training=True))
        grads = tape.gradient(g_loss, g_vars)
        return self._scaled(grads, g_loss)

    def _scaled(self, grads, *values):
        if self.replicas == 1:
            return (grads, *values)
        share = 1.0 / self.replicas  # local batch / global batch (equal slices)
        return ([g * share for g in grads], *(v * share for v in values))

    # --- global steps --------------------------------------------------------------------------
    def lr_scale(self, step):
        """The learning-rate factor of D step ``step`` (and of the G step after it), float32."""
        c = self.config
        return tf.cast(lr_scale(step, c.lr_decay, c.lr_decay_start, c.steps), tf.float32)

    def d_step(self, real, z, step):
        """D step ``step`` on the global batch; returns (d_loss, penalty)."""
        return self._d_update(real, z, self.penalty_noise(tf.shape(real), step),
                              self.lr_scale(step))

    def g_step(self, z, step=None):
        """The G step after D step ``step`` (needed only when the learning rate decays)."""
        if step is None:
            if self.config.lr_decay != "none":
                raise ValueError("g_step needs the step when the learning rate decays")
            step = 1
        return self._g_update(z, self.lr_scale(step))

    def _d_step(self, real, z, noise, scale):
        grads, d_loss, penalty = self._run(self._d_replica, real, z, noise)
        self.d_optimizer.apply(grads, self.discriminator.trainable_variables, scale)
        return d_loss, penalty

    def _g_step(self, z, scale):
        grads, g_loss = self._run(self._g_replica, z)
        self.g_optimizer.apply(grads, self.generator.trainable_variables, scale)
        return g_loss

    def _run(self, fn, *global_args):
        if self.replicas == 1:
            return fn(*global_args)
        replicas = self.replicas

        def on_replica(*args):
            ctx = tf.distribute.get_replica_context()
            index = ctx.replica_id_in_sync_group
            local = [tf.gather(tf.reshape(a, [replicas, -1, *a.shape[1:]]), index) for a in args]
            return fn(*local)

        per_replica = self.strategy.run(on_replica, args=global_args)
        # Strategy.reduce takes one value, not a nest (MirroredStrategy happens to accept a nest;
        # MultiWorkerMirroredStrategy packs the list of gradients into one tensor and fails).
        return tf.nest.map_structure(
            lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None), per_replica)

    # --- several steps per call ----------------------------------------------------------------
    def train_steps(self, first, reals):
        """Training steps first … first + k − 1 in one call (one device only): D step t on
        ``reals[t − first]`` (``reals``: [k, batch, H, W, C], k ≥ 1), then its G step when
        (t − 1) mod disc_iters == 0, then the generator-EMA update (if any). Returns (d_loss,
        penalty, g_loss) as [k] float32 tensors; g_loss is 0 where no G step ran."""
        if self.replicas != 1:
            raise ValueError("train_steps runs on one device; use d_step/g_step under a strategy")
        reals = tf.convert_to_tensor(reals, tf.float32)
        if self._chunk_fn is None:
            # traced once for every k; the random draws stay outside XLA (see __init__): the loop
            # is plain and calls the (possibly XLA-compiled) D and G updates, the same functions
            # d_step and g_step call, so each step computes exactly what they compute
            self._chunk_fn = tf.function(self._chunk, autograph=False, input_signature=[
                tf.TensorSpec([], tf.int64), tf.TensorSpec([None, *reals.shape[1:]], tf.float32)])
        return self._chunk_fn(tf.convert_to_tensor(first, tf.int64), reals)

    def _chunk(self, first, reals):
        def step(i):
            t = first + tf.cast(i, tf.int64)
            real = reals[i]
            return self._one_step(t, real, self._latents(t), self._penalty_noise(tf.shape(real), t),
                                  self.lr_scale(t))
        return self._loop(tf.shape(reals)[0], step)

    def _one_step(self, t, real, z, noise, scale):
        d_loss, penalty = self._d_update(real, z, noise, scale)
        n = self.config.disc_iters
        if n == 1:
            g_loss = self._g_update(z, scale)
        else:
            g_loss = tf.cond(tf.equal((t - 1) % n, 0), lambda: self._g_update(z, scale),
                             lambda: tf.constant(0.0))
        if self.ema is not None:
            from ganhub.training import ema
            ema_vars, g_vars, decay, start = self.ema

            def copy():
                ema.copy_weights(ema_vars, g_vars)
                return tf.constant(True)

            def update():
                ema.ema_update(ema_vars, g_vars, decay)
                return tf.constant(True)

            with tf.control_dependencies([g_loss]):   # after the G step's update
                done = tf.cond(tf.equal(t, start), copy,
                               lambda: tf.cond(t > start, update, lambda: tf.constant(False)))
            with tf.control_dependencies([done]):
                g_loss = tf.identity(g_loss)
        return d_loss, penalty, g_loss

    @staticmethod
    def _loop(k, step):
        """Run ``step(i)`` for i = 0 … k − 1 in order (parallel_iterations=1: step i + 1 reads the
        variables step i wrote); its three scalar losses gathered into [k] tensors."""
        def body(i, *arrays):
            losses = step(i)
            return (i + 1, *(a.write(i, v) for a, v in zip(arrays, losses)))

        arrays = [tf.TensorArray(tf.float32, size=k) for _ in range(3)]
        _, *arrays = tf.while_loop(lambda i, *_: i < k, body, [tf.constant(0), *arrays],
                                   parallel_iterations=1)
        return tuple(a.stack() for a in arrays)


def choose_jit(config, generator, discriminator, real, steps=3):
    """(jit_compile, description) for ``config.jit_compile``: as configured when true or false;
    for "auto", whichever of plain tf.function and XLA ran a D step + G step faster on this
    machine, timed alternately (median of ``steps`` each, after one warm-up step that includes
    XLA's compilation) on ``real`` (one batch) from the networks' current weights, which are put
    back afterwards bit for bit (the measurement's optimizers are thrown away). The ranking
    depends on the CPU: XLA was 2x faster at width 1 on a 2-core AVX2 machine and 0.3-0.7x on
    AVX-512 ones (benchmarks/train_step.py)."""
    if config.jit_compile != "auto":
        return config.jit_compile, f"{'on' if config.jit_compile else 'off'} (jit_compile: " \
                                   f"{str(config.jit_compile).lower()})"
    variables = list(generator.variables) + list(discriminator.variables)
    saved = [v.numpy() for v in variables]
    try:
        runs = {}
        for jit in (False, True):
            s = GANSteps(config, generator, discriminator, jit_compile=jit)
            t = tf.constant(1, tf.int64)
            z = s.latents(t)

            def run(s=s, z=z, t=t):
                s.d_step(real, z, t)[0].numpy()
                s.g_step(z, t).numpy()
            run()
            runs[jit] = run
        times = {False: [], True: []}
        for _ in range(steps):
            for jit, run in runs.items():
                start = time.perf_counter()
                run()
                times[jit].append(time.perf_counter() - start)
    finally:
        for v, value in zip(variables, saved):
            v.assign(value)
    plain, xla = (float(np.median(times[j])) for j in (False, True))
    on = xla < plain
    return on, (f"{'on' if on else 'off'} (jit_compile: auto; measured {plain:.3g} s/step plain, "
                f"{xla:.3g} s/step XLA)")
