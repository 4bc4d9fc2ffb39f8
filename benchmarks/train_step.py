"""Training-step throughput: SNDCGAN-32 and ResNet-CIFAR at batch 64, plain tf.function vs XLA,
and the FLOP rate achieved against this machine's float32 matmul rate measured in the same run.

    python benchmarks/train_step.py [--steps 5] [--sndcgan-width 1.0] [--resnet-width 0.25]

A "step" is one D step plus one G step (disc_iters=1), NS loss, spectral norm, no penalty. FLOPs
are counted by TensorFlow's profiler on the traced D-step and G-step graphs (forward and backward
convolutions and matmuls; elementwise ops are not counted), so "% of matmul" compares like with like.

Measured here (2 shared cores, load average ~5 from other jobs, so the matmul rate itself was only
21-27 GFLOP/s instead of the 110-130 of an idle machine; ratios are what carry over):

    model          width   mode     D s     G s  steps/s  GFLOP/step  GFLOP/s % matmul
    sndcgan          1.0  plain  17.301   9.656    0.037       328.6     12.2      45%
    sndcgan          1.0    XLA   8.637   4.709    0.075       328.6     24.6      92%
    resnet_cifar    0.25  plain   1.955   3.521    0.183       141.3     25.8      96%
    resnet_cifar    0.25    XLA   1.441   2.508    0.253       141.3     35.8     133%
    XLA speed-up: sndcgan 2.02x (target >= 1.3x: met), resnet_cifar 1.39x

Why plain tf.function is slower (``--profile-only``, SNDCGAN D convolutions at width 1.0, batch 64):
forward conv 34.7 GFLOP/s (108% of matmul), gradient w.r.t. the kernel 22.4 (70%), gradient w.r.t.
the input 14.3 (45%). TensorFlow's CPU Conv2DBackpropInput (also what conv2d_transpose, i.e. every
SNDCGAN G layer, runs forward) is the slow kernel; XLA lowers the backward convolutions to its own
convolution emitter and fuses the elementwise work (BN, leaky ReLU, SN), which doubles the step
rate. The >100% readings come from contention changing between the matmul and model measurements.

The ranking depends on the CPU. On a 2-core AVX-512 Xeon (2026-12-01, otherwise idle; matmul
316-324 GFLOP/s), `--steps 10 --sndcgan-width 0.5` measured plain tf.function *faster* than XLA:

    model          width   mode     D s     G s  steps/s  GFLOP/step  GFLOP/s % matmul
    sndcgan          0.5  plain   0.203   0.133    2.979        83.3    248.1      77%
    sndcgan          0.5    XLA   0.282   0.184    2.146        83.3    178.7      55%
    resnet_cifar    0.25  plain   0.158   0.284    2.263       141.3    319.7      99%
    resnet_cifar    0.25    XLA   0.233   0.413    1.547       141.3    218.6      67%
    XLA speed-up: sndcgan 0.72x, resnet_cifar 0.68x

So `jit_compile` stays a config choice: measure it on the machine that trains (``"auto"`` does,
when training starts: training/steps.py choose_jit).

Against PyTorch (issue 17), ``--vs-torch`` (defaults: widths 1/8 1/4 1/2 1, 3 rounds of 3 steps),
SNDCGAN-32, 1 channel, NS loss, SN, batch 64; ganhub through ``GANSteps.train_steps`` as the
trainer runs it (several steps per call), torch 2.13 CPU with the same 2 threads, spinning (its
default) and ``OMP_WAIT_POLICY=PASSIVE``; "vs torch" against the faster torch. This 2-core
AVX-512/AMX Xeon was shared with other jobs, 2026-12-02 17:08-17:18 UTC, load average 4.1-5.3
during the run (the benchmark itself is ~2 of it), matmul rate drifting 100-140 GFLOP/s; one run:

     width           impl   s/step  steps/s vs torch GFLOP/step  GFLOP/s % matmul
     0.125   ganhub plain    0.097    10.33    2.07x       5.32     55.0      46%
     0.125     ganhub XLA    0.176     5.67    1.14x       5.32     30.2      25%
     0.125          torch    1.334     0.75    0.15x       5.32      4.0       3%
     0.125  torch PASSIVE    0.201     4.99    1.00x       5.32     26.5      22%
      0.25   ganhub plain    0.183     5.45    1.86x      20.76    113.2      94%
      0.25     ganhub XLA    0.421     2.38    0.81x      20.76     49.3      41%
      0.25          torch    1.605     0.62    0.21x      20.76     12.9      11%
      0.25  torch PASSIVE    0.341     2.94    1.00x      20.76     61.0      50%
       0.5   ganhub plain    0.831     1.20    2.18x      82.02     98.8      82%
       0.5     ganhub XLA    1.720     0.58    1.05x      82.02     47.7      40%
       0.5          torch    3.572     0.28    0.51x      82.02     23.0      19%
       0.5  torch PASSIVE    1.807     0.55    1.00x      82.02     45.4      37%
       1.0   ganhub plain    2.392     0.42    1.36x     326.04    136.3     114%
       1.0     ganhub XLA    2.955     0.34    1.10x     326.04    110.3      92%
       1.0          torch    7.805     0.13    0.42x     326.04     41.8      34%
       1.0  torch PASSIVE    3.257     0.31    1.00x     326.04    100.1      82%

An earlier run (16:39-16:50, load average 5.3-8.1) gave plain/best-torch 1.85x, 3.48x, 1.26x,
1.54x at the same widths. These are ratios on a loaded machine, not the idle-machine figures the
target asks for: spinning OpenMP threads lose most (torch's default is 0.11-0.6x of PASSIVE here),
and the ranking may differ when the cores are free. % matmul above 100 means the load changed
between the matmul and the model measurements.

On an idle machine (the same 2-core AVX-512/AMX Xeon, 2026-12-07 20:09-20:13 UTC, load average
0.3 before the run, the benchmark's own ~2 during it; matmul 194-201 GFLOP/s TF, 161-176 torch),
spinning torch is the faster torch and the lead shrinks: plain ganhub 1.53x, 1.26x, 1.27x, 1.25x
at widths 1/8, 1/4, 1/2, 1 (issue 17's targets: 1.5x at 1/8 and 1/4, 1.0x at 1/2 and 1):

     width           impl   s/step  steps/s vs torch GFLOP/step  GFLOP/s % matmul
     0.125   ganhub plain    0.052    19.31    1.53x       5.32    102.7      52%
     0.125     ganhub XLA    0.072    13.93    1.10x       5.32     74.1      38%
     0.125          torch    0.079    12.63    1.00x       5.32     67.2      40%
     0.125  torch PASSIVE    0.095    10.49    0.83x       5.32     55.8      33%
      0.25   ganhub plain    0.113     8.88    1.26x      20.76    184.3      93%
      0.25     ganhub XLA    0.155     6.44    0.92x      20.76    133.6      68%
      0.25          torch    0.142     7.03    1.00x      20.76    145.9      87%
      0.25  torch PASSIVE    0.173     5.79    0.82x      20.76    120.2      71%
       0.5   ganhub plain    0.384     2.60    1.27x      82.02    213.5     108%
       0.5     ganhub XLA    0.497     2.01    0.98x      82.02    165.2      84%
       0.5          torch    0.486     2.06    1.00x      82.02    168.7     100%
       0.5  torch PASSIVE    0.576     1.73    0.84x      82.02    142.3      84%
       1.0   ganhub plain    1.378     0.73    1.25x     326.04    236.6     120%
       1.0     ganhub XLA    1.814     0.55    0.95x     326.04    179.8      91%
       1.0          torch    1.721     0.58    1.00x     326.04    189.4     112%
       1.0  torch PASSIVE    1.779     0.56    0.97x     326.04    183.3     109%

The 1.5x at width 1/4 is out of reach on a free machine: torch already runs that step at 87% of
the 2048x2048 matmul rate and ganhub at 93%, so 1.5x would need ~130% of it.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganhub.training import Config, build_models  # noqa: E402
from ganhub.training.steps import GANSteps  # noqa: E402


def graph_flops(concrete_function):
    from tensorflow.python.profiler import model_analyzer, option_builder
    opts = option_builder.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return model_analyzer.profile(concrete_function.graph, options=opts).total_float_ops


def matmul_rate(n=2048, reps=10):
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    f = tf.function(lambda: tf.matmul(a, b))
    f().numpy()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f().numpy()
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / np.median(times)


def bench(arch, width, jit, steps, channels=3):
    config = Config(architecture=arch, resolution=32, width=width, d_norm="spectral_norm",
                    batch_size=64, z_dim=128, jit_compile=jit, disc_iters=1)
    g, d = build_models(config, channels=channels)
    s = GANSteps(config, g, d)
    real = tf.random.uniform([64, 32, 32, channels])
    step = tf.constant(1, tf.int64)
    z = s.latents(step)
    noise = s.penalty_noise(tf.shape(real), step)
    scale = s.lr_scale(step)
    flops = (graph_flops(s._d_update.get_concrete_function(real, z, noise, scale))
             + graph_flops(s._g_update.get_concrete_function(z, scale)))
    t = time.perf_counter()
    for _ in range(2):  # warm-up (and XLA compilation)
        s.d_step(real, z, step)[0].numpy()
        s.g_step(z).numpy()
    compile_s = time.perf_counter() - t
    d_times, g_times = [], []
    for _ in range(steps):
        t = time.perf_counter()
        s.d_step(real, z, step)[0].numpy()
        d_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.g_step(z).numpy()
        g_times.append(time.perf_counter() - t)
    d_s, g_s = float(np.median(d_times)), float(np.median(g_times))
    return {"arch": arch, "width": width, "xla": jit, "d_s": d_s, "g_s": g_s, "step_s": d_s + g_s,
            "flops": flops, "warmup_s": compile_s}


class GanhubRunner:
    """ganhub's SNDCGAN-32 step as the trainer runs it: ``GANSteps.train_steps``, ``k`` steps per
    call (training.loop.STEPS_PER_CALL), batches, z and noise drawn as in training."""

    def __init__(self, width, jit, k=10, channels=1):
        self.config = Config(architecture="sndcgan", resolution=32, width=width,
                             d_norm="spectral_norm", batch_size=64, z_dim=128, jit_compile=jit)
        g, d = build_models(self.config, channels=channels)
        self.steps = GANSteps(self.config, g, d)
        self.k = k
        self.reals = tf.random.stateless_uniform([k, 64, 32, 32, channels], [0, 1])
        step = tf.constant(1, tf.int64)
        z = self.steps.latents(step)
        self.flops = (graph_flops(self.steps._d_update.get_concrete_function(
            self.reals[0], z, self.steps.penalty_noise(tf.shape(self.reals[0]), step),
            self.steps.lr_scale(step)))
            + graph_flops(self.steps._g_update.get_concrete_function(z, self.steps.lr_scale(step))))
        self.first = 1
        t = time.perf_counter()
        self.run(1)   # tracing, XLA compilation
        self.warmup_s = time.perf_counter() - t

    def run(self, calls):
        """Seconds per step of each of ``calls`` calls."""
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            self.steps.train_steps(self.first, self.reals)[0].numpy()
            times.append((time.perf_counter() - t) / self.k)
            self.first += self.k
        return times


class TorchRunner:
    """The same step in PyTorch in a process of its own (benchmarks/torch_sndcgan.py --serve),
    started from ganhub's initial weights after checking that both compute the same losses."""

    def __init__(self, width, threads, wait_policy=None, channels=1):
        import pickle
        import subprocess
        import tempfile
        import torch_sndcgan

        config = Config(architecture="sndcgan", resolution=32, width=width,
                        d_norm="spectral_norm", batch_size=64, z_dim=128)
        g, d = build_models(config, channels=channels)
        rng = np.random.default_rng(0)
        real = rng.uniform(size=(64, 32, 32, channels)).astype(np.float32)
        z = rng.uniform(-1, 1, size=(64, 128)).astype(np.float32)
        job = {"weights": torch_sndcgan.weights_of(g, d), "real": real, "z": z, "threads": threads}
        tf_d, tf_g = torch_sndcgan.tf_losses(g, d, tf.constant(real), tf.constant(z))
        self._file = tempfile.NamedTemporaryFile(suffix=".pkl")
        pickle.dump(job, self._file)
        self._file.flush()
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if wait_policy:
            env["OMP_WAIT_POLICY"] = wait_policy
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("torch_sndcgan.py")), self._file.name,
             "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        r = json.loads(self.proc.stdout.readline())
        if not (abs(tf_d - r["d_loss"]) <= 1e-5 * abs(tf_d)
                and abs(tf_g - r["g_loss"]) <= 1e-5 * abs(tf_g)):
            self.close()
            raise SystemExit(f"torch reference disagrees with ganhub: d {r['d_loss']} vs {tf_d}, "
                             f"g {r['g_loss']} vs {tf_g}")
        self.losses = {"ganhub": (tf_d, tf_g), "torch": (r["d_loss"], r["g_loss"])}

    def run(self, steps):
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self._file.close()


