"""Adam exactly as TF1's AdamOptimizer (spec §5.1): epsilon 1e-8 added to sqrt(v) after the bias
correction has been folded into the step size; and the learning-rate schedule.

The study trains with a constant learning rate. ``lr_decay="linear"`` is ganhub's option (off by
default): SN-GAN's linear decay (Miyato et al. 2018; Mimicry's ``lr_decay="linear"``), constant up
to D step ``lr_decay_start``, then falling linearly so that D step t (1-based) uses
    learning_rate · (steps − t + 1) / (steps − lr_decay_start)
i.e. the full rate on step lr_decay_start + 1 and 1/(steps − lr_decay_start) of it on the last step.
The G step that follows D step t uses the same factor.
"""
import tensorflow as tf

from training.config import CHOICES

LR_DECAYS = CHOICES["lr_decay"]


def lr_scale(step, lr_decay, lr_decay_start, steps):
    """The factor on the learning rate of D step ``step`` (1-based; an int, array or int tensor),
    as a float64 tensor of the same shape."""
    if lr_decay not in LR_DECAYS:
        raise ValueError(f"lr_decay={lr_decay!r} is not one of {', '.join(LR_DECAYS)}")
    t = tf.cast(step, tf.float64)
    if lr_decay == "none":
        return tf.ones_like(t)
    return tf.minimum(1.0, (steps - t + 1.0) / float(steps - lr_decay_start))


class Adam(tf.Module):
    def __init__(self, variables, learning_rate, beta1, beta2, epsilon=1e-8, name=None):
        super().__init__(name=name)
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]

    def apply(self, grads, variables, lr_scale=1.0):
        """One update; ``lr_scale`` multiplies the learning rate (the schedule's factor)."""
        t = tf.cast(self.iterations + 1, tf.float32)
        lr_t = self.learning_rate * lr_scale * tf.sqrt(1.0 - self.beta2 ** t) / (1.0 - self.beta1 ** t)
        for g, var, m, v in zip(grads, variables, self.m, self.v):
            m.assign(self.beta1 * m + (1.0 - self.beta1) * g)
            v.assign(self.beta2 * v + (1.0 - self.beta2) * tf.square(g))
            var.assign_sub(lr_t * m / (tf.sqrt(v) + self.epsilon))
        self.iterations.assign_add(1)
