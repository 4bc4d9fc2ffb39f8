"""jit_compile true / false / "auto": the run-time choice between plain tf.function and XLA, what
train_state.json and the exported metadata say about it, and that measuring leaves no trace in the
weights."""
import json

import numpy as np
import pytest
import tensorflow as tf

from ganhub.errors import ConfigError
from ganhub.training import Config, build_models, data
from ganhub.training.loop import STATE_FILE, Trainer
from ganhub.training.steps import GANSteps, choose_jit

IMAGES = np.random.default_rng(2).integers(0, 256, size=(16, 16, 16, 1), dtype=np.uint8)


def _dataset():
    return data.Dataset("mnist", "train", IMAGES, {"source": "test"})


def _config(**changes):
    values = dict(architecture="sndcgan", resolution=16, width=0.0625, batch_size=4, z_dim=8,
                  steps=2, checkpoint_every=2, dataset="mnist")
    values.update(changes)
    return Config(**values)


def test_jit_compile_takes_true_false_or_auto():
    for value in (True, False, "auto"):
        assert _config(jit_compile=value).jit_compile == value
    for value in ("maybe", 1, None):
        with pytest.raises(ConfigError, match=r'jit_compile must be true, false or "auto"'):
            _config(jit_compile=value)
    assert _config().jit_compile is False   # the default: plain tf.function
    # "auto" must be resolved before steps are built
    g, d = build_models(_config(), channels=1)
    with pytest.raises(ValueError, match="resolve 'auto'"):
        GANSteps(_config(jit_compile="auto"), g, d)


def test_cli_set_accepts_auto_and_rejects_other_strings(tmp_path):
    from ganhub.cli.train import _check_set_types
    _check_set_types(["jit_compile=auto", "jit_compile=true", "jit_compile=false"])
    with pytest.raises(ConfigError, match='jit_compile must be true or false, or "auto"'):
        _check_set_types(["jit_compile=sometimes"])


def test_configured_choice_is_taken_as_is():
    g, d = build_models(_config(), channels=1)
    assert choose_jit(_config(jit_compile=True), g, d, None) == (True, "on (jit_compile: true)")
    assert choose_jit(_config(jit_compile=False), g, d, None) == (False, "off (jit_compile: false)")


@pytest.mark.slow
def test_auto_measures_both_and_puts_the_weights_back():
    config = _config(jit_compile="auto")
    g, d = build_models(config, channels=1)
    before = [v.numpy() for v in g.variables + d.variables]
    real = tf.constant(IMAGES[:4], tf.float32) / 255.0
    jit, why = choose_jit(config, g, d, real, steps=2)
    # "on (jit_compile: auto; measured 0.0136 s/step plain, 0.007 s/step XLA)"
    plain, xla = (float(why.split(" s/step")[i].split()[-1]) for i in (0, 1))
    assert why.startswith(f"{'on' if jit else 'off'} (jit_compile: auto; measured ")
    assert plain > 0 and xla > 0 and jit == (xla < plain)
    after = [v.numpy() for v in g.variables + d.variables]
    assert len(before) > 20   # kernels, biases, SN u, BN gamma/beta/moving statistics
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_a_run_with_auto_trains_exactly_as_the_choice_it_made(tmp_path):
    auto = Trainer(_config(jit_compile="auto"), tmp_path / "auto", dataset=_dataset())
    auto.run(progress=False)
    state = json.loads((tmp_path / "auto" / STATE_FILE).read_text())
    assert state["xla"] == auto.xla and "jit_compile: auto; measured" in state["xla"]
    chosen = Trainer(_config(jit_compile=auto.steps.jit_compile), tmp_path / "chosen",
                     dataset=_dataset())
    chosen.run(progress=False)
    a = auto.generator.variables + auto.discriminator.variables + auto.d_optimizer.variables
    b = chosen.generator.variables + chosen.discriminator.variables + chosen.d_optimizer.variables
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=x.name)


@pytest.mark.usefixtures("eager_functions")
def test_state_says_whether_xla_was_on_also_across_a_resume(tmp_path):
    Trainer(_config(jit_compile=True), tmp_path / "run", dataset=_dataset()).run(progress=False)
    state = json.loads((tmp_path / "run" / STATE_FILE).read_text())
    assert state["xla"] == "on (jit_compile: true)"
    # jit_compile may change on resume: the state names both, with the step of the change
    Trainer(_config(jit_compile=False, steps=3), tmp_path / "run", dataset=_dataset()) \
        .run(progress=False)
    state = json.loads((tmp_path / "run" / STATE_FILE).read_text())
    assert state["xla"] == "off (jit_compile: false) from step 3; before: on (jit_compile: true)"
    # the same choice again: nothing to add
    Trainer(_config(jit_compile=False, steps=4), tmp_path / "run", dataset=_dataset()) \
        .run(progress=False)
    state = json.loads((tmp_path / "run" / STATE_FILE).read_text())
    assert state["xla"].startswith("off (jit_compile: false)")


def test_exported_metadata_and_info_say_whether_xla_was_on():
    from ganhub.cli.hub import _training
    from ganhub.export import metadata
    config = _config()
    g, _ = build_models(config, channels=1)
    state = {"step": 2, "wall_time": 1.0, "tensorflow": tf.__version__,
             "xla": "off (jit_compile: auto; measured 0.05 s/step plain, 0.09 s/step XLA)"}
    meta = metadata.build(config, state, "m", g.export_spec())
    assert meta["training"]["xla"] == state["xla"]
    assert f"xla {state['xla']}" in _training(meta["training"])
    # runs from before it was recorded: nothing printed for it
    old = metadata.build(config, {k: v for k, v in state.items() if k != "xla"}, "m",
                         g.export_spec())
    assert old["training"]["xla"] is None and "xla" not in _training(old["training"])
