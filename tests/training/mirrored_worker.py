"""Run by test_distribute.py in a fresh process: logical devices must be configured before
TensorFlow initializes. Prints one JSON line of measured differences per config."""
import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from ganhub.training import Config, build_models, penalties  # noqa: E402
from ganhub.training.steps import PENALTY_STREAM, GANSteps  # noqa: E402

HALF = 3


def _copy(src_vars, dst_vars):
    for s, d in zip(src_vars, dst_vars):
        d.assign(s.read_value())


def _max_diff(a_vars, b_vars):
    return max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(a_vars, b_vars))


def _non_trainable(*modules):
    return [v for m in modules for v in m.variables if not v.trainable]


def _grad_diff(a, b):
    """max |a − b| over all gradient entries, relative to the largest gradient entry."""
    scale = max(float(np.max(np.abs(x))) for x in b)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b)) / scale


def _frac_differing(a_vars, b_vars, atol=1e-5):
    """Fraction of weights differing by more than atol (Adam's first step is ±lr·sign(g), so a
    gradient entry at float-noise level may flip and move one weight by up to 2·lr)."""
    total = sum(int(np.prod(a.shape)) for a in a_vars)
    bad = sum(int(np.sum(np.abs(a.numpy() - b.numpy()) > atol)) for a, b in zip(a_vars, b_vars))
    return bad / total


def _sn_layers(d):
    return [m for m in d.submodules if getattr(m, "spectral_norm", None) is not None]


def _one_iteration(layer, u):
    w = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]).astype(np.float64)
    v = w.T @ u
    v /= np.linalg.norm(v)
    u = w @ v
    return u / np.linalg.norm(u)


def _u_error(layers, expected):
    """max |u − expected| over every replica's own copy of every u."""
    return max(float(np.max(np.abs(copy.numpy() - e)))
               for layer, e in zip(layers, expected) for copy in layer.spectral_norm.u.values)


def compare(config):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    g, d = build_models(config, 1, strategy)
    mirrored = GANSteps(config, g, d, strategy)
    ref_g, ref_d = build_models(config, 1)
    ref = GANSteps(config, ref_g, ref_d)
    _copy(g.variables + d.variables, ref_g.variables + ref_d.variables)

    s = config.resolution
    real = tf.random.stateless_uniform([2 * HALF, s, s, 1], [5, 6])
    step = tf.constant(1, tf.int64)
    z = mirrored.latents(step)
    results = {"replicas": mirrored.replicas}

    # --- D step: mirrored vs one device running the two replica halves one after the other ----
    noise = penalties.draw_noise(config.penalty, tf.shape(real), ref._seed(step, PENALTY_STREAM))
    m_state = [v.numpy() for v in _non_trainable(g, d)]
    state = [v.numpy() for v in _non_trainable(ref_g, ref_d)]

    def restore():
        for v, value in zip(_non_trainable(ref_g, ref_d), state):
            v.assign(value)

    halves = []
    for part in (slice(0, HALF), slice(HALF, 2 * HALF)):
        restore()  # each replica starts from the same SN u / BN moving statistics
        halves.append(ref.d_replica(real[part], z[part], noise[part]))
    grads = [(a + b) / 2 for a, b in zip(halves[0][0], halves[1][0])]
    # the all-reduced gradients of the mirrored path, without applying them
    m_grads = tf.function(lambda: mirrored._run(mirrored._d_replica, real, z, noise))()[0]
    results["d_grads"] = _grad_diff(m_grads, grads)
    for v, value in zip(_non_trainable(g, d), m_state):
        v.assign(value)
    d_before = [v.numpy() for v in d.trainable_variables]
    sn_layers = _sn_layers(d)
    expected_u = [_one_iteration(l, l.spectral_norm.u.numpy().astype(np.float64)) for l in sn_layers]
    d_loss, penalty = mirrored.d_step(real, z, step)
    # every replica's u moved one power iteration in the D step (three D calls with DRAGAN)
    results["u_after_d"] = _u_error(sn_layers, expected_u) if sn_layers else 0.0
    expected_u = [_one_iteration(l, l.spectral_norm.u.numpy().astype(np.float64)) for l in sn_layers]
    ref.d_optimizer.apply(grads, ref_d.trainable_variables)
    results["d_loss"] = [float(d_loss), (float(halves[0][1]) + float(halves[1][1])) / 2]
    results["penalty"] = [float(penalty), (float(halves[0][2]) + float(halves[1][2])) / 2]
    results["d_weights"] = _frac_differing(d.trainable_variables, ref_d.trainable_variables)
    results["d_moved"] = _max_diff(d.trainable_variables, [tf.constant(v) for v in d_before])
    # --- G step ----------------------------------------------------------------------------------
    g_before = [v.numpy() for v in g.trainable_variables]
    g_loss = mirrored.g_step(z)
    results["u_after_g"] = _u_error(sn_layers, expected_u) if sn_layers else 0.0
    results["sn_layers"] = len(sn_layers)
    state = [v.numpy() for v in _non_trainable(ref_g, ref_d)]
    halves = []
    for part in (slice(0, HALF), slice(HALF, 2 * HALF)):
        restore()
        halves.append(ref.g_replica(z[part]))
    grads = [(a + b) / 2 for a, b in zip(halves[0][0], halves[1][0])]
    ref.g_optimizer.apply(grads, ref_g.trainable_variables)
    results["g_loss"] = [float(g_loss), (float(halves[0][1]) + float(halves[1][1])) / 2]
    results["g_weights"] = _frac_differing(g.trainable_variables, ref_g.trainable_variables)
    results["g_moved"] = _max_diff(g.trainable_variables, [tf.constant(v) for v in g_before])
    return results


