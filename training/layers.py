"""Layers as plain ``tf.Module``s, with compare_gan v2 semantics (spec §3, §4.0).

Keras layers are not used on purpose: contrib batch norm (biased batch variance, in-place moving
average update on every training-mode call), persistent spectral-norm ``u`` vectors updated on every
call, and per-channel layer-norm parameters over (H, W, C) statistics are easier to get exactly right
by hand, and plain modules export to a SavedModel with nothing but their variables.
"""
import contextlib
import threading

import numpy as np
import tensorflow as tf

WEIGHT_STDDEV = 0.02


_INIT = threading.local()  # the generator of initial weights inside ``initial_weights``


@contextlib.contextmanager
def initial_weights(seed):
    """Layers built inside draw their initial weights and spectral-norm ``u`` vectors from a numpy
    generator seeded with ``seed``: the same networks for the same seed, on any device or strategy,
    and TensorFlow's global seed (the caller's) is left alone."""
    previous = getattr(_INIT, "rng", None)
    _INIT.rng = np.random.default_rng(seed)
    try:
        yield
    finally:
        _INIT.rng = previous


def _normal(shape, stddev=1.0, truncated=False):
    """N(0, stddev²), or truncated at 2·stddev as tf.random.truncated_normal (redrawn beyond)."""
    rng = getattr(_INIT, "rng", None)
    if rng is None:
        draw = tf.random.truncated_normal if truncated else tf.random.normal
        return draw(shape, stddev=stddev)
    x = rng.standard_normal(tuple(int(d) for d in shape))
    if truncated:
        beyond = np.abs(x) > 2.0
        while beyond.any():
            x[beyond] = rng.standard_normal(int(beyond.sum()))
            beyond = np.abs(x) > 2.0
    return tf.constant((x * stddev).astype(np.float32))


def _init(shape, stddev=WEIGHT_STDDEV, truncated=False):
    return _normal(shape, stddev, truncated)


def _replica_variable(initial, name):
    """A non-trainable state variable (BN moving statistics, SN u) that each replica updates and
    that is averaged across replicas when read, as Keras does for its BN statistics."""
    return tf.Variable(initial, trainable=False, name=name,
                       synchronization=tf.VariableSynchronization.ON_READ,
                       aggregation=tf.VariableAggregation.MEAN)


_STEP = threading.local()  # per thread: MirroredStrategy runs each replica in its own thread


@contextlib.contextmanager
def spectral_norm_step():
    """One training step in compare_gan's sense: every spectral-norm call inside it starts from the
    ``u`` the step began with, and each ``u`` advances by exactly one power iteration, written when
    the step ends.

    In compare_gan's TF1 graph the real, fake and penalty D calls of one ``sess.run`` all read
    ``u`` before any of them writes it, so they share one sigma and ``u`` moves once per D step (and
    once per G step). Without this context each call iterates and writes on its own (2-3 iterations
    per D step, different sigmas). Under tf.distribute, enter it inside the replica function: each
    replica advances its own copy of ``u`` (all copies agree: ``u`` depends on the weights only).
    """
    pending = {}
    stack = getattr(_STEP, "stack", None)
    if stack is None:
        stack = _STEP.stack = []
    stack.append(pending)
    try:
        yield
    finally:
        stack.pop()
    for layer, (u, _) in pending.values():
        layer.u.assign(u)


def _current_step():
    stack = getattr(_STEP, "stack", None)
    return stack[-1] if stack else None


class SpectralNorm(tf.Module):
    """W / sigma(W) with one power iteration and a persistent left vector u (spec §3.4).

    The kernel is viewed as a matrix [prod(shape[:-1]), shape[-1]]; u has shape [rows, 1], starts as
    N(0, 1) (not normalized). Outside ``spectral_norm_step`` every call iterates once and
    overwrites u, training or not (one call = one ``sess.run`` of compare_gan); inside it all calls
    use the iteration from the step's starting u, written once at the end.
    """

    def __init__(self, kernel_shape, name=None):
        super().__init__(name=name)
        rows = int(np.prod(kernel_shape[:-1]))
        self.u = _replica_variable(_normal([rows, 1]), "u")

    @staticmethod
    def power_iteration(matrix, u):
        """One power iteration: (u', v) with v = normalize(Wᵀu), u' = normalize(W v)."""
        v = tf.math.l2_normalize(tf.matmul(matrix, u, transpose_a=True), epsilon=1e-12)
        u = tf.math.l2_normalize(tf.matmul(matrix, v), epsilon=1e-12)
        return u, v

    def __call__(self, kernel):
        matrix = tf.reshape(kernel, [-1, kernel.shape[-1]])
        step = _current_step()
        if step is None:
            u, v = self.power_iteration(matrix, self.u)
            self.u.assign(u)
        else:
            if id(self) not in step:
                step[id(self)] = (self, self.power_iteration(matrix, self.u))
            u, v = step[id(self)][1]
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        sigma = tf.squeeze(tf.matmul(tf.matmul(u, matrix, transpose_a=True), v))
        return kernel / sigma


