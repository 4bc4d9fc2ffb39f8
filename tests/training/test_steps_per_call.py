"""Several training steps per tf.function call (GANSteps.train_steps, Trainer steps_per_call) give
bit for bit the weights of one call per step (Trainer.train_step: d_step and g_step), plain and
XLA, and a run resumed on that path equals an uninterrupted one.

Traced, not eager (no ``eager_functions`` fixture): the graph's while loop, its in-graph draws of
z, noise and learning rate, the G-step and EMA conds are what is checked."""
import numpy as np
import pytest

from ganhub.training import Config, data
from ganhub.training.loop import Trainer

IMAGES = np.random.default_rng(1).integers(0, 256, size=(20, 16, 16, 1), dtype=np.uint8)


def _dataset():
    return data.Dataset("mnist", "train", IMAGES, {"source": "test"})


def _config(**changes):
    # disc_iters=2: G steps after D steps 1, 3, 5 only; the EMA starts (copy) at step 2, inside a
    # call; the linear decay changes the learning rate of every step from step 2 on; checkpoints
    # at 4 end a call early
    values = dict(architecture="sndcgan", d_norm="spectral_norm", resolution=16, width=0.0625,
                  batch_size=4, z_dim=8, steps=6, checkpoint_every=4, disc_iters=2,
                  penalty="wgan_gp", penalty_lambda=1.0, loss="ns", dataset="mnist",
                  g_ema_decay=0.9, g_ema_start=2, lr_decay="linear", lr_decay_start=1)
    values.update(changes)
    return Config(**values)


def _state(trainer):
    tracked = (trainer.generator.variables + trainer.discriminator.variables
               + trainer.d_optimizer.variables + trainer.g_optimizer.variables
               + trainer.g_ema.variables)
    return [(v.name, v.numpy()) for v in tracked] + [("step", trainer.step.numpy())]


def _assert_same(a, b):
    assert len(a) == len(b) > 40
    for (name, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y, err_msg=name)


def _run(tmp_path, name, steps_per_call, **changes):
    trainer = Trainer(_config(**changes), tmp_path / name, dataset=_dataset(),
                      steps_per_call=steps_per_call)
    result = trainer.run(progress=False)
    return trainer, result


def test_several_steps_per_call_equal_one_call_per_step(tmp_path, monkeypatch):
    one, one_result = _run(tmp_path, "one", 1)
    calls = []
    original = Trainer._chunk_end

    def recorded(self, first, summary_every):
        calls.append((first, original(self, first, summary_every)))
        return calls[-1][1]

    monkeypatch.setattr(Trainer, "_chunk_end", recorded)
    many, many_result = _run(tmp_path, "many", 3)
    assert calls == [(1, 3), (4, 4), (5, 6)]   # calls end at the checkpoint step
    assert int(many.g_optimizer.iterations.numpy()) == 3
    assert int(many.d_optimizer.iterations.numpy()) == 6
    _assert_same(_state(one), _state(many))
    assert one_result == {**many_result, "wall_time": one_result["wall_time"]}
    # the losses that are logged are those of the last step (and of the last G step)
    assert set(many_result) == {"step", "wall_time", "d_loss", "penalty", "g_loss"}


@pytest.mark.slow   # 11 s; the fast loop keeps the one-call equivalence and the end-to-end resume
def test_resume_on_the_several_steps_path_is_exact(tmp_path):
    # (a linear decay over `steps` cannot be resumed with more steps: constant learning rate)
    straight, _ = _run(tmp_path, "straight", 4, lr_decay="none")
    _run(tmp_path, "resumed", 4, steps=3, lr_decay="none")   # inside what was one call above
    resumed, result = _run(tmp_path, "resumed", 4, lr_decay="none")
    assert result["step"] == 6
    _assert_same(_state(straight), _state(resumed))


@pytest.mark.slow
def test_several_steps_per_call_equal_one_call_per_step_under_xla(tmp_path):
    one, _ = _run(tmp_path, "one", 1, jit_compile=True, steps=3, checkpoint_every=3)
    many, _ = _run(tmp_path, "many", 3, jit_compile=True, steps=3, checkpoint_every=3)
    _assert_same(_state(one), _state(many))
