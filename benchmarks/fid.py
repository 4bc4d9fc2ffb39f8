"""FID machinery benchmark: extractor throughput, Fréchet distance vs scipy sqrtm, streaming memory.

    python benchmarks/fid.py [--images 100] [--torch-site /tmp/torchenv]

Prints a table. Targets (issue #4): Fréchet distance ≥ 5× faster than the sqrtm route at relative
error < 1e-6; peak RSS at 50k images ≤ 1.2× that at 5k; the offline TF extractor at least as many
images/s as the TorchScript graph run by torch on the same CPU and batch size.

Issue #18: precision/recall (k = 3) and density/coverage (k = 5) at 10k vs 10k 2048-d features, time
and peak memory next to FID (moments + Fréchet distance) on the same features
(`--prdc-size N` to change the size, `--prdc-only` to run just that table).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

BATCH = 50


_EXTRACTORS = {}


def bench_tf_extractor(n_images):
    from ganhub.metrics import load_extractor
    extractor = _EXTRACTORS.setdefault("tf", load_extractor("fid_inception_offline"))
    x = np.random.default_rng(0).uniform(-1, 1, size=(BATCH, 299, 299, 3)).astype(np.float32)
    extractor.network(x[:2])  # warm-up (tracing, oneDNN primitive creation)
    start = time.perf_counter()
    for _ in range(n_images // BATCH):
        extractor.network(x)
    return (n_images // BATCH) * BATCH / (time.perf_counter() - start)


_TORCH_CODE = """
import sys, time, json
sys.path.append({site!r})
import numpy as np, torch
from ganhub.metrics.inception import locate_weights
model = torch.jit.load(str(locate_weights(download=False)), map_location="cpu").eval()
x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, size=({batch}, 3, 299, 299)).astype(np.float32))
with torch.no_grad():
    model(x[:2])
    start = time.perf_counter()
    for _ in range({reps}):
        model(x)
print(json.dumps({{"ips": {reps} * {batch} / (time.perf_counter() - start), "threads": torch.get_num_threads(),
                   "version": torch.__version__}}))
