"""How to share one machine between study workers: the summed throughput of P processes running
at once, each limited to T TensorFlow threads, on the two things a small study trial spends its
time on: FID Inception features (scoring, most of a width-1/8 trial) and training steps.

    python benchmarks/worker_threads.py [--configs 1x0,2x0,2x1] [--rounds 2] [--images 200]

A config PxT runs P processes at once with TF_NUM_INTRAOP_THREADS=T and TF_NUM_INTEROP_THREADS=T
(0: TensorFlow's default, every core). The processes load, warm up, wait at a barrier, then time
the same work; throughput is the work of all P divided by the slowest one's time. Configs
alternate over rounds (each round starting at the next config) and the table shows medians, so
every config sees the same background load. Training: SNDCGAN at width 1/8, Fashion-MNIST's
32x32x1 shape, batch 64, NS loss, random data (the speed does not depend on the pixels).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="1x0,2x0,2x1",
                   help="comma-separated PxT: P processes at once, T threads each (0: default)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--images", type=int, default=200, help="images each process extracts")
    p.add_argument("--steps", type=int, default=60, help="training steps each process runs")
    p.add_argument("--child", help=argparse.SUPPRESS)   # barrier folder of a child process
    args = p.parse_args(argv)
    try:
        args.configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    except ValueError:
        p.error(f"--configs {args.configs!r}: use PxT pairs such as 2x1")
    if any(n <= 0 or t < 0 or len(c) != 2 for c in args.configs for n, t in [c[:2]]):
        p.error("--configs: P must be positive and T zero or more")
    return args


def child(args):
    """Warm up, signal ready, wait for go, time the features then the steps; print JSON."""
    import numpy as np
    import tensorflow as tf

    from ganhub.metrics import load_extractor
    from ganhub.training import Config, build_models
    from ganhub.training.steps import GANSteps
    barrier = Path(args.child)
    extractor = load_extractor("fid_inception_offline")
    images = np.random.default_rng(0).integers(0, 256, size=(args.images, 32, 32, 1),
                                                    dtype=np.uint8)
    extractor.features_and_logits(images[:50], "legacy", 50, False)
    config = Config(architecture="sndcgan", resolution=32, width=0.125, loss="ns", batch_size=64,
                    z_dim=128, disc_iters=1, jit_compile=False)
    steps = GANSteps(config, *build_models(config, channels=1))
    reals = tf.random.stateless_uniform([args.steps, 64, 32, 32, 1], [0, 1])
    steps.train_steps(1, reals)[0].numpy()   # tracing (the timed call has the same shapes)
    (barrier / f"ready.{os.getpid()}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.01)
    t0 = time.perf_counter()
    for i in range(0, args.images, 50):
        extractor.features_and_logits(images[i:i + 50], "legacy", 50, False)
    features = time.perf_counter() - t0
    t0 = time.perf_counter()
    steps.train_steps(1 + args.steps, reals)[0].numpy()
    train = time.perf_counter() - t0
    print(json.dumps({"features_s": features, "train_s": train}), flush=True)


def run_config(processes, threads, args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", GANHUB_DISABLE_PROGRESS="1")
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="ganhub-threads-") as barrier:
        cmd = [sys.executable, __file__, "--child", barrier, "--images", str(args.images),
               "--steps", str(args.steps)]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(processes)]
        while len(list(Path(barrier).glob("ready.*"))) < processes:
            if any(p.poll() is not None for p in procs):
                err = next(p for p in procs if p.poll() is not None).stderr.read()
                sys.exit(f"a child process failed: {err.strip().splitlines()[-1:]}")
            time.sleep(0.05)
        (Path(barrier) / "go").touch()
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {"features_img_s": processes * args.images / max(r["features_s"] for r in results),
            "train_steps_s": processes * args.steps / max(r["train_s"] for r in results)}


def main(argv=None):
    args = parse(argv)
    if args.child:
        return child(args)
    import platform
    print(f"# {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; {args.images} images and {args.steps} steps per "
          f"process, {args.rounds} round(s)", flush=True)
    measured = {c: [] for c in args.configs}
    for r in range(args.rounds):
        order = args.configs[r % len(args.configs):] + args.configs[:r % len(args.configs)]
        for config in order:
            measured[config].append(run_config(*config, args))
            print(f"# round {r + 1}: {config[0]}x{config[1]} {measured[config][-1]}", flush=True)
    base = args.configs[0]
    med = {c: {k: statistics.median(m[k] for m in ms) for k in ms[0]} for c, ms in measured.items()}
    print(f"{'processes x threads':<22}{'features img/s':>16}{'vs ' + str(base[0]) + 'x' + str(base[1]):>10}"
          f"{'train steps/s':>16}{'vs':>8}")
    for (n, t), m in med.items():
        print(f"{f'{n} x ' + (str(t) if t else 'default'):<22}{m['features_img_s']:>16.2f}"
              f"{m['features_img_s'] / med[base]['features_img_s']:>10.2f}"
              f"{m['train_steps_s']:>16.2f}{m['train_steps_s'] / med[base]['train_steps_s']:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
