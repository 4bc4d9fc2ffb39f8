"""Losses, penalties, normalization layers and architectures against independent numpy references
(spec §1-§4, §13)."""
import numpy as np
import pytest
import tensorflow as tf

from ganhub.errors import ConfigError
from ganhub.training import Config, build_models, layers, losses, penalties
from ganhub.training.config import CHOICES, D_NORMS

REAL = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
FAKE = np.array([2.5, -1.2, 0.3, -4.0, 1.0], np.float32)


def _softplus(x):
    return np.log1p(np.exp(x.astype(np.float64)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


NUMPY_LOSSES = {
    "ns": (lambda r, f: _softplus(-r).mean() + _softplus(f).mean(), lambda f: _softplus(-f).mean()),
    "mm": (lambda r, f: _softplus(-r).mean() + _softplus(f).mean(), lambda f: np.log(1 - _sigmoid(f)).mean()),
    "ls": (lambda r, f: 0.5 * (((_sigmoid(r) - 1) ** 2).mean() + (_sigmoid(f) ** 2).mean()),
           lambda f: 0.5 * ((_sigmoid(f) - 1) ** 2).mean()),
    "wgan": (lambda r, f: -r.mean() + f.mean(), lambda f: -f.mean()),
    "hinge": (lambda r, f: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), lambda f: -f.mean()),
}


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_loss_matches_numpy(name):
    loss = losses.get_loss(name)
    d_ref, g_ref = NUMPY_LOSSES[name]
    np.testing.assert_allclose(float(loss.d_loss(REAL, FAKE)), d_ref(REAL, FAKE), rtol=1e-5)
    np.testing.assert_allclose(float(loss.g_loss(FAKE)), g_ref(FAKE), rtol=1e-5)


def _toy_discriminator():
    """logit(x) = Σ tanh(x · w) per example: nonlinear, so the input gradient varies with x."""
    w = tf.constant(np.random.default_rng(3).normal(size=(3, 3, 2)), tf.float64)
    return lambda x: tf.reduce_sum(tf.tanh(x * w), axis=[1, 2, 3])


def test_gradient_slope_penalty_matches_finite_differences():
    disc = _toy_discriminator()
    x = np.random.default_rng(0).uniform(size=(4, 3, 3, 2))
    eps = 1e-6
    slopes = []
    for i in range(len(x)):
        grad = np.zeros_like(x[i])
        for idx in np.ndindex(x[i].shape):
            up, down = x.copy(), x.copy()
            up[i][idx] += eps
            down[i][idx] -= eps
            grad[idx] = (disc(tf.constant(up))[i] - disc(tf.constant(down))[i]).numpy() / (2 * eps)
        slopes.append(np.sqrt(1e-4 + np.sum(grad ** 2)))
    expected = np.mean((np.array(slopes) - 1.0) ** 2)
    got = penalties.gradient_slope_penalty(disc, tf.constant(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_wgan_gp_interpolates_per_example_between_real_and_fake():
    real = tf.zeros([6, 2, 2, 1])
    fake = tf.ones([6, 2, 2, 1])
    alpha = penalties.draw_noise("wgan_gp", tf.shape(real), tf.constant([1, 2], tf.int64))
    assert alpha.shape == (6, 1, 1, 1)
    points = penalties.wgan_gp_points(real, fake, alpha).numpy()
    # Every pixel of example i sits at α_i along the segment; α ∈ [0, 1) differs between examples.
    np.testing.assert_allclose(points, np.broadcast_to(alpha.numpy(), points.shape))
    assert np.all((alpha.numpy() >= 0) & (alpha.numpy() < 1)) and len(np.unique(alpha)) == 6


def test_dragan_noise_is_half_global_std_around_real_and_clipped():
    rng = np.random.default_rng(1)
    real = rng.uniform(0.2, 0.8, size=(8, 5, 5, 3)).astype(np.float32)
    real[0, 0, 0, 0], real[1, 0, 0, 0] = 0.0, 1.0   # edge pixels, to exercise the clip
    std = real.std()
    noise = penalties.draw_noise("dragan", tf.shape(real), tf.constant([3, 4], tf.int64))
    assert noise.shape == real.shape
    noisy = penalties.dragan_points(tf.constant(real), noise).numpy()
    delta = noisy - real
    inner = (real > 0.5 * std) & (real < 1 - 0.5 * std)   # pixels the clip cannot reach
    assert np.all(np.abs(delta[inner]) <= 0.5 * std + 1e-6)
    np.testing.assert_allclose(delta[inner], (std * (noise.numpy() - 0.5))[inner], atol=1e-6)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0
    # the perturbation fills most of [-std/2, std/2): it is the *global* std, not per pixel
    assert np.abs(delta[inner]).max() > 0.45 * std


@pytest.mark.parametrize("arch,norm,expected_layers", [
    ("sndcgan", "spectral_norm", 8), ("dcgan", "batch_norm", 5),
    ("resnet_cifar", "layer_norm", 13), ("resnet19", "weight_norm", 19),
    ("resnet19", "spectral_norm", 19)])
def test_l2_penalty_takes_only_kernels(arch, norm, expected_layers):
    config = Config(architecture=arch, d_norm=norm, width=0.0625, resolution=32)
    _, d = build_models(config, channels=3)
    kernels = penalties.discriminator_kernels(d)
    # v2 asserts these layer counts (spec §2: N_DISCRIMINATOR_LAYERS)
    assert len(kernels) == expected_layers
    assert all(len(k.shape) in (2, 4) for k in kernels)
    others = [v for v in d.trainable_variables if not any(v is k for k in kernels)]
    assert others and all(len(v.shape) == 1 for v in others)  # biases, gamma/beta, WN g
    expected = np.mean([0.5 * np.sum(k.numpy().astype(np.float64) ** 2) for k in kernels])
    np.testing.assert_allclose(penalties.l2_penalty(kernels).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 3, 4, 5), (20, 7)])
def test_spectral_norm_sigma_matches_svd(shape):
    tf.random.set_seed(0)
    kernel = tf.random.normal(shape)
    sn = layers.SpectralNorm(shape)
    u0 = sn.u.numpy().copy()
    for _ in range(100):
        normalized = sn(kernel)
    sigma = np.linalg.svd(kernel.numpy().reshape(-1, shape[-1]), compute_uv=False)[0]
    np.testing.assert_allclose(kernel.numpy() / normalized.numpy(), sigma, rtol=1e-4)
    assert not np.allclose(sn.u.numpy(), u0)  # u persists between calls
    # the normalized kernel has spectral norm 1
    np.testing.assert_allclose(
        np.linalg.svd(normalized.numpy().reshape(-1, shape[-1]), compute_uv=False)[0], 1.0, rtol=1e-4)


def test_spectral_norm_does_one_power_iteration_per_call():
    kernel = tf.constant(np.random.default_rng(2).normal(size=(6, 4)), tf.float32)
    sn = layers.SpectralNorm((6, 4))
    u = sn.u.numpy()
    m = kernel.numpy()
    v = m.T @ u
    v /= np.linalg.norm(v)
    u1 = m @ v
    u1 /= np.linalg.norm(u1)
    out = sn(kernel).numpy()
    np.testing.assert_allclose(sn.u.numpy(), u1, rtol=1e-5)
    np.testing.assert_allclose(out, m / (u1.T @ m @ v).item(), rtol=1e-5)


def test_spectral_norm_step_shares_one_iteration_and_advances_u_once():
    """Inside one step every call uses the iteration from the step's starting u (one sigma for the
    real, fake and penalty D calls) and u moves once, as compare_gan's TF1 graph; outside, each call
    iterates."""
    kernel = tf.constant(np.random.default_rng(5).normal(size=(6, 4)), tf.float32)
    sn = layers.SpectralNorm((6, 4))
    u0, m = sn.u.numpy(), kernel.numpy()

    def iterate(u):
        v = m.T @ u
        v /= np.linalg.norm(v)
        u = m @ v
        return u / np.linalg.norm(u), v

    u1, v1 = iterate(u0)
    with layers.spectral_norm_step():
        outs = [sn(kernel).numpy() for _ in range(3)]
        np.testing.assert_array_equal(sn.u.numpy(), u0)  # written only when the step ends
    for out in outs:
        np.testing.assert_allclose(out, m / (u1.T @ m @ v1).item(), rtol=1e-5)
    np.testing.assert_allclose(sn.u.numpy(), u1, rtol=1e-5)
    u2, _ = iterate(u1)
    assert np.abs(u2 - u1).max() > 1e-3  # a second iteration would be visible
    with layers.spectral_norm_step():
        sn(kernel)
    np.testing.assert_allclose(sn.u.numpy(), u2, rtol=1e-5)


def test_d_step_and_g_step_each_advance_u_by_one_iteration(tiny_config):
    """A GANSteps D step with WGAN-GP (three D calls) and a G step move every u once each."""
    from ganhub.training.steps import GANSteps
    config = Config(**{**tiny_config, "penalty": "wgan_gp", "penalty_lambda": 10.0,
                       "loss": "wgan", "batch_size": 4})
    g, d = build_models(config, channels=1)
    steps = GANSteps(config, g, d)
    sns = [layer.spectral_norm for layer in (*d.convs, d.fc)]

    def iterate(layer, u):
        m = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]).astype(np.float64)
        v = m.T @ u
        v /= np.linalg.norm(v)
        u = m @ v
        return u / np.linalg.norm(u)

    layers_ = (*d.convs, d.fc)
    u0 = [sn.u.numpy().astype(np.float64) for sn in sns]
    expected = [iterate(layer, u) for layer, u in zip(layers_, u0)]  # from the weights before
    real = tf.random.uniform([4, 32, 32, 1])
    z = steps.latents(tf.constant(1, tf.int64))
    steps.d_step(real, z, tf.constant(1, tf.int64))
    for sn, u in zip(sns, expected):
        np.testing.assert_allclose(sn.u.numpy(), u, atol=1e-5)
    expected = [iterate(layer, sn.u.numpy().astype(np.float64)) for layer, sn in zip(layers_, sns)]
    steps.g_step(z)
    for sn, u in zip(sns, expected):
        np.testing.assert_allclose(sn.u.numpy(), u, atol=1e-5)