"""


def bench_torch(n_images, site):
    code = _TORCH_CODE.format(site=site or "", batch=BATCH, reps=n_images // BATCH)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1]
    return json.loads(result.stdout.strip().splitlines()[-1]), None


def scipy_route(mu1, s1, mu2, s2):
    """The usual route (pytorch-fid, TTUR): sqrtm of the non-symmetric product Σ1Σ2."""
    import scipy.linalg
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def bench_frechet(dim=2048):
    from ganhub.metrics import frechet_distance
    rng = np.random.default_rng(0)
    # Covariances of realistic rank: from 5,000 samples of correlated features.
    def moments(shift):
        a = rng.normal(size=(5000, dim)) @ (rng.normal(size=(dim, dim)) / np.sqrt(dim)) + shift
        return a.mean(0), np.cov(a, rowvar=False)
    mu1, s1 = moments(0.0)
    mu2, s2 = moments(0.1)
    t = time.perf_counter(); ours = frechet_distance(mu1, s1, mu2, s2); t_ours = time.perf_counter() - t
    t = time.perf_counter(); ref = scipy_route(mu1, s1, mu2, s2); t_ref = time.perf_counter() - t
    return t_ours, t_ref, abs(ours - ref) / abs(ref), ours


def bench_frechet_subprocess(threads):
    """In a fresh process with a fixed BLAS thread count (oversubscribed OpenBLAS threads on a
    shared 2-core machine slow LAPACK down several-fold and would decide the ratio)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
    code = ("import sys, json, warnings; warnings.simplefilter('ignore'); "
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import fid; "
            "print(json.dumps(fid.bench_frechet()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# VmHWM (peak RSS of this process's address space) rather than ru_maxrss: Linux carries
# ru_maxrss over from the parent across fork+exec, so a child of a process that had TensorFlow
# loaded would report the parent's peak.
_RSS_CODE = """
import numpy as np
from ganhub.metrics import FeatureStats
rng = np.random.default_rng(0)
stats = FeatureStats(2048, keep=0)
batch = rng.random((500, 2048), dtype=np.float32)
for i in range({n} // 500):
    stats.update(batch + np.float32(i % 7))
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def bench_rss(n):
    result = subprocess.run([sys.executable, "-c", _RSS_CODE.format(n=n)], capture_output=True,
                            text=True, check=True)
    return int(result.stdout.strip()) / 1024  # kB → MiB


# One metric on one pair of feature sets in a fresh process: its time, and its peak RSS above the
# RSS with the features already in memory (VmHWM, see above).
_PRDC_CODE = """
import json, time
import numpy as np
from ganhub.metrics import FeatureStats, frechet_distance
from ganhub.metrics.prdc import precision_recall_density_coverage
rng = np.random.default_rng(0)
# Inception pool_3 features are non-negative and sparse-ish: gamma-distributed stand-ins, made a
# chunk at a time so no float64 temporary raises the baseline peak.
real, fake = np.empty(({n}, {dim}), np.float32), np.empty(({n}, {dim}), np.float32)
for i in range(0, {n}, 500):
    real[i:i + 500] = rng.gamma(0.5, size=(min(500, {n} - i), {dim}))
    fake[i:i + 500] = rng.gamma(0.5, size=(min(500, {n} - i), {dim})) * 1.05
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
base = hwm()
start = time.perf_counter()
if {what!r} == "fid":
    a = FeatureStats({dim}); b = FeatureStats({dim})
    for i in range(0, {n}, 500):
        a.update(real[i:i + 500]); b.update(fake[i:i + 500])
    value = {{"fid": frechet_distance(a.mean, a.covariance, b.mean, b.covariance)}}
else:
    value = precision_recall_density_coverage(real, fake, {what})
print(json.dumps({{"seconds": time.perf_counter() - start, "features_mib": base,
                   "extra_mib": hwm() - base, "value": value}}))
"""


def bench_prdc(n, dim=2048, what="fid"):
    """what: "fid" or a tuple of metric names of precision_recall_density_coverage."""
    code = _PRDC_CODE.format(n=n, dim=dim, what=what)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_prdc_table(n, dim=2048):
    print(f"\n| {n:,} vs {n:,} features, {dim}-d (float32 in, float64 math) | time (s) | "
          f"peak RSS above the features (MiB) | value |")
    print("|---|---|---|---|")
    rows = [("FID (streamed moments + Fréchet distance)", "fid"),
            ("precision + recall (k = 3)", ("precision", "recall")),
            ("density + coverage (k = 5)", ("density", "coverage")),
            ("all four", ("precision", "recall", "density", "coverage"))]
    for label, what in rows:
        r = bench_prdc(n, dim, what)
        value = ", ".join(f"{k} {v:.4f}" for k, v in r["value"].items())
        print(f"| {label} | {r['seconds']:.1f} | {r['extra_mib']:.0f} | {value} |")
    print(f"(features alone: {r['features_mib']:.0f} MiB peak RSS; load average "
          f"{os.getloadavg()[0]:.1f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100, help="images per extractor timing")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per extractor")
    parser.add_argument("--torch-site", help="extra sys.path entry where torch is installed")
    parser.add_argument("--prdc-size", type=int, default=10_000,
                        help="feature vectors per set for the precision/recall table (default 10,000)")
    parser.add_argument("--prdc-only", action="store_true", help="run only the precision/recall table")
    args = parser.parse_args()
    if args.prdc_only:
        print_prdc_table(args.prdc_size)
        return
    print(f"CPU cores: {os.cpu_count()}, batch {BATCH}")

    # The machine is shared: alternate the two extractors and keep each one's best round, so a
    # burst of load from other processes does not decide the ratio.
    tf_ips, torch_info, torch_err = 0.0, None, None
    for _ in range(args.rounds):
        tf_ips = max(tf_ips, bench_tf_extractor(args.images))
        info, torch_err = bench_torch(args.images, args.torch_site)
        if info and (torch_info is None or info["ips"] > torch_info["ips"]):
            torch_info = info
    print(f"load average after extractor rounds: {os.getloadavg()[0]:.1f}")
    print("\n| extractor | images/s |")
    print("|---|---|")
    print(f"| fid_inception_offline (TF2 port) | {tf_ips:.2f} |")
    if torch_info:
        print(f"| TorchScript default_1.pt (torch {torch_info['version']}, "
              f"{torch_info['threads']} threads) | {torch_info['ips']:.2f} |")
        print(f"ratio TF/torch: {tf_ips / torch_info['ips']:.2f}")
    else:
        print(f"| TorchScript (torch) | not run: {torch_err} |")
    print("| tfgan_inception (TF Hub) | not run: tfhub.dev unreachable here |")

    print("\n| Fréchet distance, 2048-d | BLAS threads | ganhub (s) | scipy sqrtm(Σ1Σ2) (s) | speed-up | rel. difference |")
    print("|---|---|---|---|---|---|")
    for threads in ("1", "2"):
        t_ours, t_ref, rel, value = bench_frechet_subprocess(threads)
        print(f"| FID {value:.4f} | {threads} | {t_ours:.2f} | {t_ref:.2f} | {t_ref / t_ours:.1f}× | {rel:.1e} |")

    rss0, rss5, rss50 = bench_rss(0), bench_rss(5000), bench_rss(50000)
    print("\n| streaming stats, 2048-d | peak RSS (MiB) |")
    print("|---|---|")
    print(f"| imports only (ganhub, numpy) | {rss0:.0f} |")
    print(f"| 5,000 feature vectors | {rss5:.0f} |")
    print(f"| 50,000 feature vectors | {rss50:.0f} |")
    print(f"ratio 50k/5k: {rss50 / rss5:.3f}")

    print_prdc_table(args.prdc_size)


if __name__ == "__main__":
    main()
