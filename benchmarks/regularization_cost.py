"""What a penalty or a D normalization costs per training step: the landscape study's networks
(SNDCGAN and DCGAN at width 1/8, Fashion-MNIST's 32x32x1, batch 64, NS loss, disc_iters=1) with
each regularization against none, timed side by side in one run.

    python benchmarks/regularization_cost.py [--rounds 5] [--steps 20] [--json docs/landscape/cost.json]

The paper's "SN is cheaper than GP" is a claim about this cost: a gradient penalty (WGAN-GP,
DRAGAN) needs a second forward and backward pass of D through an input gradient, spectral norm one
power iteration per layer. Each variant is one ``GANSteps`` run as the trainer runs it
(``train_steps``, ``--steps`` steps per call); the variants alternate in ``--rounds`` rounds so
they see the same load (each round starting at the next variant); a variant's time is the median
over rounds. "vs none" divides by the same
network without penalty and normalization. Ratios carry over between machines better than
seconds do; the machine, its load and the date are printed (and stored with ``--json``, which
docs/landscape/findings.md reads for its cost finding).
"""
import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

# (architecture, penalty, d_norm): the variants of docs/landscape/spec.json and spec-norms.json
VARIANTS = (
    ("sndcgan", "none", "none"), ("sndcgan", "wgan_gp", "none"),
    ("sndcgan", "none", "spectral_norm"), ("sndcgan", "wgan_gp", "spectral_norm"),
    ("dcgan", "none", "none"), ("dcgan", "none", "batch_norm"), ("dcgan", "none", "spectral_norm"),
    ("dcgan", "wgan_gp", "none"), ("dcgan", "dragan", "none"), ("dcgan", "l2", "none"),
)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=float, default=0.125, help="network width (default 1/8)")
    p.add_argument("--rounds", type=int, default=5, help="rounds the variants alternate in")
    p.add_argument("--steps", type=int, default=20, help="training steps per timed call")
    p.add_argument("--json", type=Path, help="also write the table here (JSON)")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or not 0 < args.width <= 1:
        p.error("--rounds and --steps must be at least 1 and --width in (0, 1]")
    return args


class Runner:
    def __init__(self, arch, penalty, d_norm, width, steps):
        import tensorflow as tf
        from ganhub.training import Config, build_models
        from ganhub.training.steps import GANSteps
        self.config = Config(architecture=arch, resolution=32, width=width, loss="ns",
                             penalty=penalty, penalty_lambda=0.0 if penalty == "none" else 1.0,
                             d_norm=d_norm, batch_size=64, z_dim=128, disc_iters=1,
                             jit_compile=False)
        g, d = build_models(self.config, channels=1)
        self.steps = GANSteps(self.config, g, d)
        self.reals = tf.random.stateless_uniform([steps, 64, 32, 32, 1], [0, 1])
        self.k, self.first = steps, 1
        self.run()   # tracing

    def run(self):
        """Seconds per step over one call of ``k`` steps."""
        t = time.perf_counter()
        self.steps.train_steps(self.first, self.reals)[0].numpy()
        self.first += self.k
        return (time.perf_counter() - t) / self.k


def measure(width, rounds, steps, log=print):
    import numpy as np
    runners = {}
    for v in VARIANTS:
        runners[v] = Runner(*v, width, steps)
        log(f"  built {'/'.join(v)}", flush=True)
    times = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    for r in range(rounds):
        # each round starts one variant later, so no variant always runs first after the pause
        for v in order[r % len(order):] + order[:r % len(order)]:
            times[v].append(runners[v].run())
        log(f"  round {r + 1} of {rounds} (load average {os.getloadavg()[0]:.1f})", flush=True)
    rows = []
    for arch, penalty, d_norm in VARIANTS:
        step_s = float(np.median(times[(arch, penalty, d_norm)]))
        base = float(np.median(times[(arch, "none", "none")]))
        rows.append({"architecture": arch, "penalty": penalty, "d_norm": d_norm,
                     "step_s": step_s, "vs_none": step_s / base})
    return rows


def main(argv=None):
    args = parse(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rows = measure(args.width, args.rounds, args.steps)
    load_after = os.getloadavg()
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, started "
          f"{started}; load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"width {args.width}, batch 64, 32x32x1, NS, disc_iters 1, {args.rounds} rounds of "
          f"{args.steps} steps\n")
    print(f"{'architecture':<13}{'penalty':<9}{'d_norm':<15}{'ms/step':>9}{'vs none':>9}")
    for r in rows:
        print(f"{r['architecture']:<13}{r['penalty']:<9}{r['d_norm']:<15}"
              f"{1000 * r['step_s']:>9.1f}{r['vs_none']:>8.2f}x")
    if args.json:
        out = {"benchmark": "benchmarks/regularization_cost.py", "started": started,
               "cores": os.cpu_count(), "load_average": [load_before[0], load_after[0]],
               "width": args.width, "rounds": args.rounds, "steps": args.steps, "rows": rows}
        from ganhub.fileio import write_json_atomic
        write_json_atomic(args.json, out)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
