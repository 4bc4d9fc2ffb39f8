"""The generator EMA: its update rule, standing BN statistics, resume, loading and export."""
import numpy as np
import pytest
import tensorflow as tf

from ganhub.errors import ConfigError
from ganhub.training import Config, data, ema, load_generator
from ganhub.training.layers import BatchNorm
from ganhub.training.loop import Trainer

IMAGES = np.random.default_rng(1).integers(0, 256, size=(24, 16, 16, 1), dtype=np.uint8)


pytestmark = [pytest.mark.usefixtures("eager_functions"), pytest.mark.slow]


def _dataset():
    return data.Dataset("mnist", "train", IMAGES, {"source": "test"})


def _config(**changes):
    values = dict(architecture="sndcgan", d_norm="spectral_norm", resolution=16, width=0.0625,
                  batch_size=4, z_dim=8, steps=3, checkpoint_every=1, keep_checkpoints=10,
                  disc_iters=1, loss="ns", dataset="mnist", g_ema_decay=0.75, g_ema_start=2)
    values.update(changes)
    return Config(**values)


def _train(model_dir, **changes):
    trainer = Trainer(_config(**changes), model_dir, dataset=_dataset())
    trainer.run(progress=False)
    return trainer


def _weights(model_dir, step, key):
    """G's trainable weights (``key``: generator or generator_ema) in checkpoint ``step``."""
    reader = tf.train.load_checkpoint(str(model_dir / "checkpoints" / f"ckpt-{step}"))
    names = sorted(n for n in reader.get_variable_to_shape_map()
                   if n.startswith(key + "/") and "moving_" not in n and "/u/" not in n
                   and "OPTIMIZER_SLOT" not in n)
    return {n[len(key):]: reader.get_tensor(n) for n in names}


def test_ema_update_and_copy_follow_the_formula():
    e = [tf.Variable([1.0, 2.0]), tf.Variable([[3.0]])]
    v = [tf.Variable([5.0, -2.0]), tf.Variable([[0.0]])]
    ema.ema_update(e, v, 0.9)
    np.testing.assert_allclose(e[0].numpy(), [0.9 * 1 + 0.1 * 5, 0.9 * 2 + 0.1 * -2], rtol=1e-6)
    np.testing.assert_allclose(e[1].numpy(), [[2.7]], rtol=1e-6)
    ema.copy_weights(e, v)
    np.testing.assert_array_equal(e[0].numpy(), [5.0, -2.0])


class _BNOfZ(tf.Module):
    """A "generator" whose one BN layer normalizes z itself, so its batch moments are known."""

    def __init__(self, z_dim):
        super().__init__()
        self.bn = BatchNorm(z_dim, momentum=0.9)

    def __call__(self, z, training):
        return self.bn(z, training)


