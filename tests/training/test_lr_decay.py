"""The learning-rate schedule: its formula, Adam's use of it, the loop's wiring, and resume rules."""
import numpy as np
import pytest
import tensorflow as tf

from ganhub.errors import ConfigError
from ganhub.export.metadata import lr_schedule
from ganhub.training import Config, data
from ganhub.training.loop import Trainer
from ganhub.training.optim import Adam, lr_scale

IMAGES = np.random.default_rng(2).integers(0, 256, size=(24, 16, 16, 1), dtype=np.uint8)


pytestmark = [pytest.mark.usefixtures("eager_functions"), pytest.mark.slow]


def _dataset():
    return data.Dataset("mnist", "train", IMAGES, {"source": "test"})


def _config(**changes):
    values = dict(architecture="sndcgan", d_norm="spectral_norm", resolution=16, width=0.0625,
                  batch_size=4, z_dim=8, steps=5, checkpoint_every=1, keep_checkpoints=10,
                  disc_iters=1, loss="ns", dataset="mnist", lr_decay="linear", lr_decay_start=2)
    values.update(changes)
    return Config(**values)


def _variables(trainer):
    return [v.numpy() for v in trainer.generator.variables + trainer.discriminator.variables
            + trainer.d_optimizer.variables + trainer.g_optimizer.variables]


def test_linear_decay_factors():
    t = np.arange(1, 11)
    # steps=10, start=4: full rate through step 5, then 5/6, 4/6, ..., 1/6 on the last step
    expected = [1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]
    np.testing.assert_allclose(lr_scale(t, "linear", 4, 10).numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(lr_scale(t, "none", 4, 10).numpy(), np.ones(10))
    assert float(lr_scale(tf.constant(7, tf.int64), "linear", 0, 7)) == pytest.approx(1 / 7)
    with pytest.raises(ValueError, match="cosine"):
        lr_scale(t, "cosine", 4, 10)


def test_adam_scales_its_step_by_the_factor():
    lr, b1, b2, eps, scale = 0.01, 0.5, 0.9, 1e-8, 0.25
    w0, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, -0.1, 2.0])
    var = tf.Variable(w0, dtype=tf.float32)
    opt = Adam([var], lr, b1, b2, eps)
    opt.apply([tf.constant(g, tf.float32)], [var], lr_scale=scale)
    m, v = (1 - b1) * g, (1 - b2) * g ** 2
    step = lr * scale * np.sqrt(1 - b2) / (1 - b1)
    np.testing.assert_allclose(var.numpy(), w0 - step * m / (np.sqrt(v) + eps), rtol=1e-5)


def test_the_loop_passes_each_steps_factor_to_both_optimizers(tmp_path):
    trainer = Trainer(_config(steps=6, lr_decay_start=3), tmp_path / "run", dataset=_dataset())
    seen = {"d": [], "g": []}
    for key, opt in (("d", trainer.d_optimizer), ("g", trainer.g_optimizer)):
        def record(grads, variables, lr_scale=1.0, _apply=opt.apply, _key=key):
            seen[_key].append(float(lr_scale))
            return _apply(grads, variables, lr_scale)
        opt.apply = record
    trainer.run(progress=False)
    expected = [1, 1, 1, 1, 2 / 3, 1 / 3]
    np.testing.assert_allclose(seen["d"], expected, rtol=1e-6)
    np.testing.assert_allclose(seen["g"], expected, rtol=1e-6)


def test_a_decay_switched_on_when_resuming_equals_an_uninterrupted_run(tmp_path):
    straight = Trainer(_config(), tmp_path / "straight", dataset=_dataset())
    straight.run(progress=False)
    constant = Trainer(_config(steps=2, lr_decay="none", lr_decay_start=0), tmp_path / "resumed",
                       dataset=_dataset())
    constant.run(progress=False)
    resumed = Trainer(_config(), tmp_path / "resumed", dataset=_dataset())
    resumed.run(progress=False)
    for a, b in zip(_variables(straight), _variables(resumed)):
        np.testing.assert_array_equal(a, b)
    # and the decay did change the result: a constant-rate run ends elsewhere
    flat = Trainer(_config(lr_decay="none"), tmp_path / "flat", dataset=_dataset())
    flat.run(progress=False)
    g_straight, g_flat = straight.generator.trainable_variables, flat.generator.trainable_variables
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(g_straight, g_flat))


def test_a_decay_cannot_start_in_the_past(tmp_path):
    Trainer(_config(steps=3, lr_decay="none"), tmp_path / "run", dataset=_dataset()) \
        .run(progress=False)
    late = Trainer(_config(steps=6, lr_decay_start=1), tmp_path / "run", dataset=_dataset())
    with pytest.raises(ConfigError, match=r"at step 3 .*from step 3.*lr_decay_start >= 3"):
        late.run(progress=False)


def test_a_running_decay_keeps_its_end(tmp_path):
    Trainer(_config(steps=6), tmp_path / "run", dataset=_dataset()).run(progress=False)
    # steps 4..6 were decayed towards steps=6; ending at 8 instead would rewrite their rates
    longer = Trainer(_config(steps=8), tmp_path / "run", dataset=_dataset())
    with pytest.raises(ConfigError, match="would change the learning rate"):
        longer.run(progress=False)
    assert Config.load(tmp_path / "run" / "config.json").steps == 6  # the refused one not saved
    # resuming with the same schedule is fine (nothing left to do)
    Trainer(_config(steps=6), tmp_path / "run", dataset=_dataset()).run(progress=False)


@pytest.mark.parametrize("changes, message", [
    (dict(lr_decay="cosine"), "lr_decay='cosine' is not valid"),
    (dict(lr_decay_start=5), "lr_decay_start=5 must be below steps=5"),
    (dict(lr_decay_start=-1), "lr_decay_start must be >= 0"),
])
def test_bad_schedules_are_config_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(**changes)


def test_the_schedule_is_described_for_the_module_metadata():
    assert lr_schedule(_config(steps=50, lr_decay_start=30)) == "linear decay from D step 30 to 50"
    assert lr_schedule(_config(lr_decay="none")) == "constant"