def torch_matmul_rate(threads, n=2048, reps=10):
    """torch's float32 matmul rate, in a process of its own (see TorchRunner)."""
    import subprocess
    code = (f"import time, torch, statistics; torch.set_num_threads({threads}); "
            f"a, b = torch.randn({n}, {n}), torch.randn({n}, {n}); a @ b; ts = []\n"
            f"for _ in range({reps}):\n t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
            f"print(2 * {n} ** 3 / statistics.median(ts))")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    return float(out.stdout.strip())


def vs_torch(widths, rounds=3, steps=5):
    """Issue 17's table: SNDCGAN-32, NS, SN, batch 64, 1 channel; ganhub plain and XLA (several
    steps per call, as the trainer runs) against the same step in PyTorch, torch's OpenMP threads
    spin-waiting (its default) and passive. All four alternate in ``rounds`` rounds of ``steps``
    steps each (ganhub: one call of ``steps`` steps) so that they see the same load; the median
    over rounds of the mean time per step. "vs torch" is against the faster torch."""
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    load_before = os.getloadavg()
    rate, rate_torch = matmul_rate(), torch_matmul_rate(threads)
    rows = []
    for width in widths:
        runners = {"ganhub plain": GanhubRunner(width, False, steps),
                   "ganhub XLA": GanhubRunner(width, True, steps),
                   "torch": TorchRunner(width, threads),
                   "torch PASSIVE": TorchRunner(width, threads, "PASSIVE")}
        times = {name: [] for name in runners}
        try:
            for runner in runners.values():   # untimed: building the torch runners' reference
                runner.run(1)                 # losses evicts oneDNN's cached kernels (0.26 s)
            for _ in range(rounds):
                for name, runner in runners.items():
                    if isinstance(runner, TorchRunner):
                        times[name].append(float(np.mean(runner.run(steps))))
                    else:
                        times[name] += runner.run(1)
        finally:
            for name, runner in runners.items():
                if isinstance(runner, TorchRunner):
                    runner.close()
        flops = runners["ganhub plain"].flops
        medians = {name: float(np.median(ts)) for name, ts in times.items()}
        best_torch = min(medians["torch"], medians["torch PASSIVE"])
        for name, step_s in medians.items():
            rows.append({"width": width, "impl": name, "step_s": step_s, "flops": flops,
                         "vs_torch": best_torch / step_s, "torch": name.startswith("torch")})
        print(f"  measured width {width} (load average {os.getloadavg()[0]:.1f})", flush=True)
    rate_after, rate_torch_after = matmul_rate(), torch_matmul_rate(threads)
    load_after = os.getloadavg()
    print(f"\n{os.cpu_count()} cores, {threads} threads each; load average (1/5/15 min) "
          f"{'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in load_after)} after")
    print(f"float32 matmul 2048x2048: TF {rate / 1e9:.1f} -> {rate_after / 1e9:.1f} GFLOP/s, "
          f"torch {rate_torch / 1e9:.1f} -> {rate_torch_after / 1e9:.1f} (before -> after)\n")
    rate, rate_torch = (rate + rate_after) / 2, (rate_torch + rate_torch_after) / 2
    print(f"{'width':>6}{'impl':>15}{'s/step':>9}{'steps/s':>9}{'vs torch':>9}"
          f"{'GFLOP/step':>11}{'GFLOP/s':>9}{'% matmul':>9}")
    for r in rows:
        achieved = r["flops"] / r["step_s"]
        base = rate_torch if r["torch"] else rate
        print(f"{r['width']:>6}{r['impl']:>15}{r['step_s']:>9.3f}{1 / r['step_s']:>9.2f}"
              f"{r['vs_torch']:>8.2f}x{r['flops'] / 1e9:>11.2f}{achieved / 1e9:>9.1f}"
              f"{100 * achieved / base:>8.0f}%")
    return rows