def test_layer_norm_statistics_per_example_over_hwc_with_per_channel_params():
    x = np.random.default_rng(4).normal(2.0, 3.0, size=(3, 4, 5, 6)).astype(np.float32)
    ln = layers.LayerNorm(6)
    assert ln.gamma.shape == (6,) and ln.beta.shape == (6,)
    y = ln(tf.constant(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2, 3)), 1.0, rtol=1e-4)
    gamma, beta = np.arange(1, 7, dtype=np.float32), np.linspace(-1, 1, 6, dtype=np.float32)
    ln.gamma.assign(gamma)
    ln.beta.assign(beta)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    var = x.var(axis=(1, 2, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(ln(tf.constant(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_uses_biased_batch_variance_and_updates_moving_averages():
    x = np.random.default_rng(5).normal(1.0, 2.0, size=(8, 3, 3, 4)).astype(np.float32)
    bn = layers.BatchNorm(4, momentum=0.9, epsilon=1e-5)
    y = bn(tf.constant(x), training=True).numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    y_eval = bn(tf.constant(x), training=False).numpy()
    np.testing.assert_allclose(y_eval, (x - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-5), rtol=1e-4,
                               atol=1e-5)


def test_weight_norm_starts_equal_to_the_kernel_and_has_norm_g():
    conv = layers.Conv2D(3, 5, 3, weight_norm=True)
    np.testing.assert_allclose(conv.effective_kernel().numpy(), conv.kernel.numpy(), rtol=1e-5)
    conv.weight_norm.g.assign(tf.fill([5], 2.0))
    norms = np.sqrt((conv.effective_kernel().numpy() ** 2).sum(axis=(0, 1, 2)))
    np.testing.assert_allclose(norms, 2.0, rtol=1e-5)


def test_unpool_inserts_zeros():
    x = np.arange(2 * 2 * 3 * 2, dtype=np.float32).reshape(2, 2, 3, 2) + 1
    y = layers.unpool(tf.constant(x)).numpy()
    expected = np.zeros((2, 4, 6, 2), np.float32)
    expected[:, ::2, ::2] = x
    np.testing.assert_array_equal(y, expected)


SPEC_COUNTS = [  # spec §13, width 1.0, 3 channels, D without normalization
    ("resnet19", 128, 13_786_115, 15_086_529),
    ("resnet_cifar", 32, 5_849_603, 1_483_137),
    ("sndcgan", 32, 3_828_739, 5_860_865),
    ("sndcgan", 128, 19_926_019, 5_983_745),
    ("dcgan", 32, 4_572_163, 4_308_609),
]


@pytest.mark.parametrize("arch,resolution,g_params,d_params", SPEC_COUNTS)
def test_parameter_counts_match_spec(arch, resolution, g_params, d_params):
    g, d = build_models(Config(architecture=arch, resolution=resolution, d_norm="none"), channels=3)
    assert (g.count_params(), d.count_params()) == (g_params, d_params)


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_resnet_d_norm_adds_two_params_per_channel_of_each_block(norm):
    plain = build_models(Config(architecture="resnet_cifar", d_norm="none"), channels=3)[1]
    normed = build_models(Config(architecture="resnet_cifar", d_norm=norm), channels=3)[1]
    # spec §13: 2·(in + out) per block; blocks (3→128), 3 × (128→128)
    assert normed.count_params() - plain.count_params() == 2 * (3 + 128) + 3 * 2 * (128 + 128)


def test_width_multiplier_and_channel_count():
    g, d = build_models(Config(architecture="resnet19", resolution=16, width=0.125, d_norm="none"),
                        channels=1)
    z = tf.random.uniform([2, 128], -1, 1)
    images = g(z, training=True)
    assert images.shape == (2, 16, 16, 1)
    assert d(images, training=True).shape == (2,)
    assert g.count_params() < 13_786_115 / 40


INVALID = [(a, n) for a in D_NORMS for n in CHOICES["d_norm"] if n not in D_NORMS[a]]


@pytest.mark.parametrize("arch,norm", INVALID, ids=[f"{a}-{n}" for a, n in INVALID])
def test_unsupported_normalization_raises_config_error(arch, norm):
    allowed = ", ".join(D_NORMS[arch])
    with pytest.raises(ConfigError, match=f"d_norm='{norm}' is not supported by architecture="
                                          f"'{arch}'; choose one of {allowed}"):
        Config(architecture=arch, d_norm=norm)
    # the other axes of the study are independent of the D norm: each valid norm of the
    # architecture builds a config with every loss and penalty
    for valid in D_NORMS[arch]:
        for loss in CHOICES["loss"]:
            for penalty in CHOICES["penalty"]:
                assert Config(architecture=arch, d_norm=valid, loss=loss, penalty=penalty).d_norm == valid


def test_invalid_combinations_are_exactly_the_ones_compare_gan_rejects():
    assert sorted(INVALID) == sorted([
        ("sndcgan", "batch_norm"), ("sndcgan", "layer_norm"), ("sndcgan", "weight_norm"),
        ("dcgan", "layer_norm"), ("dcgan", "weight_norm")])


@pytest.mark.parametrize("arch,resolution", [("sndcgan", 4), ("dcgan", 8), ("resnet19", 48),
                                             ("resnet_cifar", 64)])
def test_bad_resolution_raises_config_error(arch, resolution):
    with pytest.raises(ConfigError, match=f"resolution={resolution}"):
        Config(architecture=arch, resolution=resolution, d_norm="none")


@pytest.mark.parametrize("arch,resolution,fc_side", [
    ("sndcgan", 28, 4), ("sndcgan", 30, 4), ("sndcgan", 32, 4), ("dcgan", 28, 2), ("dcgan", 24, 2),
    ("dcgan", 32, 2)])
def test_dcgan_style_networks_use_compare_gans_ceil_sizing(arch, resolution, fc_side):
    """compare_gan v2 sized SNDCGAN/DCGAN with ceil(s/2) per stride-2 layer (conv_out_size_same):
    at 28×28 G starts from 4×4 (SNDCGAN) / 2×2 (DCGAN) and upsamples 4 → 7 → 14 → 28; D's SAME
    convolutions end at the same size."""
    assert layers.halvings(28, 4) == [28, 14, 7, 4, 2]
    config = Config(architecture=arch, resolution=resolution, d_norm="none", width=0.0625, z_dim=8)
    g, d = build_models(config, channels=1)
    images = g(tf.random.uniform([2, 8], -1, 1), training=True)
    assert images.shape == (2, resolution, resolution, 1)
    assert d(images, training=True).shape == (2,)
    assert d.fc.kernel.shape[0] == fc_side * fc_side * d.convs[-1].kernel.shape[-1]


def test_unknown_key_and_value_list_valid_ones():
    with pytest.raises(ConfigError, match="valid keys: architecture"):
        Config.from_dict({"archtecture": "dcgan"})
    with pytest.raises(ConfigError, match="choose one of ns, mm, ls, wgan, hinge"):
        Config(loss="bce")
