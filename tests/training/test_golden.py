"""ganhub against golden values from google/compare_gan's own v2 code under TF 1.15
(scripts/golden/make_compare_gan_golden.py wrote tests/training/fixtures/compare_gan_v2_golden.npz;
it lists what was shimmed to run the original).

- a full D step and G step of SNDCGAN with spectral norm from a random u, with the NS loss and with
  WGAN-GP: losses, gradients, updated weights, u after each step, G's BN statistics;
- 100 Adam steps with two hyper-parameter sets: m, v and the beta powers bit for bit, the weights
  within a few ULP (TF 1.15's sqrt was not correctly rounded; see MAX_ULP_VS_TF115); and 2,000 steps
  bit for bit against tf.compat.v1.train.AdamOptimizer run by this TensorFlow;
- the 28x28 forward passes (ceil sizing) of SNDCGAN and DCGAN, G and D, with u / BN statistics.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ganhub.training import Config
from ganhub.training.architectures.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhub.training.architectures.sndcgan import SNDCGANDiscriminator, SNDCGANGenerator
from ganhub.training.optim import Adam
from ganhub.training.steps import GANSteps

pytestmark = pytest.mark.slow  # full-width SNDCGAN steps against compare_gan's values

FIXTURE = Path(__file__).parent / "fixtures" / "compare_gan_v2_golden.npz"
LOSSES = {"GAN_PENALTY": "ns", "WGAN_PENALTY": "wgan"}
PENALTIES = {"no_penalty": "none", "wgangp_penalty": "wgan_gp"}


def load_golden():
    data = np.load(FIXTURE)
    return {k: data[k] for k in data.files}, json.loads(str(data["meta"]))


@pytest.fixture(scope="module")
def golden():
    return load_golden()


def make_array(seed, shape, dist, offset, scale):
    """The fixture's weight recipe (make_array of the generator script)."""
    rs = np.random.RandomState(seed)
    x = rs.standard_normal(shape) if dist == "normal" else rs.uniform(size=shape)
    return (offset + scale * x).astype(np.float32)


# compare_gan's variable names → ganhub's modules (per architecture) and attributes
ATTRS = {"Matrix": "kernel", "w": "kernel", "bias": "bias", "biases": "bias", "gamma": "gamma",
         "beta": "beta", "moving_mean": "moving_mean", "moving_variance": "moving_variance"}


def sndcgan_modules(g, d):
    mods = {"generator/g_fc1": g.fc, "generator/g_bn1": g.bn1, "generator/g_dc5": g.out,
            "discriminator/d_fc1": d.fc}
    for i in range(3):
        mods[f"generator/g_dc{i + 2}"] = g.deconvs[i]
        mods[f"generator/g_bn{i + 2}"] = g.bns[i]
    for i, conv in enumerate(d.convs):
        mods[f"discriminator/d_conv{i + 1}"] = conv
    return mods


def dcgan_modules(g, d):
    mods = {"generator/g_fc1": g.fc, "generator/g_bn1": g.bn1, "generator/g_dc4": g.out,
            "discriminator/d_fc4": d.fc}
    for i in range(3):
        mods[f"generator/g_dc{i + 1}"] = g.deconvs[i]
        mods[f"generator/g_bn{i + 2}"] = g.bns[i]
        mods[f"discriminator/d_bn{i + 1}"] = d.norms[i]
    for i, conv in enumerate(d.convs):
        mods[f"discriminator/d_conv{i + 1}"] = conv
    return mods


def variable_of(mods, name):
    """The ganhub variable of compare_gan variable ``name`` (u: "<kernel>/u")."""
    if name.endswith("/u"):
        scope = name.rsplit("/", 2)[0]
        return mods[scope].spectral_norm.u
    scope, attr = name.rsplit("/", 1)
    return getattr(mods[scope], ATTRS[attr])


