"""Golden values from google/compare_gan's own v2 code (the GAN Landscape code) under TF 1.15, for
tests/training/test_golden.py. Kept in the repository, not run by CI; the compare_gan source is read
from a checkout at generation time and never copied into ganhub.

    git -C <mirror> archive v2 | tar -x -C /tmp/compare_gan_v2     # any checkout of branch v2
    ~/.pyenv/versions/3.7.16/bin/python -m venv /tmp/tf115
    /tmp/tf115/bin/pip install tensorflow==1.15.5 'numpy<1.19' 'protobuf<3.21'
    /tmp/tf115/bin/python scripts/golden/make_compare_gan_golden.py /tmp/compare_gan_v2

What runs is compare_gan's code: ``AbstractGANWithPenalty.build_model`` (architectures, losses,
penalty, spectral norm, contrib batch norm, the two ``minimize`` ops) and
``AbstractGAN.run_single_train_step`` (one D step, then one G step, the same z) for the step
scenarios; ``dcgan_architecture.sn_generator``/``sn_discriminator``/``generator``/``discriminator``
for the 28×28 forward passes; ``tf.train.AdamOptimizer`` for the Adam trajectories.

Shims (everything else is the original):
- ``scipy`` and ``scipy.misc``: empty stand-in modules (ops.py imports scipy.misc for ``imsave``,
  which only saving sample images calls);
- ``tf.contrib.gan``: an empty stand-in module (the TF 1.15.5 wheel no longer ships it;
  resnet_architecture.py binds it at import, only the ResNets and FID code use it);
- ``tf.random_uniform``: while the model is built, the WGAN-GP interpolation weights
  (shape [batch, 1, 1, 1]) are a constant α stored in the fixture, so ganhub can use the same α;
- ``tf.train.AdamOptimizer``: while the model is built, a subclass that only remembers the
  (gradient, variable) pairs ``minimize`` computes; the D/G minimize ops are then grouped with
  assignments of those gradients to extra variables, so the gradients of the very ``sess.run`` that
  ``run_single_train_step`` makes can be read back;
- ``model.writer``: a summary writer that drops summaries; the session passed to
  ``run_single_train_step`` is a proxy that reads every variable after each ``sess.run`` (state
  after the D step and after the G step).

The step scenarios run with ``inter_op_parallelism_threads=1`` for a fixed op schedule; with the
default thread pools the fixture came out bit for bit the same (checked), i.e. every D call of one
``sess.run`` read u before any wrote it.

Weights are not stored: each variable comes from a recipe stored in the fixture (a numpy
``RandomState`` seed, distribution, offset and scale; ``make_array`` below, re-implemented in the
test), since the full-width SNDCGAN (compare_gan v2 has no width parameter) has ~9M parameters.
Arrays of more than 2,048 entries (gradients, updated weights, the larger u vectors and BN
statistics) are stored as 256 sampled entries plus the full float64 sum and L2 norm; smaller
ones, losses, images and logits are stored whole.
"""
import argparse
import json
import re
import sys
import types
import zlib
from pathlib import Path

import numpy as np

BATCH, Z_DIM, CHANNELS = 4, 16, 1
SAMPLES = 256           # entries kept of a large array
FULL_MAX = 2048         # arrays up to this size are stored whole
ADAM_STEPS, ADAM_SIZE = 100, 32
ADAM_CONFIGS = {"adam_default": (2e-4, 0.5, 0.999), "adam_odd": (3.381e-5, 0.3753, 0.9982)}
STEP_SCENARIOS = {
    # name: (compare_gan model class, penalty, lambda); all SNDCGAN, spectral_norm, 32x32x1
    "step_sn_ns": ("GAN_PENALTY", "no_penalty", 0.0),
    "step_sn_wgan_gp": ("WGAN_PENALTY", "wgangp_penalty", 10.0),
}
STEP_HPARAMS = {"learning_rate": 2e-4, "beta1": 0.5, "beta2": 0.999}


def seed_of(key):
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


def recipe(key):
    """(dist, offset, scale) of the variable named ``key`` ("<net>:<tf1 variable name>")."""
    name = key.split(":", 1)[1]
    if name.endswith("/u"):
        return "normal", 0.0, 1.0            # a random u, as compare_gan's initializer
    if name.endswith(("/w", "/Matrix")):
        return "normal", 0.0, 0.02
    if name.endswith(("/bias", "/biases")):
        return "normal", 0.0, 0.01
    if name.endswith("/gamma"):
        return "normal", 1.0, 0.1
    if name.endswith(("/beta", "/moving_mean")):
        return "normal", 0.0, 0.1
    if name.endswith("/moving_variance"):
        return "uniform", 0.5, 1.0
    raise ValueError(f"no recipe for {key}")


