"""Adam exactly as TF1's AdamOptimizer (spec §5.1): constant learning rate, epsilon 1e-8 added to
sqrt(v) after the bias correction has been folded into the step size."""
import tensorflow as tf


class Adam(tf.Module):
    def __init__(self, variables, learning_rate, beta1, beta2, epsilon=1e-8, name=None):
        super().__init__(name=name)
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]

    def apply(self, grads, variables):
        t = tf.cast(self.iterations + 1, tf.float32)
        lr_t = self.learning_rate * tf.sqrt(1.0 - self.beta2 ** t) / (1.0 - self.beta1 ** t)
        for g, var, m, v in zip(grads, variables, self.m, self.v):
            m.assign(self.beta1 * m + (1.0 - self.beta1) * g)
            v.assign(self.beta2 * v + (1.0 - self.beta2) * tf.square(g))
            var.assign_sub(lr_t * m / (tf.sqrt(v) + self.epsilon))
        self.iterations.assign_add(1)