class WeightNorm(tf.Module):
    """W = g · V / ‖V‖ with the norm over all axes but the output one (Salimans & Kingma).

    compare_gan has weight-norm ops but never wires them into an architecture (spec §3.5), so this
    is ganhub's own choice: g starts at ‖V_init‖ per output unit (the first forward pass equals the
    unnormalized layer) instead of the paper's data-dependent initialization, which would need an
    extra init pass and breaks a pure "build, then train" flow.
    """

    def __init__(self, kernel, name=None):
        super().__init__(name=name)
        self.g = tf.Variable(self.norms(kernel), name="g")

    @staticmethod
    def norms(kernel):
        axes = list(range(len(kernel.shape) - 1))
        return tf.sqrt(tf.reduce_sum(tf.square(kernel), axis=axes))

    def __call__(self, kernel):
        return kernel * (self.g / tf.maximum(self.norms(kernel), 1e-12))


class _Kernelled(tf.Module):
    """Shared kernel + bias + optional spectral or weight norm of Dense/Conv/Deconv."""

    def __init__(self, kernel_shape, bias_size, spectral_norm, truncated, name, weight_norm=False):
        super().__init__(name=name)
        if spectral_norm and weight_norm:
            raise ValueError("a layer takes spectral_norm or weight_norm, not both")
        self.kernel = tf.Variable(_init(kernel_shape, truncated=truncated), name="kernel")
        self.bias = tf.Variable(tf.zeros([bias_size]), name="bias")
        self.spectral_norm = SpectralNorm(kernel_shape, name="spectral_norm") if spectral_norm else None
        if weight_norm:  # only set when used: keeps the object graph of older checkpoints intact
            self.weight_norm = WeightNorm(self.kernel, name="weight_norm")

    def effective_kernel(self):
        if self.spectral_norm is not None:
            return self.spectral_norm(self.kernel)
        if getattr(self, "weight_norm", None) is not None:
            return self.weight_norm(self.kernel)
        return self.kernel


class Dense(_Kernelled):
    """``linear``: W ~ N(0, 0.02²), bias 0."""

    def __init__(self, in_units, units, spectral_norm=False, weight_norm=False, name=None):
        super().__init__([in_units, units], units, spectral_norm, False, name, weight_norm)

    def __call__(self, x):
        return tf.matmul(x, self.effective_kernel()) + self.bias


class Conv2D(_Kernelled):
    """``conv2d``, padding SAME; truncated-normal init unless ``truncated=False`` (SNDCGAN D)."""

    def __init__(self, in_channels, filters, kernel_size, stride=1, spectral_norm=False,
                 truncated=True, weight_norm=False, name=None):
        shape = [kernel_size, kernel_size, in_channels, filters]
        super().__init__(shape, filters, spectral_norm, truncated, name, weight_norm)
        self.stride = stride

    def __call__(self, x):
        y = tf.nn.conv2d(x, self.effective_kernel(), self.stride, padding="SAME")
        return tf.nn.bias_add(y, self.bias)