def make_array(seed, shape, dist, offset, scale):
    rs = np.random.RandomState(seed)
    x = rs.standard_normal(shape) if dist == "normal" else rs.uniform(size=shape)
    return (offset + scale * x).astype(np.float32)


def canonical(tf_name):
    """compare_gan's variable name → the fixture's key (u vectors become "<kernel>/u")."""
    name = tf_name.split(":")[0]
    m = re.search(r"((?:generator|discriminator)/[^/]+/(?:w|Matrix))0/u_var$", name)
    return m.group(1) + "/u" if m else name


def summarize(out, key, array):
    array = np.asarray(array)
    if array.size <= FULL_MAX:
        out[key] = array
        return
    flat = array.reshape(-1)
    idx = np.sort(np.random.RandomState(seed_of(key)).choice(flat.size, SAMPLES, replace=False))
    out[key + "#idx"] = idx.astype(np.int32)
    out[key + "#val"] = flat[idx]
    out[key + "#sum"] = np.float64(flat.astype(np.float64).sum())
    out[key + "#norm"] = np.float64(np.linalg.norm(flat.astype(np.float64)))


def import_compare_gan(checkout):
    sys.modules.setdefault("scipy", types.ModuleType("scipy"))
    sys.modules.setdefault("scipy.misc", types.ModuleType("scipy.misc"))
    sys.modules["scipy"].misc = sys.modules["scipy.misc"]
    import tensorflow as tf
    if not hasattr(tf.contrib, "gan"):  # not in the TF 1.15.5 wheel; only ResNets/FID use it
        tf.contrib.gan = types.ModuleType("tf.contrib.gan")
    sys.path.insert(0, str(checkout))
    from compare_gan.src.gans import dcgan_architecture, gans_with_penalty
    return gans_with_penalty, dcgan_architecture


def model_variables(tf):
    return [v for v in tf.global_variables()
            if v.name.startswith(("generator/", "discriminator/")) and "adam" not in v.name]


def load_weights(tf, sess, net, spec):
    values = {}
    for var in model_variables(tf):
        key = f"{net}:{canonical(var.name)}"
        dist, offset, scale = recipe(key)
        shape = var.shape.as_list()
        spec[key] = {"seed": seed_of(key), "shape": shape, "dist": dist, "offset": offset,
                     "scale": scale}
        values[key] = make_array(seed_of(key), shape, dist, offset, scale)
        var.load(values[key], sess)
    return values


def read_state(tf, sess, net):
    return {f"{net}:{canonical(v.name)}": value
            for v, value in zip(model_variables(tf), sess.run(model_variables(tf)))}


class _NullWriter:
    def add_summary(self, *args, **kwargs):
        pass


class _SnapshotSession:
    """Forwards ``run``; reads every model variable after each call."""

    def __init__(self, tf, sess, net):
        self.tf, self.sess, self.net, self.snapshots = tf, sess, net, []

    def run(self, *args, **kwargs):
        result = self.sess.run(*args, **kwargs)
        self.snapshots.append(read_state(self.tf, self.sess, self.net))
        return result


