"""The loop: exact resume, disc_iters schedule, NaN guard, stopping on signals."""
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from ganhub.training import Config, data
from ganhub.training.loop import Trainer, TrainingDivergedError, TrainingInterrupted

IMAGES = np.random.default_rng(0).integers(0, 256, size=(24, 16, 16, 1), dtype=np.uint8)


pytestmark = [pytest.mark.usefixtures("eager_functions"), pytest.mark.slow]


def _dataset():
    return data.Dataset("mnist", "train", IMAGES, {"source": "test"})


def _config(**changes):
    values = dict(architecture="sndcgan", d_norm="spectral_norm", resolution=16, width=0.0625,
                  batch_size=4, z_dim=8, steps=4, checkpoint_every=2, disc_iters=2,
                  penalty="wgan_gp", penalty_lambda=1.0, loss="ns", dataset="mnist")
    values.update(changes)
    return Config(**values)


def _state(trainer):
    return {v.name + str(i): v.numpy() for i, v in enumerate(
        trainer.generator.variables + trainer.discriminator.variables
        + trainer.d_optimizer.variables + trainer.g_optimizer.variables)}


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    straight = Trainer(_config(), tmp_path / "straight", dataset=_dataset())
    straight.run(progress=False)

    Trainer(_config(steps=2), tmp_path / "resumed", dataset=_dataset()).run(progress=False)
    resumed = Trainer(_config(), tmp_path / "resumed", dataset=_dataset())
    result = resumed.run(progress=False)
    assert result["step"] == 4
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys() and len(a) > 20
    for key in a:  # includes SN u vectors, BN moving statistics and Adam slots
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # disc_iters=2: G was updated at D steps 1 and 3 only
    assert int(resumed.g_optimizer.iterations.numpy()) == 2
    assert int(resumed.d_optimizer.iterations.numpy()) == 4


def test_resume_from_a_checkpoint_without_adam_beta_powers(tmp_path):
    """Checkpoints written before Adam kept TF1's running beta1_power/beta2_power (iterations, m, v
    only) still resume: the powers are rebuilt from iterations by the same float32 product, so the
    resumed run equals an uninterrupted one."""
    from ganhub.training.optim import running_power
    straight = Trainer(_config(), tmp_path / "straight", dataset=_dataset())
    straight.run(progress=False)

    old = Trainer(_config(steps=2), tmp_path / "old", dataset=_dataset())
    old.run(progress=False)
    # rewrite its last checkpoint in the old layout
    legacy = dict(old._tracked, d_optimizer=old.d_optimizer.legacy_view(),
                  g_optimizer=old.g_optimizer.legacy_view())
    ckpt_dir = tmp_path / "old" / "checkpoints"
    for f in ckpt_dir.iterdir():
        f.unlink()
    tf.train.CheckpointManager(tf.train.Checkpoint(**legacy), str(ckpt_dir), 3).save(
        checkpoint_number=2)
    names = [n for n, _ in tf.train.list_variables(str(ckpt_dir / "ckpt-2"))]
    assert not any("beta1_power" in n for n in names) and any("iterations" in n for n in names)

    resumed = Trainer(_config(), tmp_path / "old", dataset=_dataset())
    assert resumed.restore() == 2
    assert resumed.d_optimizer.beta1_power.numpy() == running_power(0.5, 2)
    assert resumed.g_optimizer.beta2_power.numpy() == running_power(0.999, 1)
    resumed.run(progress=False)
    a, b = _state(straight), _state(resumed)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _poison_step_3(trainer, steps_per_call):
    """Make D step 3's d_loss NaN, on the one-step or the several-steps-per-call path."""
    if steps_per_call == 1:
        d_step = trainer.steps.d_step

        def poisoned(real, z, step):
            d_loss, penalty = d_step(real, z, step)
            return (d_loss * np.nan if int(step) == 3 else d_loss), penalty

        trainer.steps.d_step = poisoned
        return
    train_steps = trainer.steps.train_steps

    def poisoned_chunk(first, reals):
        d_loss, penalty, g_loss = train_steps(first, reals)
        steps = np.arange(int(first), int(first) + len(d_loss))
        return np.where(steps == 3, np.nan, d_loss.numpy()), penalty, g_loss

    trainer.steps.train_steps = poisoned_chunk


@pytest.mark.parametrize("steps_per_call", [1, 2])
def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, steps_per_call):
    trainer = Trainer(_config(steps=5, disc_iters=1, penalty="none"), tmp_path / "run",
                      dataset=_dataset(), steps_per_call=steps_per_call)
    _poison_step_3(trainer, steps_per_call)
    with pytest.raises(TrainingDivergedError, match=r"d_loss became nan at step 3; the last good "
                                                    r"checkpoint \(.*ckpt-2\) is kept"):
        trainer.run(progress=False)
    assert trainer.manager.latest_checkpoint.endswith("ckpt-2")