def same_size(size, stride):
    """Output size of a SAME-padded stride-``stride`` convolution: ceil(size / stride), compare_gan's
    ``conv_out_size_same`` (28 → 14 → 7 → 4 → 2)."""
    return -(-int(size) // int(stride))


def halvings(size, n):
    """[size, ceil(size/2), …] with n halvings: the feature-map sizes of compare_gan's DCGAN-style
    networks at any resolution (28: [28, 14, 7, 4, 2])."""
    sizes = [int(size)]
    for _ in range(n):
        sizes.append(same_size(sizes[-1], 2))
    return sizes


class Conv2DTranspose(_Kernelled):
    """``deconv2d``: conv2d_transpose, padding SAME, W ~ N(0, 0.02²); output size ``output_size``
    (compare_gan passes it explicitly: e.g. 4 → 7 at 28×28), by default input × stride."""

    def __init__(self, in_channels, filters, kernel_size, stride=2, output_size=None, name=None):
        shape = [kernel_size, kernel_size, filters, in_channels]
        super().__init__(shape, filters, False, False, name)
        self.stride = stride
        self.filters = filters
        self.output_size = output_size

    def __call__(self, x):
        shape = tf.shape(x)
        h = self.output_size or x.shape[1] * self.stride
        w = self.output_size or x.shape[2] * self.stride
        out_shape = tf.stack([shape[0], h, w, self.filters])
        y = tf.nn.conv2d_transpose(x, self.kernel, out_shape, self.stride, padding="SAME")
        y = tf.reshape(y, [-1, h, w, self.filters])
        return tf.nn.bias_add(y, self.bias)


class BatchNorm(tf.Module):
    """contrib ``batch_norm`` with updates_collections=None (spec §3.2).

    Training mode normalizes with the biased batch variance over all axes but the last and updates
    the moving averages in place (decay = momentum); inference mode uses the moving averages.
    """

    def __init__(self, num_features, momentum=0.9, epsilon=1e-5, name=None):
        super().__init__(name=name)
        self.momentum = momentum
        self.epsilon = epsilon
        self.gamma = tf.Variable(tf.ones([num_features]), name="gamma")
        self.beta = tf.Variable(tf.zeros([num_features]), name="beta")
        self.moving_mean = _replica_variable(tf.zeros([num_features]), "moving_mean")
        self.moving_variance = _replica_variable(tf.ones([num_features]), "moving_variance")

    def __call__(self, x, training):
        if training:
            axes = list(range(len(x.shape) - 1))
            mean, variance = tf.nn.moments(x, axes)
            # TF1's assign_moving_average (zero_debias=False), rounding included:
            # moving -= (moving - value) · (1 - decay)
            rate = 1.0 - self.momentum
            self.moving_mean.assign_sub((self.moving_mean - mean) * rate)
            self.moving_variance.assign_sub((self.moving_variance - variance) * rate)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)


class LayerNorm(tf.Module):
    """contrib ``layer_norm`` (spec §3.3): statistics per example over all non-batch axes (H, W, C
    jointly), biased variance, epsilon 1e-12; gamma and beta per channel. Keras' LayerNormalization
    with axis=[1, 2, 3] would create per-(H, W, C) parameters instead."""

    def __init__(self, num_features, epsilon=1e-12, name=None):
        super().__init__(name=name)
        self.epsilon = epsilon
        self.gamma = tf.Variable(tf.ones([num_features]), name="gamma")
        self.beta = tf.Variable(tf.zeros([num_features]), name="beta")

    def __call__(self, x, training=True):
        del training  # contrib only toggled trainability with it
        axes = list(range(1, len(x.shape)))
        mean, variance = tf.nn.moments(x, axes, keepdims=True)
        return tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)


def lrelu(x, leak=0.2):
    """compare_gan's ``tf.maximum(x, leak * x)`` (0 < leak < 1), as the LeakyRelu op: the same
    values, first and second derivatives, bit for bit, except at exactly x = 0 (max's gradient is
    1 there, LeakyRelu's ``leak``). max's backward pass (GreaterEqual, two SelectV2, Mul, AddN per
    layer) took ~25% of SNDCGAN's step time at width 1/8.

    The gradient is LeakyReluGrad of the *output* (its sign is the input's): the pre-activation
    then has a single consumer, so grappler fuses conv + bias + LeakyRelu into one oneDNN kernel;
    with TF's own gradient (which reads the input) that fusion fails ("remapper failed: ...
    fanout ... for missing node", logged as an error on every trace)."""
    @tf.custom_gradient
    def leaky(x):
        y = tf.nn.leaky_relu(x, leak)

        def grad(dy):
            return tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=leak)
        return y, grad
    return leaky(x)


def unpool(x):
    """Zero-insertion 2× upsampling (spec §4.3): out[2i, 2j] = x[i, j], the other three positions of
    each 2×2 cell are 0 (not nearest or bilinear)."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    zeros = tf.zeros_like(x)
    rows = tf.reshape(tf.stack([x, zeros], axis=3), [-1, h, 2 * w, c])
    return tf.reshape(tf.stack([rows, tf.zeros_like(rows)], axis=2), [-1, 2 * h, 2 * w, c])


def downsample(x):
    """2×2 average pool, stride 2, SAME padding (ResNet D blocks)."""
    return tf.nn.avg_pool2d(x, 2, 2, padding="SAME")


class Network(tf.Module):
    """Base of generators and discriminators: adds ``count_params()`` (trainable parameters, the
    convention of spec §13: BN/LN gamma and beta count, moving statistics and SN u do not)."""

    def count_params(self):
        return int(sum(np.prod(v.shape) for v in self.trainable_variables))