def step_scenario(tf, gwp, name, model_class, penalty, lam, real, z, alpha, spec, out):
    params = {"training_steps": 1, "save_checkpoint_steps": 1, "batch_size": BATCH,
              "z_dim": Z_DIM, "discriminator_normalization": "spectral_norm",
              "input_height": 32, "input_width": 32, "output_height": 32, "output_width": 32,
              "c_dim": CHANNELS, "dataset_name": "golden", "architecture": "sndcgan_arch",
              "penalty_type": penalty, "lambda": lam, "disc_iters": 1, **STEP_HPARAMS}
    recorded = {}
    real_adam, real_uniform = tf.train.AdamOptimizer, tf.random_uniform

    class RecordingAdam(real_adam):
        def compute_gradients(self, loss, var_list=None, **kwargs):
            pairs = super().compute_gradients(loss, var_list=var_list, **kwargs)
            recorded[self.get_name()] = pairs
            return pairs

    def fixed_uniform(shape, *args, **kwargs):
        if list(shape) == [BATCH, 1, 1, 1]:
            return tf.constant(alpha)
        return real_uniform(shape, *args, **kwargs)

    graph = tf.Graph()
    with graph.as_default():
        tf.train.AdamOptimizer, tf.random_uniform = RecordingAdam, fixed_uniform
        try:
            runtime = types.SimpleNamespace(checkpoint_dir="", result_dir="", log_dir="")
            model = getattr(gwp, model_class)(dataset_content=None, parameters=params,
                                              runtime_info=runtime)
            model.build_model()
        finally:
            tf.train.AdamOptimizer, tf.random_uniform = real_adam, real_uniform
        stores = {}
        for opt_name, attr in (("d_adam", "d_optim"), ("g_adam", "g_optim")):
            assigns = []
            for grad, var in recorded[opt_name]:
                store = tf.Variable(tf.zeros(var.shape), trainable=False,
                                    name="golden_grad/" + var.op.name)
                stores[(opt_name, canonical(var.name))] = store
                assigns.append(tf.assign(store, grad))
            setattr(model, attr, tf.group(getattr(model, attr), *assigns))
        model.writer = _NullWriter()
        with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=1)) as sess:
            sess.run(tf.global_variables_initializer())
            before = load_weights(tf, sess, "sndcgan32", spec)
            proxy = _SnapshotSession(tf, sess, "sndcgan32")
            d_loss, g_loss = model.run_single_train_step(real, z, 1, None, proxy)
            grads = {k: v for k, v in zip(stores, sess.run(list(stores.values())))}
    after_d, after_g = proxy.snapshots
    out[f"{name}/d_loss"] = np.float32(d_loss)
    out[f"{name}/g_loss"] = np.float32(g_loss)
    for (opt_name, var_name), value in grads.items():
        summarize(out, f"{name}/grad_{opt_name[0]}/{var_name}", value)
    # what each step changes: D's weights and u, G's BN statistics (G runs in training mode in the
    # D step too); then G's weights and BN statistics, and u again (the G step's D call)
    for phase, state, changed in (("after_d", after_d, ("discriminator/", "moving_")),
                                  ("after_g", after_g, ("generator/", "/u"))):
        for key, value in state.items():
            var = key.split(":", 1)[1]
            if any(part in var for part in changed):
                summarize(out, f"{name}/{phase}/{var}", value)
    # compare_gan's u after each step is one power iteration from the u before it
    for key in before:
        if key.endswith("/u"):
            w = before[key[:-2]].reshape(-1, before[key[:-2]].shape[-1]).astype(np.float64)
            u = before[key].astype(np.float64)
            v = w.T @ u
            v /= np.linalg.norm(v)
            u1 = w @ v
            u1 /= np.linalg.norm(u1)
            print(f"{name} {key}: |u_after_d - one iteration| = "
                  f"{np.abs(after_d[key] - u1).max():.2e}")
    return before


def forward_scenarios(tf, dcgan, spec, out, z, real28):
    nets = {
        "sndcgan28_g": lambda z_, x_, training: dcgan.sn_generator(z_, BATCH, 28, 28, CHANNELS,
                                                                    training, reuse=tf.AUTO_REUSE),
        "sndcgan28_d": lambda z_, x_, training: dcgan.sn_discriminator(
            x_, BATCH, reuse=tf.AUTO_REUSE, use_sn=True)[1],
        "dcgan28_g": lambda z_, x_, training: dcgan.generator(z_, BATCH, 28, 28, CHANNELS,
                                                              training, reuse=tf.AUTO_REUSE),
        "dcgan28_d": lambda z_, x_, training: dcgan.discriminator(
            x_, BATCH, training, "batch_norm", reuse=tf.AUTO_REUSE)[1],
    }
    for net, build in nets.items():
        graph = tf.Graph()
        with graph.as_default():
            z_ph = tf.placeholder(tf.float32, [BATCH, Z_DIM])
            x_ph = tf.placeholder(tf.float32, [BATCH, 28, 28, CHANNELS])
            out_eval = build(z_ph, x_ph, False)
            out_train = build(z_ph, x_ph, True)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                load_weights(tf, sess, net, spec)
                feed = {z_ph: z, x_ph: real28}
                # the eval call first (it changes no BN statistics; with SN it advances u once)
                out[f"fwd/{net}/eval"] = sess.run(out_eval, feed)
                out[f"fwd/{net}/train"] = sess.run(out_train, feed)
                for key, value in read_state(tf, sess, net).items():
                    if key.endswith(("/u", "moving_mean", "moving_variance")):
                        summarize(out, f"fwd/{net}/after/{key.split(':', 1)[1]}", value)