def load_weights(meta, net, mods, networks):
    """Assign the recipe's weights; every variable of ``networks`` must get one."""
    before, assigned = {}, set()
    for key, r in meta["weights"].items():
        if not key.startswith(net + ":"):
            continue
        name = key.split(":", 1)[1]
        if name.split("/")[0] not in {n.name for n in networks}:
            continue
        value = make_array(r["seed"], r["shape"], r["dist"], r["offset"], r["scale"])
        var = variable_of(mods, name)
        var.assign(value)
        before[name] = value
        assigned.add(id(var))
    for network in networks:
        missing = [v.name for v in network.variables if id(v) not in assigned]
        assert not missing, f"no golden weights for {missing}"
    return before


def stored(data, key):
    """(indices or None, values) of a fixture array stored whole or sampled."""
    if key in data:
        return None, data[key]
    return data[key + "#idx"], data[key + "#val"]


def compare(data, key, actual):
    """(max abs diff, relative L2 diff) of ``actual`` against the fixture's ``key``."""
    idx, expected = stored(data, key)
    actual = np.asarray(actual, np.float64).reshape(-1 if idx is not None else expected.shape)
    if idx is not None:
        np.testing.assert_allclose(np.linalg.norm(actual), data[key + "#norm"], rtol=1e-4,
                                   err_msg=key)
        actual = actual[idx]
    expected = expected.astype(np.float64)
    diff = np.abs(actual - expected)
    return diff.max(), np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30)


def assert_close(data, key, actual, rel=1e-4, atol=0.0):
    """Relative L2 difference below ``rel``, or every entry within ``atol``."""
    max_abs, rel_l2 = compare(data, key, actual)
    assert rel_l2 < rel or max_abs < atol, \
        f"{key}: relative L2 difference {rel_l2:.2e} (max abs {max_abs:.2e})"
    return max_abs, rel_l2


# Biases in front of a batch norm: their gradient is 0 up to rounding (~1e-11 to 1e-9, noise that
# differs between any two implementations), so only its size is compared; Adam's first step from
# such a gradient is ~1e-6 or less (epsilon dominates sqrt(v)).
NOISE_GRADIENTS = ("generator/g_fc1/bias", "generator/g_dc2/biases", "generator/g_dc3/biases",
                   "generator/g_dc4/biases")