def run_trainer(config, model_dir):
    """A whole Trainer.run under the strategy: streams global batches, checkpoints, resumes."""
    from ganhub.training import data
    from ganhub.training.loop import Trainer
    images = np.random.default_rng(0).integers(0, 256, (24, config.resolution, config.resolution, 1),
                                               dtype=np.uint8)
    dataset = data.Dataset("mnist", "train", images, {})
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = config.replace(steps=2, checkpoint_every=1, keep_checkpoints=5, g_ema_decay=0.5,
                            g_ema_start=1)
    tf.config.run_functions_eagerly(True)  # 3 steps: cheaper than tracing two Trainers' steps
    first = Trainer(config, model_dir, strategy=strategy, dataset=dataset).run(progress=False)
    again = Trainer(config.replace(steps=3), model_dir, strategy=strategy, dataset=dataset)
    result = again.run(progress=False)
    kind = type(again.discriminator.trainable_variables[0]).__name__

    def weights(step, key):
        reader = tf.train.load_checkpoint(f"{model_dir}/checkpoints/ckpt-{step}")
        return {n[len(key):]: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
                if n.startswith(key + "/") and "moving_" not in n and "OPTIMIZER_SLOT" not in n}

    e2, g3, e3 = weights(2, "generator_ema"), weights(3, "generator"), weights(3, "generator_ema")
    ema_error = max(float(np.max(np.abs(e3[k] - (0.5 * e2[k] + 0.5 * g3[k])))) for k in g3)
    return {"trainer_steps": [first["step"], result["step"]], "variable_kind": kind,
            "ema_keys_match": sorted(g3) == sorted(e3) and len(g3) > 4, "ema_error": ema_error,
            "ema_kind": type(again.g_ema.trainable_variables[0]).__name__,
            "trainer_finite": all(np.isfinite(v) for k, v in result.items() if k.endswith("loss"))}


if __name__ == "__main__":
    if sys.argv[1] == "--trainer":  # --trainer MODEL_DIR SPEC [SPEC ...]: compare SPECs, then train
        model_dir, specs = sys.argv[2], sys.argv[3:]
        arch, norm, loss, penalty, res = specs[0].split(",")
        config = Config(architecture=arch, d_norm=norm, loss=loss, penalty=penalty,
                        penalty_lambda=1.0, resolution=int(res), width=0.0625, batch_size=2 * HALF,
                        z_dim=8, dataset="mnist", learning_rate=1e-3)
        results = {"compare": compare(config), "trainer": run_trainer(config, model_dir)}
        print(json.dumps(results), flush=True)
        sys.exit(0)
    for spec in sys.argv[1:]:
        arch, norm, loss, penalty, res = spec.split(",")
        config = Config(architecture=arch, d_norm=norm, loss=loss, penalty=penalty,
                        penalty_lambda=1.0, resolution=int(res), width=0.0625, batch_size=2 * HALF,
                        z_dim=8, learning_rate=1e-3)
        print(json.dumps({"spec": spec, **compare(config)}), flush=True)
