"""The training loop (spec §5.2b): steps count D updates; G is updated after D steps 1, n+1, 2n+1, …
with the same z; separate Adam optimizers; checkpoints every ``checkpoint_every`` steps; exact resume.

Every random draw of step t (the real batch, z, the penalty's noise) is a pure function of
(seed, t), so a run resumed from a checkpoint reproduces an uninterrupted run. The step math and
its distribution over replicas live in ``training.steps``.
"""
import contextlib
import json
import math
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganhub.training import architectures, data, ema
from ganhub.training.config import CONFIG_FILE, EMA_KEYS, RESUMABLE_CHANGES, Config
from ganhub.training.layers import initial_weights
from ganhub.training.optim import lr_scale
from ganhub.training.steps import GANSteps, choose_jit

from ganhub.errors import ConfigError, TrainingDivergedError
from ganhub.fileio import write_text_atomic

CHECKPOINT_SUBDIR = "checkpoints"
LOG_SUBDIR = "logs"
STATE_FILE = "train_state.json"
# Training steps per tf.function call on one device (GANSteps.train_steps); calls also end at every
# checkpoint and summary step, so what is saved and logged does not depend on it, nor do the weights.
STEPS_PER_CALL = 10

class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run after a whole step, and a checkpoint of it was saved."""


@contextlib.contextmanager
def _stop_requests():
    """Collect SIGINT/SIGTERM into a list instead of raising mid-step, so the loop can finish the
    step, checkpoint it and stop: no training is lost and resume stays exact. A second signal
    interrupts at once. Signal handlers only exist in the main thread; elsewhere this is a no-op."""
    requests = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def handler(signum, frame):
        if requests:
            raise KeyboardInterrupt
        requests.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requests
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def build_models(config, channels=None, strategy=None):
    """(generator, discriminator) as built for training, initialized from ``config.seed`` (inside
    ``strategy.scope()`` when a strategy is given). TensorFlow's global seed is not touched."""
    if channels is None:
        channels = data.channels_of(config.dataset)
    with initial_weights(config.seed), (strategy or tf.distribute.get_strategy()).scope():
        return architectures.build(config, channels)