@pytest.mark.parametrize("scenario", ["step_sn_ns", "step_sn_wgan_gp"])
def test_d_step_and_g_step_match_compare_gan(scenario):
    """Run in a child process with oneDNN off: with it, a 2-core AVX-512 AMD EPYC (TF 2.21) sums
    G's small NS gradients in a thread-dependent order that moves them by 7.5e-4 relative, and
    Adam's first step turns the sign of near-zero ones into 2 x lr (it passes with oneDNN off or
    with one intra-op thread). The comparison is of the math, not of kernel scheduling."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, __file__, scenario], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert f"{scenario}: " in done.stdout and "worst relative L2" in done.stdout


def check_step(data, meta, scenario):
    info = meta["step_scenarios"][scenario]
    config = Config(architecture="sndcgan", loss=LOSSES[info["model"]],
                    penalty=PENALTIES[info["penalty"]], penalty_lambda=info["lambda"],
                    d_norm="spectral_norm", resolution=32, width=1.0, z_dim=meta["z_dim"],
                    batch_size=meta["batch"], learning_rate=info["learning_rate"],
                    beta1=info["beta1"], beta2=info["beta2"])
    g = SNDCGANGenerator(config.z_dim, 32, meta["channels"])
    d = SNDCGANDiscriminator(32, meta["channels"])
    mods = sndcgan_modules(g, d)
    before = load_weights(meta, "sndcgan32", mods, [g, d])
    steps = GANSteps(config, g, d)
    real, z = data["inputs/real32"], data["inputs/z"]
    noise = data["inputs/alpha"] if config.penalty == "wgan_gp" else tf.zeros([config.batch_size])

    # the D step: the same computation as GANSteps._d_step with one replica, gradients kept
    grads, d_loss, penalty = steps.d_replica(tf.constant(real), tf.constant(z), tf.constant(noise))
    steps.d_optimizer.apply(grads, d.trainable_variables)
    # compare_gan's d_loss includes lambda * penalty
    np.testing.assert_allclose(float(d_loss) + config.penalty_lambda * float(penalty),
                               data[f"{scenario}/d_loss"], rtol=2e-5)
    report = {}
    for var, grad in zip(d.trainable_variables, grads):
        name = next(n for n in before if variable_of(mods, n) is var)
        report["grad_d/" + name] = assert_close(data, f"{scenario}/grad_d/{name}", grad.numpy())
    for name in before:
        if name.startswith("discriminator/") or "moving_" in name:
            actual = variable_of(mods, name).numpy()
            report["after_d/" + name] = assert_close(data, f"{scenario}/after_d/{name}", actual)

    grads, g_loss = steps.g_replica(tf.constant(z))
    steps.g_optimizer.apply(grads, g.trainable_variables)
    np.testing.assert_allclose(float(g_loss), data[f"{scenario}/g_loss"], rtol=2e-5)
    for var, grad in zip(g.trainable_variables, grads):
        name = next(n for n in before if variable_of(mods, n) is var)
        if name in NOISE_GRADIENTS:
            assert np.abs(grad.numpy()).max() < 1e-7
            assert np.abs(stored(data, f"{scenario}/grad_g/{name}")[1]).max() < 1e-7
            continue
        report["grad_g/" + name] = assert_close(data, f"{scenario}/grad_g/{name}", grad.numpy())
    for name in before:
        if name.startswith("generator/") or name.endswith("/u"):
            actual = variable_of(mods, name).numpy()
            if name in NOISE_GRADIENTS:  # moved by < 1e-5 (a real Adam step moves by ~lr)
                assert compare(data, f"{scenario}/after_g/{name}", actual)[0] < 1e-5
                continue
            report["after_g/" + name] = assert_close(data, f"{scenario}/after_g/{name}", actual)
    worst = max(report.items(), key=lambda kv: kv[1][1])
    print(f"{scenario}: {len(report)} arrays, worst relative L2 {worst[1][1]:.2e} ({worst[0]}), "
          f"max abs {max(v[0] for v in report.values()):.2e}")


def _one_iteration(w, u):
    w = w.reshape(-1, w.shape[-1]).astype(np.float64)
    v = w.T @ u.astype(np.float64)
    v /= np.linalg.norm(v)
    u = w @ v
    return u / np.linalg.norm(u)


def test_golden_u_advances_once_per_step_not_once_per_call(golden):
    """The fixture itself: in compare_gan's D step u moved one power iteration from the random
    start, not two or three (one per D call), so the step test above can tell the two apart."""
    data, meta = golden
    for scenario in ("step_sn_ns", "step_sn_wgan_gp"):
        for key, r in meta["weights"].items():
            if not (key.startswith("sndcgan32:") and key.endswith("/u")):
                continue
            name = key.split(":", 1)[1]
            kr = meta["weights"]["sndcgan32:" + name[:-2]]
            w = make_array(kr["seed"], kr["shape"], kr["dist"], kr["offset"], kr["scale"])
            u0 = make_array(r["seed"], r["shape"], r["dist"], r["offset"], r["scale"])
            once = _one_iteration(w, u0)
            twice = _one_iteration(w, once)
            idx, after = stored(data, f"{scenario}/after_d/{name}")
            pick = (lambda a: a.reshape(-1)[idx]) if idx is not None else (lambda a: a)
            np.testing.assert_allclose(after.reshape(-1), pick(once).reshape(-1), atol=2e-6)
            if kr["shape"][-1] > 1:  # (a one-column W's u is W/|W| after any iteration)
                assert np.abs(pick(twice) - pick(once)).max() > 1e-3


# TF 1.15's CPU kernels computed sqrt(v) with Eigen's fast-math packet sqrt (a hardware rsqrt
# estimate and one Newton step: not correctly rounded, e.g. sqrt(1.9133855e-08) = 0.00013832517
# instead of 0.00013832518), TF 2 rounds it correctly, so the weights may differ from TF 1.15's in
# the last bits; m, v and the beta powers involve no sqrt and agree bit for bit.
MAX_ULP_VS_TF115 = 4  # measured: 4 (adam_default), 2 (adam_odd) over 100 steps


def _ulps(a, b):
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max()


@pytest.mark.parametrize("name", ["adam_default", "adam_odd"])
def test_adam_matches_tf115_adam(golden, name):
    data, meta = golden
    h = meta["adam"][name]
    var = tf.Variable(data["adam/var0"])
    opt = Adam([var], h["learning_rate"], h["beta1"], h["beta2"])
    apply = tf.function(lambda g: opt.apply([g], [var]))
    for t, grad in enumerate(data["adam/grads"]):
        apply(tf.constant(grad))
        assert _ulps(var.numpy(), data[f"{name}/trajectory"][t]) <= MAX_ULP_VS_TF115, t + 1
    np.testing.assert_array_equal(opt.m[0].numpy(), data[f"{name}/m"])
    np.testing.assert_array_equal(opt.v[0].numpy(), data[f"{name}/v"])
    assert opt.beta1_power.numpy() == data[f"{name}/beta1_power"]
    assert opt.beta2_power.numpy() == data[f"{name}/beta2_power"]


@pytest.mark.parametrize("hparams", [(2e-4, 0.5, 0.999), (3.381e-5, 0.3753, 0.9982)])
def test_adam_is_tf1_adamoptimizer_bit_for_bit_over_2000_steps(hparams):
    """Against tf.compat.v1.train.AdamOptimizer in graph mode (TF 1's optimizer code, run by this
    TensorFlow): every weight of every step equal."""
    lr, beta1, beta2 = hparams
    rs = np.random.RandomState(11)
    steps, size = 2000, 16
    var0 = rs.standard_normal(size).astype(np.float32)
    grads = (rs.standard_normal((steps, size)) *
             10.0 ** rs.uniform(-6, 1, size=(steps, 1))).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        ref_var = tf.compat.v1.Variable(var0)
        g_ph = tf.compat.v1.placeholder(tf.float32, [size])
        train = tf.compat.v1.train.AdamOptimizer(lr, beta1, beta2).apply_gradients([(g_ph, ref_var)])
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            expected = []
            for g in grads:
                sess.run(train, {g_ph: g})
                expected.append(sess.run(ref_var))
    var = tf.Variable(var0)
    opt = Adam([var], lr, beta1, beta2)
    apply = tf.function(lambda g: opt.apply([g], [var]))
    for t, g in enumerate(grads):
        apply(tf.constant(g))
        np.testing.assert_array_equal(var.numpy(), expected[t], err_msg=f"step {t + 1}")


FORWARD = {
    "sndcgan28_g": ("sndcgan", "g"), "sndcgan28_d": ("sndcgan", "d"),
    "dcgan28_g": ("dcgan", "g"), "dcgan28_d": ("dcgan", "d"),
}


@pytest.mark.parametrize("net", sorted(FORWARD))
def test_28x28_forward_pass_matches_compare_gan(golden, net):
    data, meta = golden
    arch, part = FORWARD[net]
    c, zd = meta["channels"], meta["z_dim"]
    if arch == "sndcgan":
        g, d = SNDCGANGenerator(zd, 28, c), SNDCGANDiscriminator(28, c)
        mods = sndcgan_modules(g, d)
    else:
        g, d = DCGANGenerator(zd, 28, c), DCGANDiscriminator(28, c, normalization="batch_norm")
        mods = dcgan_modules(g, d)
    network = g if part == "g" else d
    before = load_weights(meta, net, mods, [network])
    x = tf.constant(data["inputs/z"] if part == "g" else data["inputs/real28"])
    out_eval = network(x, training=False).numpy()
    out_train = network(x, training=True).numpy()
    if part == "g":
        assert out_train.shape == (meta["batch"], 28, 28, c)
    results = [assert_close(data, f"fwd/{net}/eval", out_eval, rel=1e-4),
               assert_close(data, f"fwd/{net}/train", out_train, rel=1e-4)]
    for name in before:
        if name.endswith(("/u", "moving_mean", "moving_variance")):
            results.append(assert_close(data, f"fwd/{net}/after/{name}",
                                        variable_of(mods, name).numpy(), rel=1e-4))
    print(f"{net}: max abs {max(r[0] for r in results):.2e}, "
          f"worst relative L2 {max(r[1] for r in results):.2e}")


if __name__ == "__main__":   # one step scenario, as test_d_step_and_g_step_match_compare_gan runs it
    import sys
    check_step(*load_golden(), sys.argv[1])
