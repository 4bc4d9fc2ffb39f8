"""The registries of losses and penalties drive the config, and every registered penalty's
production dispatch (``penalties.compute``) matches an independent numpy computation."""
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from ganhub.training import losses, penalties
from ganhub.training.config import CHOICES, Config
from ganhub.errors import ConfigError

W = np.random.default_rng(5).normal(size=(3, 3, 2))


def _toy_d(x):
    """logit(x) = Σ tanh(x · w): ∂logit/∂x = w (1 − tanh²(x · w)), so slopes depend on x."""
    return tf.reduce_sum(tf.tanh(x * tf.constant(W, x.dtype)), axis=[1, 2, 3])


def _np_slope_penalty(points):
    grads = W * (1.0 - np.tanh(points * W) ** 2)
    slopes = np.sqrt(1e-4 + (grads ** 2).sum(axis=(1, 2, 3)))
    return ((slopes - 1.0) ** 2).mean()


class _ToyD(tf.Module):
    def __init__(self):
        rng = np.random.default_rng(2)
        self.k1 = tf.Variable(rng.normal(size=(3, 3, 2, 4)), name="conv/kernel")
        self.b1 = tf.Variable(rng.normal(size=(4,)), name="conv/bias")
        self.k2 = tf.Variable(rng.normal(size=(8, 1)), name="linear/kernel")
        self.u = tf.Variable(rng.normal(size=(1, 4)), name="conv/u", trainable=False)


def test_config_choices_are_the_registries():
    assert CHOICES["loss"] == tuple(losses.LOSSES)
    assert CHOICES["penalty"] == tuple(penalties.PENALTIES)
    for key, registry in (("loss", losses.LOSSES), ("penalty", penalties.PENALTIES)):
        for name in registry:
            assert getattr(Config(**{key: name}), key) == name
        with pytest.raises(ConfigError, match=key):
            Config(**{key: "nope"})


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="unknown loss 'x'; choose one of ns, mm"):
        losses.get_loss("x")
    with pytest.raises(ConfigError, match="unknown penalty 'x'; choose one of none, wgan_gp"):
        penalties.compute("x", _toy_d, None, None, None, None)


@pytest.mark.parametrize("name", sorted(penalties.PENALTIES))
def test_every_penalty_matches_numpy(name):
    rng = np.random.default_rng(0)
    real = rng.uniform(size=(4, 3, 3, 2)).astype(np.float32)
    fake = rng.uniform(size=(4, 3, 3, 2)).astype(np.float32)
    noise = penalties.draw_noise(name, tf.shape(real), tf.constant([1, 2], tf.int64))
    d = _ToyD()
    got = float(penalties.compute(name, _toy_d, d, tf.constant(real), tf.constant(fake), noise))
    noise = noise.numpy().astype(np.float64)
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    if name == "none":
        expected = 0.0
    elif name == "wgan_gp":
        assert noise.shape == (4, 1, 1, 1)
        expected = _np_slope_penalty(real + noise * (fake - real))
    elif name == "dragan":
        assert noise.shape == real.shape
        expected = _np_slope_penalty(np.clip(real + real.std() * (noise - 0.5), 0.0, 1.0))
    elif name == "l2":
        expected = np.mean([0.5 * (k.numpy() ** 2).sum() for k in (d.k1, d.k2)])
    else:
        pytest.fail(f"no numpy reference for the registered penalty {name!r}: add one here")
    assert got == pytest.approx(expected, rel=2e-5, abs=1e-7)


def test_registries_import_without_tensorflow():
    code = ("import sys; import ganhub.training.config, ganhub.training.presets; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_architectures_are_declared_once():
    """The config's architecture choices and D norms are the registry's rows, and every row builds
    through its module's build() at a resolution it declares."""
    from ganhub.training import architectures
    from ganhub.training.config import D_NORMS
    assert CHOICES["architecture"] == tuple(architectures.ARCHITECTURES)
    assert D_NORMS == {n: a.d_norms for n, a in architectures.ARCHITECTURES.items()}
    assert CHOICES["d_norm"] == architectures.D_NORMS
    for name, arch in architectures.ARCHITECTURES.items():
        resolution = (arch.resolutions or (arch.min_resolution,))[0]
        config = Config(architecture=name, resolution=resolution, width=0.0625, z_dim=8,
                        d_norm=arch.d_norms[0])
        g, d = architectures.build(config, 1)
        assert g.export_spec().image_shape == (resolution, resolution, 1)
        assert architectures.resolution_error(name, resolution) is None
        with pytest.raises(ConfigError, match=f"resolution={resolution - 1}"):
            Config(architecture=name, resolution=resolution - 1)


@pytest.mark.parametrize("module, cls, refused", [
    ("sndcgan", "SNDCGANDiscriminator", "batch_norm"), ("dcgan", "DCGANDiscriminator", "layer_norm")])
def test_a_discriminator_built_directly_takes_its_rows_norms_only(module, cls, refused):
    """Built without a Config (export, tests), SNDCGAN and DCGAN still refuse a D norm
    compare_gan's version asserts against: none/SN for SNDCGAN, none/BN/SN for DCGAN."""
    import importlib
    network = getattr(importlib.import_module(f"ganhub.training.architectures.{module}"), cls)
    with pytest.raises(ValueError, match=refused):
        network(32, 1, width=0.0625, normalization=refused)
    accepted = {"sndcgan": ("none", "spectral_norm"),
                "dcgan": ("none", "batch_norm", "spectral_norm")}[module]
    for norm in accepted:
        network(32, 1, width=0.0625, normalization=norm)


def test_building_models_leaves_the_global_seed_alone():
    """build_models (training, load_generator, export) draws initial weights from config.seed
    without resetting TensorFlow's global seed, which belongs to the caller."""
    import numpy as np
    import tensorflow as tf

    from ganhub.training import build_models

    def weights(seed):
        g, d = build_models(Config(width=0.0625, z_dim=8, seed=seed), channels=1)
        return [v.numpy() for v in g.variables + d.variables]

    tf.random.set_seed(123)
    expected = [tf.random.uniform([3]).numpy() for _ in range(2)]
    tf.random.set_seed(123)
    first = tf.random.uniform([3]).numpy()
    a = weights(5)
    second = tf.random.uniform([3]).numpy()   # the caller's stream goes on where it was
    np.testing.assert_array_equal([first, second], expected)
    b, c = weights(5), weights(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
