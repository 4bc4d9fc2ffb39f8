"""Adam bit for bit as TF1's ``tf.compat.v1.train.AdamOptimizer`` (spec §5.1); and the
learning-rate schedule.

The update is TF's own ``ResourceApplyAdam`` kernel, the one TF1's AdamOptimizer ran, fed as TF1 fed
it: float32 learning rate, beta1, beta2 and epsilon, and the bias corrections from two float32
*running products* ``beta1_power``/``beta2_power`` (initialized to beta1/beta2, multiplied by beta
after every update), not ``beta ** t``. The kernel computes
    alpha = lr · sqrt(1 − beta2_power) / (1 − beta1_power)
    m += (g − m)(1 − beta1);  v += (g² − v)(1 − beta2);  var −= m·alpha / (sqrt(v) + epsilon)
in float32. tests/training/test_golden.py checks 100 steps against values TF 1.15's AdamOptimizer
produced. Under XLA (``jit_compile``) the kernel is XLA's own lowering of the same formula, which
may round differently.

Checkpoints: each Adam holds ``iterations``, ``m``, ``v`` and (since the switch to the running
products) ``beta1_power`` and ``beta2_power``. A checkpoint written before the switch has no powers;
``Adam.restore_powers`` rebuilds them from ``iterations`` by the same float32 running product, so
such a run resumes (its earlier steps used ``beta ** t``, a difference in the last bits).

The study trains with a constant learning rate. ``lr_decay="linear"`` is ganhub's option (off by
default): SN-GAN's linear decay (Miyato et al. 2018; Mimicry's ``lr_decay="linear"``), constant up
to D step ``lr_decay_start``, then falling linearly so that D step t (1-based) uses
    learning_rate · (steps − t + 1) / (steps − lr_decay_start)
i.e. the full rate on step lr_decay_start + 1 and 1/(steps − lr_decay_start) of it on the last step.
The G step that follows D step t uses the same factor.
"""
import numpy as np
import tensorflow as tf
from ganhub.training.config import CHOICES

LR_DECAYS = CHOICES["lr_decay"]


def lr_scale(step, lr_decay, lr_decay_start, steps):
    """The factor on the learning rate of D step ``step`` (1-based; an int, array or int tensor),
    as a float64 tensor of the same shape."""
    if lr_decay not in LR_DECAYS:
        raise ValueError(f"lr_decay={lr_decay!r} is not one of {', '.join(LR_DECAYS)}")
    t = tf.cast(step, tf.float64)
    if lr_decay == "none":
        return tf.ones_like(t)
    return tf.minimum(tf.constant(1.0, tf.float64), (steps - t + 1.0) / float(steps - lr_decay_start))


def running_power(beta, steps):
    """TF1's float32 ``beta_power`` after ``steps`` updates: beta multiplied into itself, in
    float32, ``steps`` times (beta^(steps+1) up to rounding)."""
    beta = np.float32(beta)
    power = beta
    for _ in range(int(steps)):
        power = np.float32(power * beta)
    return power


class Adam(tf.Module):
    def __init__(self, variables, learning_rate, beta1, beta2, epsilon=1e-8, name=None):
        super().__init__(name=name)
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]
        self.beta1_power = tf.Variable(np.float32(beta1), trainable=False, name="beta1_power")
        self.beta2_power = tf.Variable(np.float32(beta2), trainable=False, name="beta2_power")
        self._strategy = tf.distribute.get_strategy()  # the one whose scope made the variables

    def apply(self, grads, variables, lr_scale=1.0):
        """One update (in cross-replica context under a strategy); ``lr_scale`` multiplies the
        learning rate (the schedule's factor)."""
        lr = tf.constant(self.learning_rate, tf.float32) * tf.cast(lr_scale, tf.float32)
        beta1 = tf.constant(self.beta1, tf.float32)
        beta2 = tf.constant(self.beta2, tf.float32)
        epsilon = tf.constant(self.epsilon, tf.float32)
        extended = self._strategy.extended

        def update(var, m, v, beta1_power, beta2_power, grad):
            return tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle, beta1_power=beta1_power.read_value(),
                beta2_power=beta2_power.read_value(), lr=lr, beta1=beta1, beta2=beta2,
                epsilon=epsilon, grad=grad, use_locking=False, use_nesterov=False)

        updates = [extended.update(var, update, args=(m, v, self.beta1_power, self.beta2_power, g),
                                   group=True)
                   for g, var, m, v in zip(grads, variables, self.m, self.v)]
        with tf.control_dependencies([u for u in updates if u is not None]):
            # TF1's _finish: the powers advance after every variable has been updated
            self.beta1_power.assign(self.beta1_power * beta1)
            self.beta2_power.assign(self.beta2_power * beta2)
            self.iterations.assign_add(1)

    def restore_powers(self):
        """Set the running products from ``iterations`` (checkpoints written before they existed)."""
        steps = int(self.iterations.numpy())
        self.beta1_power.assign(running_power(self.beta1, steps))
        self.beta2_power.assign(running_power(self.beta2, steps))

    def legacy_view(self):
        """A module with this optimizer's variables as laid out in pre-running-product
        checkpoints (iterations, m, v), to restore such a checkpoint."""
        view = tf.Module(name=self.name)
        view.iterations, view.m, view.v = self.iterations, self.m, self.v
        return view