def _check_resumable(model_dir, config):
    """The config saved in ``model_dir`` (None for a new run), after checking ``config`` may resume
    it."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.exists():
        return None
    saved_config = Config.load(path)
    saved = saved_config.to_dict()
    new = config.to_dict()
    changed = [k for k in new if new[k] != saved[k] and k not in RESUMABLE_CHANGES]
    if changed:
        diffs = ", ".join(f"{k}: {saved[k]!r} -> {new[k]!r}" for k in changed)
        raise ConfigError(f"{model_dir} holds a run with another config ({diffs}); use a new "
                          f"--model-dir, or change only {', '.join(RESUMABLE_CHANGES)} to resume")
    return saved_config


def _legacy_adam(checkpoint_path):
    """The optimizers ("d_optimizer", "g_optimizer") that ``checkpoint_path`` stores without
    beta1_power/beta2_power (checkpoints from before optim.Adam kept them)."""
    names = {name for name, _ in tf.train.list_variables(checkpoint_path)}
    return [key for key in ("d_optimizer", "g_optimizer")
            if not any(n.startswith(f"{key}/beta1_power/") for n in names)]


def _has_ema(checkpoint_path):
    return any(name.startswith("generator_ema/")
               for name, _ in tf.train.list_variables(checkpoint_path))


class Trainer:
    """Trains ``config`` into ``model_dir``. ``strategy``: a tf.distribute strategy (default: the
    current one, i.e. one device); ``dataset``: an already loaded data set (default: load
    ``config.dataset``'s train split); ``steps_per_call``: training steps per tf.function call on
    one device (1: one call per step; the weights are the same either way)."""

    def __init__(self, config, model_dir, strategy=None, dataset=None,
                 steps_per_call=STEPS_PER_CALL):
        self.config = config
        if not isinstance(steps_per_call, int) or steps_per_call < 1:
            raise ConfigError(f"steps_per_call must be a positive integer, got {steps_per_call!r}")
        self.steps_per_call = steps_per_call
        self.model_dir = Path(model_dir)
        self.saved_config = _check_resumable(self.model_dir, config)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.dataset = dataset or data.load_dataset(config.dataset, "train", config.data_dir,
                                                    config.resolution)
        if self.dataset.resolution != config.resolution:
            raise ConfigError(f"{config.dataset} images are {self.dataset.resolution}x"
                              f"{self.dataset.resolution}, but resolution={config.resolution}")
        self.generator, self.discriminator = build_models(config, self.dataset.channels,
                                                          self.strategy)
        self.g_ema = None
        ema_spec = None
        if config.g_ema_decay > 0:
            with self.strategy.scope():
                self.g_ema, _ = architectures.build(config, self.dataset.channels)
            g_vars, ema_vars = self.generator.trainable_variables, self.g_ema.trainable_variables
            decay = float(config.g_ema_decay)
            self._ema_copy = tf.function(lambda: ema.copy_weights(ema_vars, g_vars))
            self._ema_update = tf.function(lambda: ema.ema_update(ema_vars, g_vars, decay))
            ema_spec = (ema_vars, g_vars, decay, config.g_ema_start)
        self.batches = self.dataset.batches(config.batch_size, config.seed)
        jit, self.xla = self._choose_jit()
        self.steps = GANSteps(config, self.generator, self.discriminator, self.strategy,
                              ema=ema_spec, jit_compile=jit)
        self.loss = self.steps.loss
        self.d_optimizer, self.g_optimizer = self.steps.d_optimizer, self.steps.g_optimizer
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.wall_time = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="wall_time")
        self._tracked = dict(
            step=self.step, wall_time=self.wall_time, generator=self.generator,
            discriminator=self.discriminator, d_optimizer=self.d_optimizer,
            g_optimizer=self.g_optimizer)
        if self.g_ema is not None:
            self._tracked["generator_ema"] = self.g_ema
        self.checkpoint = tf.train.Checkpoint(**self._tracked)
        # Under MultiWorkerMirroredStrategy every worker must take part in saving, but only the chief
        # may write into model_dir: the others save into a private temporary dir (TF's convention)
        # and every worker restores from the chief's checkpoints.
        self.is_chief = _is_chief(self.strategy)
        self.checkpoint_dir = str(self.model_dir / CHECKPOINT_SUBDIR)
        save_dir = self.checkpoint_dir if self.is_chief else tempfile.mkdtemp(prefix="ganhub-worker-")
        self.manager = tf.train.CheckpointManager(self.checkpoint, save_dir, config.keep_checkpoints)

    def _choose_jit(self):
        """(XLA on?, how it was chosen): jit_compile "auto" is measured on one device (choose_jit);
        under a strategy it means off (the replicas of a multi-worker run must agree)."""
        if self.config.jit_compile == "auto" and self.strategy.num_replicas_in_sync > 1:
            return False, "off (jit_compile: auto; not measured under a tf.distribute strategy)"
        return choose_jit(self.config, self.generator, self.discriminator,
                          self.batches(tf.constant(1, tf.int64)))

    # --- one step -----------------------------------------------------------------------------
    def latents(self, step):
        return self.steps.latents(tf.constant(step, tf.int64))

    def train_step(self, t, real=None):
        """D step t (1-based), then the G step if (t − 1) mod disc_iters == 0. ``real``: batch t
        when the caller streams it already (``run`` does), else it is read here."""
        t_tensor = tf.constant(t, tf.int64)
        if real is None:
            real = self.batches(t_tensor)
        z = self.steps.latents(t_tensor)
        d_loss, penalty = self.steps.d_step(real, z, t_tensor)
        g_loss = self.steps.g_step(z, t_tensor) if (t - 1) % self.config.disc_iters == 0 else None
        if self.g_ema is not None and t >= self.config.g_ema_start:
            (self._ema_copy if t == self.config.g_ema_start else self._ema_update)()
        self.step.assign(t)
        return d_loss, penalty, g_loss

    # --- the run ------------------------------------------------------------------------------
    def restore(self):
        """Resume from the latest checkpoint, if any; returns the step reached."""
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        has_ema = bool(latest) and _has_ema(latest)
        if latest:
            tracked = dict(self._tracked)
            if not has_ema:
                tracked.pop("generator_ema", None)
            legacy = _legacy_adam(latest)
            for key in legacy:  # written before Adam kept TF1's running beta powers
                tracked[key] = tracked[key].legacy_view()
            tf.train.Checkpoint(**tracked).restore(latest).expect_partial() \
                .assert_existing_objects_matched()
            for key in legacy:
                self._tracked[key].restore_powers()
        step = int(self.step.numpy())
        self._check_lr_resume(step)
        if self.g_ema is not None:
            self._check_ema_resume(step, has_ema)
            if not has_ema and step == self.config.g_ema_start:
                self._ema_copy()
        return step

    def _check_lr_resume(self, step):
        """The steps already run must keep the learning rates they were trained with."""
        saved, new = self.saved_config, self.config
        if saved is None or step == 0:
            return
        done = np.arange(1, step + 1)
        before = lr_scale(done, saved.lr_decay, saved.lr_decay_start, saved.steps).numpy()
        after = lr_scale(done, new.lr_decay, new.lr_decay_start, new.steps).numpy()
        if not np.array_equal(before, after):
            first = int(done[np.argmax(before != after)])
            raise ConfigError(
                f"{self.model_dir} is at step {step} and the new schedule (lr_decay={new.lr_decay!r}, "
                f"lr_decay_start={new.lr_decay_start}, steps={new.steps}) would change the learning "
                f"rate of steps it has already run (from step {first}: it had lr_decay="
                f"{saved.lr_decay!r}, lr_decay_start={saved.lr_decay_start}, steps={saved.steps}); "
                f"start a decay at lr_decay_start >= {step}, keep the saved schedule, or train into "
                f"a new --model-dir")

    def _check_ema_resume(self, step, has_ema):
        start = self.config.g_ema_start
        if not has_ema:
            if step > start:
                raise ConfigError(
                    f"g_ema_start={start} is in the past: {self.model_dir} is at step {step} and "
                    f"its checkpoint has no generator EMA; set g_ema_start >= {step} to start the "
                    f"average from here")
            return
        saved = self.saved_config
        if saved is None or saved.g_ema_decay == 0:
            return
        changed = [k for k in EMA_KEYS if getattr(saved, k) != getattr(self.config, k)]
        if changed and step >= min(saved.g_ema_start, start):
            diffs = ", ".join(f"{k}: {getattr(saved, k)!r} -> {getattr(self.config, k)!r}"
                              for k in changed)
            raise ConfigError(f"the generator EMA of {self.model_dir} has been running since step "
                              f"{saved.g_ema_start} and cannot change ({diffs}); keep the saved "
                              f"values or train into a new --model-dir")

    def save(self):
        self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.is_chief:
            return
        state = {"step": int(self.step.numpy()), "wall_time": float(self.wall_time.numpy()),
                 "tensorflow": tf.__version__, "dataset": self.dataset.provenance,
                 "xla": self._xla_history()}
        write_text_atomic(self.model_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")

    def _xla_history(self):
        """Whether XLA was on (``self.xla``), and before this run's first step when a run resumed
        from a checkpoint chose otherwise (jit_compile may change on resume, "auto" may decide
        differently on another machine)."""
        before, started = getattr(self, "_xla_before", (None, 0))
        if before and before.split()[0] != self.xla.split()[0]:
            return f"{self.xla} from step {started + 1}; before: {before}"
        return self.xla

    def _read_xla_before(self, start):
        path = self.model_dir / STATE_FILE
        try:
            before = json.loads(path.read_text()).get("xla") if start and path.exists() else None
        except (OSError, ValueError):
            before = None
        self._xla_before = (before if isinstance(before, str) else None, start)

    def run(self, progress=True, summary_every=100):
        self.model_dir.mkdir(parents=True, exist_ok=True)
        start = self.restore()  # checks the resume first: a refused config must not be saved
        self._read_xla_before(start)
        if self.is_chief:
            self.config.save(self.model_dir / CONFIG_FILE)
        if tf.train.latest_checkpoint(self.checkpoint_dir) is None:
            self.save()  # step 0, as compare_gan
        steps = self.config.steps
        writer = _summary_writer(self.model_dir / LOG_SUBDIR) if self.is_chief else None
        bar = _progress(start, steps, progress)
        last = {}
        t0 = time.perf_counter()
        stream = iter(self.batches.stream(start + 1, steps)) if start < steps else iter(())
        # several steps per call on one device; one call per step (train_step) under a strategy
        chunked = self.steps.replicas == 1 and self.steps_per_call > 1
        with contextlib.ExitStack() as stack:
            stop = stack.enter_context(_stop_requests())
            stack.callback(bar.close)
            if writer:
                stack.callback(writer.flush)
            t = start
            while t < steps:
                first = t + 1
                t = self._chunk_end(first, summary_every) if chunked else first
                if chunked:
                    reals = tf.stack([next(stream) for _ in range(t - first + 1)])
                    losses = [np.asarray(v) for v in self.steps.train_steps(first, reals)]
                    self.step.assign(t)
                else:
                    d_loss, penalty, g_loss = self.train_step(t, next(stream))
                    losses = [np.array([v.numpy()]) if v is not None else np.zeros(1)
                              for v in (d_loss, penalty, g_loss)]
                self._record(first, t, losses, last)
                if writer and (t % summary_every == 0 or t == steps):
                    with writer.as_default(step=t):
                        for k, v in last.items():
                            tf.summary.scalar(k, v)
                saved = t % self.config.checkpoint_every == 0 or t == steps
                if saved or stop:
                    self._add_time(t0)
                    t0 = time.perf_counter()
                    self.save()
                if saved and writer:
                    with writer.as_default(step=t):
                        tf.summary.image("samples", self.sample_grid(), max_outputs=1)
                bar.update(t - first + 1)
                if t // 10 > (first - 1) // 10:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()}, refresh=False)
                if stop:
                    raise TrainingInterrupted(
                        f"stopped by {signal.Signals(stop[0]).name} after step {t} of {steps}; "
                        f"checkpoint saved in {self.checkpoint_dir}; run the same command again "
                        f"to resume")
        return {"step": int(self.step.numpy()), "wall_time": float(self.wall_time.numpy()), **last}

    def _chunk_end(self, first, summary_every):
        """The last step of the call that starts at ``first``: at most steps_per_call steps, and
        ending at the next checkpoint or summary step, or the last step."""
        end = min(first + self.steps_per_call - 1, self.config.steps)
        for every in (self.config.checkpoint_every, summary_every):
            end = min(end, -(-first // every) * every)
        return end

    def _record(self, first, last_step, losses, last):
        """Check steps first … last_step's losses ([k] arrays: d_loss, penalty, g_loss with 0
        where no G step ran) and keep the latest in ``last``."""
        d_loss, penalty, g_loss = losses
        ran_g = [(t - 1) % self.config.disc_iters == 0 for t in range(first, last_step + 1)]
        for i, t in enumerate(range(first, last_step + 1)):
            values = {"d_loss": float(d_loss[i]), "penalty": float(penalty[i])}
            if ran_g[i]:
                values["g_loss"] = float(g_loss[i])
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDivergedError(
                    f"{', '.join(bad)} became {values[bad[0]]} at step {t}; the last good "
                    f"checkpoint ({self.manager.latest_checkpoint}) is kept. Lower "
                    f"learning_rate or change the loss/penalty, then train into a new model dir")
            last.update(values)

    def _add_time(self, t0):
        self.wall_time.assign_add(time.perf_counter() - t0)

    def sample_grid(self, n=16, seed=0):
        z = tf.random.stateless_uniform([n, self.config.z_dim], [seed, 0], -1.0, 1.0)
        images = self.generator(z, training=False).numpy()
        from ganhub.images import make_grid
        return make_grid(np.clip(images, 0, 1))[None]


def _is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None) if resolver is not None else None
    if not task_type or task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and int(resolver.task_id or 0) == 0 and not has_chief


def _summary_writer(log_dir):
    """TensorBoard writer, or None when tensorboard (the `tensorboard` extra) is not installed."""
    try:
        import tensorboard.summary  # noqa: F401  (tf.summary needs it at write time)
    except ImportError:
        return None
    return tf.summary.create_file_writer(str(log_dir))


def _progress(start, total, enabled):
    from tqdm.auto import tqdm

    from ganhub import settings
    return tqdm(total=total, initial=start, unit="step", desc="train", dynamic_ncols=True,
                disable=not enabled or settings.progress_disabled())


def train(config, model_dir, progress=True, strategy=None):
    """Train (or resume) ``config`` into ``model_dir``; returns the final step, losses, wall time.
    ``strategy``: a tf.distribute strategy or a name for ``training.distribute.make_strategy``."""
    if isinstance(config, (str, Path)):
        config = Config.load(config)
    elif isinstance(config, dict):
        config = Config.from_dict(config)
    if isinstance(strategy, str):
        from ganhub.training.distribute import make_strategy
        strategy = make_strategy(strategy)
    return Trainer(config, model_dir, strategy=strategy).run(progress=progress)


WEIGHTS = ("auto", "ema", "raw")


def load_generator(model_dir, checkpoint=None, weights="auto"):
    """(config, generator, state) restored from a trained model dir (latest checkpoint by default).

    ``weights``: "raw" (G as trained), "ema" (the generator EMA, with standing BN statistics; see
    training/ema.py) or "auto" (the EMA when the run has one that has started, else raw).
    ``state["generator_weights"]`` says which, and how."""
    if weights not in WEIGHTS:
        raise ConfigError(f"weights={weights!r} is not valid; choose one of {', '.join(WEIGHTS)}")
    model_dir = Path(model_dir)
    config_path = model_dir / CONFIG_FILE
    if not config_path.exists():
        raise ConfigError(f"{model_dir} is not a training dir: {CONFIG_FILE} is missing "
                          f"(train one with `ganhub train CONFIG.json --model-dir {model_dir}`)")
    config = Config.load(config_path)
    generator, _ = build_models(config)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    wall_time = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="wall_time")
    path = checkpoint or tf.train.latest_checkpoint(str(model_dir / CHECKPOINT_SUBDIR))
    if not path:
        raise ConfigError(f"{model_dir} has no checkpoint yet; train it first")
    # Read the step first: whether the EMA has started depends on it.
    tf.train.Checkpoint(step=step).restore(path).expect_partial()
    if config.g_ema_decay == 0:
        why_no_ema = "its config has g_ema_decay=0"
    elif not _has_ema(path):
        why_no_ema = "the checkpoint has no generator EMA"
    elif int(step.numpy()) < config.g_ema_start:
        why_no_ema = (f"the EMA starts at step {config.g_ema_start} and the checkpoint is at step "
                      f"{int(step.numpy())}")
    else:
        why_no_ema = None
    if weights == "ema" and why_no_ema:
        raise ConfigError(f"{model_dir} has no generator EMA to load: {why_no_ema}; "
                          f"use weights='raw'")
    use_ema = weights == "ema" or (weights == "auto" and not why_no_ema)
    tracked = {"generator_ema" if use_ema else "generator": generator}
    ckpt = tf.train.Checkpoint(step=step, wall_time=wall_time, **tracked)
    ckpt.restore(path).expect_partial().assert_existing_objects_matched()
    if use_ema:
        ema.standing_statistics(generator, config.z_dim, config.batch_size)
        kind = {"kind": "ema", "decay": config.g_ema_decay, "start": config.g_ema_start,
                "bn_statistics": {"kind": "standing", "batches": ema.STANDING_BATCHES,
                                  "batch_size": config.batch_size, "seed": ema.STANDING_SEED}}
    else:
        kind = {"kind": "raw", "bn_statistics": {"kind": "training moving averages"}}
    state_path = model_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    state.update(step=int(step.numpy()), wall_time=float(wall_time.numpy()), checkpoint=str(path),
                 generator_weights=kind)
    return config, generator, state