def test_standing_statistics_are_the_mean_of_the_batch_moments():
    g = _BNOfZ(3)
    assert ema.standing_statistics(g, 3, batch_size=5, num_batches=7, seed=4) == 1
    zs = [tf.random.stateless_uniform([5, 3], [4, k], -1.0, 1.0).numpy().astype(np.float64)
          for k in range(7)]
    np.testing.assert_allclose(g.bn.moving_mean.numpy(), np.mean([z.mean(0) for z in zs], 0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g.bn.moving_variance.numpy(), np.mean([z.var(0) for z in zs], 0),
                               rtol=1e-5)
    assert g.bn.momentum == 0.9


def test_the_ema_starts_as_a_copy_and_then_averages(tmp_path):
    _train(tmp_path / "run")
    g2, g3 = _weights(tmp_path / "run", 2, "generator"), _weights(tmp_path / "run", 3, "generator")
    e2, e3 = (_weights(tmp_path / "run", s, "generator_ema") for s in (2, 3))
    assert g2.keys() == e3.keys() and len(g2) >= 8
    for k in g2:
        np.testing.assert_array_equal(e2[k], g2[k], err_msg=k)
        np.testing.assert_allclose(e3[k], 0.75 * g2[k] + 0.25 * g3[k], rtol=1e-5, atol=1e-7,
                                   err_msg=k)
        assert not np.array_equal(g2[k], g3[k]) or "beta" in k or "bias" in k


def test_starting_the_ema_when_resuming_equals_a_run_that_had_it_all_along(tmp_path):
    straight = _train(tmp_path / "straight", steps=4)
    _train(tmp_path / "late", steps=2, g_ema_decay=0.0)
    late = _train(tmp_path / "late", steps=4)  # g_ema_start=2 == the step it resumes from
    for a, b in zip(straight.g_ema.variables, late.g_ema.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)


def test_an_ema_start_in_the_past_or_a_changed_running_ema_is_refused(tmp_path):
    _train(tmp_path / "plain", steps=3, g_ema_decay=0.0)
    with pytest.raises(ConfigError, match=r"g_ema_start=2 is in the past.*g_ema_start >= 3"):
        _train(tmp_path / "plain", steps=4)
    _train(tmp_path / "run", steps=3)
    with pytest.raises(ConfigError, match=r"g_ema_decay: 0.75 -> 0.5"):
        _train(tmp_path / "run", steps=4, g_ema_decay=0.5)


@pytest.mark.parametrize("changes, message", [
    ({"g_ema_decay": 1.0}, "g_ema_decay must be in"),
    ({"g_ema_decay": -0.1}, "g_ema_decay must be in"),
    ({"g_ema_start": -1}, "g_ema_start must be >= 0"),
    ({"g_ema_start": 1.5}, "g_ema_start must be an integer"),
])
def test_bad_ema_settings_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(**changes)


def test_load_generator_picks_the_ema_with_its_own_bn_statistics(tmp_path):
    _train(tmp_path / "run")
    config, g, state = load_generator(tmp_path / "run")
    assert state["generator_weights"]["kind"] == "ema"
    assert state["generator_weights"]["bn_statistics"]["batches"] == ema.STANDING_BATCHES
    e3 = _weights(tmp_path / "run", 3, "generator_ema")
    loaded = [v.numpy() for v in g.trainable_variables]
    assert len(loaded) == len(e3)
    assert all(any(np.array_equal(w, e) for e in e3.values()) for w in loaded)
    _, raw, raw_state = load_generator(tmp_path / "run", weights="raw")
    assert raw_state["generator_weights"]["kind"] == "raw"
    z = tf.random.stateless_uniform([6, config.z_dim], [0, 0], -1.0, 1.0)
    assert not np.allclose(g(z, training=False).numpy(), raw(z, training=False).numpy())
    # standing statistics differ from the raw run's moving averages
    assert not np.allclose(ema.batch_norms(g)[0].moving_mean.numpy(),
                           ema.batch_norms(raw)[0].moving_mean.numpy())
    # the EMA has not started at checkpoint 1
    with pytest.raises(ConfigError, match="starts at step 2"):
        load_generator(tmp_path / "run", str(tmp_path / "run" / "checkpoints" / "ckpt-1"),
                       weights="ema")
    _, _, early = load_generator(tmp_path / "run", str(tmp_path / "run" / "checkpoints" / "ckpt-1"))
    assert early["generator_weights"]["kind"] == "raw"


def test_ema_weights_of_a_run_without_one_are_refused(tmp_path):
    _train(tmp_path / "plain", steps=2, g_ema_decay=0.0)
    with pytest.raises(ConfigError, match="g_ema_decay=0.*weights='raw'"):
        load_generator(tmp_path / "plain", weights="ema")
    with pytest.raises(ConfigError, match="weights='best' is not valid"):
        load_generator(tmp_path / "plain", weights="best")


def test_export_records_which_weights_it_wrote(tmp_path):
    from ganhub.export import export_module
    _train(tmp_path / "run")
    meta = export_module(tmp_path / "run", tmp_path / "out", archive=False)["metadata"]
    weights = meta["training"]["generator_weights"]
    assert weights["kind"] == "ema" and weights["decay"] == 0.75 and weights["start"] == 2
    assert meta["training"]["config"]["g_ema_decay"] == 0.75
    from ganhub.export.package import model_card
    assert ("- weights: exponential moving average of G (decay 0.75, from step 2); BN statistics "
            "recomputed for it (200 batches of 4)") in model_card(meta)
    raw = export_module(tmp_path / "run", tmp_path / "raw", archive=False, weights="raw")
    assert raw["metadata"]["training"]["generator_weights"]["kind"] == "raw"
    assert "- weights: G as trained" in model_card(raw["metadata"])


def test_scores_of_the_raw_weights_are_refused_for_the_ema_export(tmp_path):
    from types import SimpleNamespace

    from ganhub.export import export_module
    from ganhub.export.scores import scores_from_evaluation
    from ganhub.errors import BadInputError
    from ganhub.metrics.evaluation import generator_identity
    _train(tmp_path / "run")
    ema_meta = export_module(tmp_path / "run", tmp_path / "ema", archive=False)["metadata"]
    raw_meta = export_module(tmp_path / "run", tmp_path / "raw", archive=False,
                             weights="raw")["metadata"]

    def evaluation(meta):
        scored = SimpleNamespace(name="x", metadata=meta)
        return {"fid": 3.0, "protocol": {"num_samples": 8, "metrics": ["fid"],
                                         "generator": generator_identity(scored)}}

    assert scores_from_evaluation(evaluation(ema_meta), ema_meta)["fid"]["value"] == 3.0
    assert scores_from_evaluation(evaluation(raw_meta), raw_meta)["fid"]["value"] == 3.0
    with pytest.raises(BadInputError, match="scored the raw weights, but this export holds the EMA"):
        scores_from_evaluation(evaluation(raw_meta), ema_meta)
    with pytest.raises(BadInputError, match="scored the EMA weights, but this export holds the raw"):
        scores_from_evaluation(evaluation(ema_meta), raw_meta)