def test_resume_refuses_a_changed_config(tmp_path):
    Trainer(_config(steps=1, checkpoint_every=1), tmp_path / "run", dataset=_dataset()).run(progress=False)
    from ganhub.errors import ConfigError
    with pytest.raises(ConfigError, match="learning_rate: 0.0002 -> 0.001"):
        Trainer(_config(learning_rate=1e-3), tmp_path / "run", dataset=_dataset())


class _Resolver:
    def __init__(self, task_type, task_id, jobs):
        self.task_type, self.task_id, self._jobs = task_type, task_id, jobs

    def cluster_spec(self):
        return tf.train.ClusterSpec({job: [f"host{i}:1" for i in range(n)] for job, n in self._jobs.items()})


class _Strategy:
    def __init__(self, resolver):
        self.cluster_resolver = resolver


@pytest.mark.parametrize("task_type,task_id,jobs,chief", [
    ("chief", 0, {"chief": 1, "worker": 2}, True),
    ("worker", 0, {"chief": 1, "worker": 2}, False),
    ("worker", 0, {"worker": 3}, True),
    ("worker", 2, {"worker": 3}, False),
])
def test_only_the_chief_writes_into_model_dir(task_type, task_id, jobs, chief):
    from ganhub.training.loop import _is_chief
    assert _is_chief(_Strategy(_Resolver(task_type, task_id, jobs))) is chief
    assert _is_chief(tf.distribute.get_strategy()) is True


@pytest.mark.parametrize("signum,steps_per_call", [(signal.SIGINT, 1), (signal.SIGTERM, 1),
                                                    (signal.SIGINT, 3)])
def test_a_signal_finishes_the_step_saves_it_and_resume_stays_exact(tmp_path, signum,
                                                                     steps_per_call):
    """With 3 steps per call the calls are steps 1-3, 4 (a checkpoint step ends a call) and 5: a
    signal during step 3 stops the run after step 3 either way."""
    straight = Trainer(_config(steps=5, checkpoint_every=4), tmp_path / "straight", dataset=_dataset())
    straight.run(progress=False)

    stopped = Trainer(_config(steps=5, checkpoint_every=4), tmp_path / "stopped", dataset=_dataset(),
                      steps_per_call=steps_per_call)
    if steps_per_call == 1:
        d_step = stopped.steps.d_step

        def signalled(real, z, step):
            if int(step) == 3:  # arrives mid-step, before the D update of step 3 is applied
                os.kill(os.getpid(), signum)
            return d_step(real, z, step)

        stopped.steps.d_step = signalled
    else:
        train_steps = stopped.steps.train_steps

        def signalled_chunk(first, reals):
            if int(first) <= 3 < int(first) + len(reals):  # mid-call, before its updates
                os.kill(os.getpid(), signum)
            return train_steps(first, reals)

        stopped.steps.train_steps = signalled_chunk

    def outer(signum, frame):  # stands in for the default action, which would end pytest itself
        raise RuntimeError(f"{signal.Signals(signum).name} reached the handler outside the loop")

    previous = signal.signal(signum, outer)
    try:
        with pytest.raises(TrainingInterrupted,
                           match=rf"{signum.name} after step 3 of 5; checkpoint saved"):
            stopped.run(progress=False)
        assert signal.getsignal(signum) is outer  # the loop put the caller's handler back
    finally:
        signal.signal(signum, previous)
    assert stopped.manager.latest_checkpoint.endswith("ckpt-3")  # not the step-0 one

    resumed = Trainer(_config(steps=5, checkpoint_every=4), tmp_path / "stopped", dataset=_dataset())
    assert resumed.run(progress=False)["step"] == 5
    a, b = _state(straight), _state(resumed)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("arch", ["sndcgan", "dcgan"])
def test_native_28x28_fashion_mnist_trains_without_padding(tmp_path, arch):
    """resolution=28 loads Fashion-MNIST at its own size (compare_gan v2's setting); 32 pads."""
    from tests.conftest import write_fake_fashion_mnist
    raw = write_fake_fashion_mnist(tmp_path / "fmnist", n=16)
    native = data.load_dataset("fashion_mnist", "train", str(raw), resolution=28)
    padded = data.load_dataset("fashion_mnist", "train", str(raw), resolution=32)
    assert native.images.shape[1:] == (28, 28, 1) and padded.images.shape[1:] == (32, 32, 1)
    np.testing.assert_array_equal(padded.images[:, 2:30, 2:30], native.images)
    assert "native" in native.provenance["preprocessing"]
    config = _config(architecture=arch, resolution=28, dataset="fashion_mnist", data_dir=str(raw),
                     steps=2, disc_iters=1, d_norm="spectral_norm")
    result = Trainer(config, tmp_path / "run").run(progress=False)
    assert result["step"] == 2 and np.isfinite(result["d_loss"])
