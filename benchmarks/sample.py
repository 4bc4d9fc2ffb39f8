"""Sampling speed of the embedded default model; prints a table.

    python benchmarks/sample.py [--model default] [--images 2048] [--repeats 5]

Targets (issue 2): Generator.sample throughput >= 0.95x calling the SavedModel signature directly
with the same batch size; ganhub.load of a local module <= 1.1x tf.saved_model.load of it;
`ganhub sample default -n 64` wall time <= `python -c "import tensorflow"` + 3 s.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def wall(cmd):
    return timed(lambda: subprocess.run(cmd, check=True, capture_output=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import tensorflow as tf

    import ganhub
    from ganhub.hub.resolver import resolve

    path = str(resolve(args.model).path)
    g = ganhub.load(path)
    fn = tf.saved_model.load(path).signatures["serving_default"]
    z = g.sample_latents(args.images, seed=0)

    def direct():
        for start in range(0, len(z), args.batch_size):
            fn(z=tf.constant(z[start:start + args.batch_size]))["images"].numpy()

    def through_ganhub():
        g.sample(args.images, seed=0, batch_size=args.batch_size)

    direct(), through_ganhub()  # warm-up
    rows = []
    t_direct, t_ganhub = [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        t_direct.append(timed(direct))
        t_ganhub.append(timed(through_ganhub))
    d, s = statistics.median(t_direct), statistics.median(t_ganhub)
    rows.append(("sample throughput (img/s)", f"{args.images / d:.0f}", f"{args.images / s:.0f}",
                 f"{d / s:.3f}", ">= 0.95"))

    t_tf, t_load = [], []
    for _ in range(args.repeats):
        t_tf.append(timed(lambda: tf.saved_model.load(path)))
        t_load.append(timed(lambda: ganhub.load(path)))
    a, b = statistics.median(t_tf), statistics.median(t_load)
    rows.append(("load local module (s)", f"{a:.3f}", f"{b:.3f}", f"{b / a:.3f}", "<= 1.1"))

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "s.png")
        t_import, t_cli = [], []
        for _ in range(max(3, args.repeats // 2)):
            t_import.append(wall([sys.executable, "-c", "import tensorflow"]))
            t_cli.append(wall([sys.executable, "-m", "ganhub", "sample", args.model, "-n", "64",
                               "-o", out]))
        i, c = statistics.median(t_import), statistics.median(t_cli)
        rows.append(("`ganhub sample -n 64` vs import tf (s)", f"{i:.2f}", f"{c:.2f}",
                     f"{c - i:+.2f} s", "<= +3 s"))

    widths = [max(len(str(r[k])) for r in rows + [HEADER]) for k in range(5)]
    for row in [HEADER] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    return 0


HEADER = ("measure", "baseline", "ganhub", "ratio", "target")

if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