def conv_profile(width, reps=3):
    """GFLOP/s of each convolution kind in SNDCGAN-32's discriminator at batch 64: forward,
    gradient w.r.t. the input, gradient w.r.t. the kernel (where a slow kernel would show)."""
    layers = ((3, 3, 64, 1, 32), (4, 64, 128, 2, 32), (3, 128, 128, 1, 16), (4, 128, 256, 2, 16),
              (3, 256, 256, 1, 8), (4, 256, 512, 2, 8), (3, 512, 512, 1, 4))
    totals = {"forward": [0.0, 0.0], "grad_input": [0.0, 0.0], "grad_kernel": [0.0, 0.0]}
    for k, cin, cout, stride, size in layers:
        cin = cin if cin == 3 else max(1, int(round(cin * width)))
        cout = max(1, int(round(cout * width)))
        x = tf.random.normal([64, size, size, cin])
        w = tf.random.normal([k, k, cin, cout])
        y = tf.nn.conv2d(x, w, stride, "SAME")
        dy = tf.random.normal(y.shape)
        flops = 2.0 * 64 * y.shape[1] * y.shape[2] * k * k * cin * cout
        fns = {
            "forward": tf.function(lambda: tf.nn.conv2d(x, w, stride, "SAME")),
            "grad_input": tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=[1, stride, stride, 1],
                padding="SAME")),
            "grad_kernel": tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, stride, stride, 1],
                padding="SAME")),
        }
        for name, fn in fns.items():
            fn().numpy()
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                fn().numpy()
                times.append(time.perf_counter() - t)
            totals[name][0] += flops
            totals[name][1] += float(np.median(times))
    return {name: flops / secs for name, (flops, secs) in totals.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting (median)")
    parser.add_argument("--sndcgan-width", type=float, default=1.0)
    parser.add_argument("--resnet-width", type=float, default=0.25)
    parser.add_argument("--vs-torch", nargs="*", type=float, metavar="WIDTH",
                        help="SNDCGAN-32, 1 channel, against the same step in PyTorch at these "
                             "widths (default 0.125 0.25 0.5 1)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="--vs-torch: rounds in which ganhub and torch alternate")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the per-convolution-kind FLOP rates (SNDCGAN D, --sndcgan-width)")
    args = parser.parse_args(argv)
    if args.vs_torch is not None:
        vs_torch(args.vs_torch or [0.125, 0.25, 0.5, 1.0], args.rounds, args.steps)
        return
    if args.profile_only:
        rate = matmul_rate()
        print(f"float32 matmul 2048x2048: {rate / 1e9:.1f} GFLOP/s")
        for name, r in conv_profile(args.sndcgan_width).items():
            print(f"SNDCGAN D convolutions, {name:<12}: {r / 1e9:6.1f} GFLOP/s "
                  f"({100 * r / rate:.0f}% of matmul)")
        return
    rate_before = matmul_rate()
    rows = []
    for arch, width in (("sndcgan", args.sndcgan_width), ("resnet_cifar", args.resnet_width)):
        for jit in (False, True):
            rows.append(bench(arch, width, jit, args.steps))
            r = rows[-1]
            print(f"  measured {arch} width {width} xla={jit}: {r['step_s']:.3f} s/step", flush=True)
    rate = (rate_before + matmul_rate()) / 2   # before and after: contention drifts
    print(f"\nfloat32 matmul 2048x2048: {rate / 1e9:.1f} GFLOP/s (mean of before/after: "
          f"{rate_before / 1e9:.1f} before)\n")
    print(f"{'model':<14}{'width':>6}{'mode':>7}{'D s':>8}{'G s':>8}{'steps/s':>9}"
          f"{'GFLOP/step':>12}{'GFLOP/s':>9}{'% matmul':>9}")
    for r in rows:
        achieved = r["flops"] / r["step_s"]
        print(f"{r['arch']:<14}{r['width']:>6}{'XLA' if r['xla'] else 'plain':>7}{r['d_s']:>8.3f}"
              f"{r['g_s']:>8.3f}{1 / r['step_s']:>9.3f}{r['flops'] / 1e9:>12.1f}"
              f"{achieved / 1e9:>9.1f}{100 * achieved / rate:>8.0f}%")
    for arch in ("sndcgan", "resnet_cifar"):
        plain, xla = [r for r in rows if r["arch"] == arch]
        print(f"{arch}: XLA speed-up {plain['step_s'] / xla['step_s']:.2f}x "
              f"(D {plain['d_s'] / xla['d_s']:.2f}x, G {plain['g_s'] / xla['g_s']:.2f}x)")


if __name__ == "__main__":
    main()