def adam_trajectories(tf, spec, out):
    rs = np.random.RandomState(7)
    var0 = rs.standard_normal(ADAM_SIZE).astype(np.float32)
    scales = 10.0 ** rs.uniform(-6, 1, size=(ADAM_STEPS, 1))
    grads = (rs.standard_normal((ADAM_STEPS, ADAM_SIZE)) * scales).astype(np.float32)
    grads[10] = 0.0     # a zero gradient
    grads[20, :4] = 0.0
    out["adam/var0"], out["adam/grads"] = var0, grads
    for name, (lr, beta1, beta2) in ADAM_CONFIGS.items():
        graph = tf.Graph()
        with graph.as_default():
            var = tf.Variable(var0, use_resource=False)   # compare_gan's (ref) variables
            g_ph = tf.placeholder(tf.float32, [ADAM_SIZE])
            opt = tf.train.AdamOptimizer(lr, beta1=beta1, beta2=beta2)
            train = opt.apply_gradients([(g_ph, var)])
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                trajectory = []
                for g in grads:
                    sess.run(train, {g_ph: g})
                    trajectory.append(sess.run(var))
                b1p, b2p = opt._get_beta_accumulators()
                out[f"{name}/trajectory"] = np.stack(trajectory)
                out[f"{name}/m"] = sess.run(opt.get_slot(var, "m"))
                out[f"{name}/v"] = sess.run(opt.get_slot(var, "v"))
                out[f"{name}/beta1_power"], out[f"{name}/beta2_power"] = sess.run([b1p, b2p])
        spec[name] = {"learning_rate": lr, "beta1": beta1, "beta2": beta2}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", help="a checkout of google/compare_gan branch v2")
    parser.add_argument("--commit", default="", help="the checkout's commit, recorded")
    parser.add_argument("--out", help="default: tests/training/fixtures/compare_gan_v2_golden.npz")
    args = parser.parse_args()
    if not args.out:
        args.out = str(Path(__file__).resolve().parents[2] / "tests" / "training" / "fixtures" /
                       "compare_gan_v2_golden.npz")
    gwp, dcgan = import_compare_gan(Path(args.checkout).resolve())
    import tensorflow as tf

    rs = np.random.RandomState(1)
    real32 = rs.uniform(size=(BATCH, 32, 32, CHANNELS)).astype(np.float32)
    real28 = rs.uniform(size=(BATCH, 28, 28, CHANNELS)).astype(np.float32)
    z = rs.uniform(-1, 1, size=(BATCH, Z_DIM)).astype(np.float32)
    alpha = rs.uniform(size=(BATCH, 1, 1, 1)).astype(np.float32)
    out = {"inputs/real32": real32, "inputs/real28": real28, "inputs/z": z, "inputs/alpha": alpha}
    weights = {}
    for name, (model_class, penalty, lam) in STEP_SCENARIOS.items():
        step_scenario(tf, gwp, name, model_class, penalty, lam, real32, z, alpha, weights, out)
    forward_scenarios(tf, dcgan, weights, out, z, real28)
    adam = {}
    adam_trajectories(tf, adam, out)
    meta = {
        "source": {"repository": "google/compare_gan", "branch": "v2", "commit": args.commit,
                   "tensorflow": tf.__version__, "numpy": np.__version__,
                   "python": sys.version.split()[0]},
        "batch": BATCH, "z_dim": Z_DIM, "channels": CHANNELS,
        "step_scenarios": {k: {"model": m, "penalty": p, "lambda": lam, **STEP_HPARAMS,
                               "architecture": "sndcgan_arch", "resolution": 32,
                               "discriminator_normalization": "spectral_norm"}
                           for k, (m, p, lam) in STEP_SCENARIOS.items()},
        "adam": adam, "adam_steps": ADAM_STEPS, "weights": weights,
        "samples": SAMPLES, "full_max": FULL_MAX,
    }
    out["meta"] = np.array(json.dumps(meta, sort_keys=True))
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out}: {len(out)} arrays")


if __name__ == "__main__":
    main()
