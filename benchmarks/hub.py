"""Hub client speed (issue 5): `ganhub list` wall time, download throughput against curl, and
loading a cached module against tf.saved_model.load of the same directory.

    python benchmarks/hub.py [--size-mb 50] [--repeats 5]

Everything runs on 127.0.0.1 in a temporary directory; prints one JSON object with the ratios.
Targets: list < 0.5 s; download >= 0.8x curl; cached load <= 1.05x tf.saved_model.load.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _env(cache):
    env = dict(os.environ, GANHUB_CACHE=str(cache), GANHUB_DISABLE_PROGRESS="1",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               NO_PROXY="127.0.0.1,localhost")
    env.pop("GANHUB_OFFLINE", None)
    env.pop("GANHUB_CATALOGS", None)
    return env


def bench_list(tmp, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ganhub", "list"], env=_env(tmp / "cache-list"),
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return {"list_wall_s_median": round(statistics.median(times), 3),
            "list_wall_s_all": [round(t, 3) for t in times], "list_target_s": 0.5}


def _build_module(path, mb):
    """A TF2 module with about ``mb`` MB of incompressible weights and the ganhub signature."""
    import numpy as np
    import tensorflow as tf

    width = max(1, int(mb * 2**20 / 4 / (64 + 48)))
    rng = np.random.default_rng(0)

    class Big(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.standard_normal((64, width), dtype=np.float32))
            self.out = tf.Variable(rng.standard_normal((width, 48), dtype=np.float32) * 0.01)

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="z")])
        def __call__(self, z):
            h = tf.nn.relu(tf.matmul(z, self.w))
            return {"images": tf.reshape(tf.sigmoid(tf.matmul(h, self.out[:width])), [-1, 4, 4, 3])}

    module = Big()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "ganhub.json").write_text(json.dumps({
        "schema_version": 1, "name": "bench", "z_dim": 64, "image_shape": [4, 4, 3],
        "z_distribution": {"name": "normal"}}))
    return path


class _Server:
    """`ganhub serve` in its own process, so the server does not share our GIL (curl's does not)."""

    def __init__(self, directory, tmp):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ganhub", "serve", str(directory), "--port", str(self.port),
             "--no-samples"], env=_env(tmp / "cache-serve"), stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        import requests
        for _ in range(300):
            try:
                requests.get(f"{self.url}/index.json", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("ganhub serve did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def bench_download(tmp, module_dir, repeats):
    from ganhub.export import package
    from ganhub.hub.download import fetch
    from ganhub.hub.resolver import resolve

    served = tmp / "served"
    served.mkdir()
    sha = package.pack(module_dir, served / "bench.tar.gz")
    size = (served / "bench.tar.gz").stat().st_size
    server = _Server(served, tmp)
    url = f"{server.url}/bench.tar.gz"
    os.environ["GANHUB_DISABLE_PROGRESS"] = "1"
    curl, ours, full = [], [], []
    try:
        for i in range(repeats):
            out = tmp / f"curl-{i}.bin"
            start = time.perf_counter()
            subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", str(out), url], check=True)
            curl.append(time.perf_counter() - start)
            out.unlink()
            downloads = tmp / f"dl-{i}"
            start = time.perf_counter()
            part, got_sha, _ = fetch(url, downloads, "bench", expected_sha256=sha, expected_size=size)
            ours.append(time.perf_counter() - start)
            assert got_sha == sha
            shutil.rmtree(downloads)
            os.environ["GANHUB_CACHE"] = str(tmp / f"cache-{i}")
            start = time.perf_counter()
            resolve(f"{url}#sha256={sha}", trust=True)
            full.append(time.perf_counter() - start)
            shutil.rmtree(tmp / f"cache-{i}")
    finally:
        server.close()
    mb = size / 2**20
    return {
        "archive_mb": round(mb, 1),
        "curl_mb_s": round(mb / statistics.median(curl), 1),
        "ganhub_fetch_mb_s": round(mb / statistics.median(ours), 1),
        "download_ratio_vs_curl": round(statistics.median(curl) / statistics.median(ours), 3),
        "download_target_ratio": 0.8,
        "resolve_uncached_s": round(statistics.median(full), 3),
        "resolve_uncached_note": "download + sha256 + safe extraction + per-file manifest + rename",
    }


def bench_cached_load(tmp, module_dir, repeats):
    """Cached module: resolve + tf.saved_model.load against tf.saved_model.load alone, alternating."""
    import tensorflow as tf

    import ganhub
    from ganhub.export import package
    from ganhub.hub.resolver import resolve

    os.environ["GANHUB_CACHE"] = str(tmp / "cache-load")
    served = tmp / "served-load"
    served.mkdir()
    tgz = served / "load.tar.gz"
    package.pack(module_dir, tgz)
    server = _Server(served, tmp)
    url = f"{server.url}/load.tar.gz"
    try:
        path = str(resolve(url).path)  # download, install and scan once
        resolve(tgz)
        tf.saved_model.load(path)  # warm the page cache and TF's one-time initialisation
        times = {"plain": [], "url": [], "archive": [], "ganhub_load": []}
        for _ in range(repeats):
            start = time.perf_counter()
            tf.saved_model.load(path)
            times["plain"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tf.saved_model.load(str(resolve(url).path))
            times["url"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tf.saved_model.load(str(resolve(tgz).path))
            times["archive"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ganhub.load(url)
            times["ganhub_load"].append(time.perf_counter() - start)
    finally:
        server.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "tf_saved_model_load_s": round(med["plain"], 4),
        "cached_url_resolve_then_load_s": round(med["url"], 4),
        "cached_load_ratio": round(med["url"] / med["plain"], 3),
        "cached_archive_handle_ratio": round(med["archive"] / med["plain"], 3),
        "ganhub_load_ratio": round(med["ganhub_load"] / med["plain"], 3),
        "cached_load_target_ratio": 1.05,
        "note": "ganhub_load_ratio includes the lead's Generator construction (signature lookup)",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=54, help="weights; the archive is about 50 MB")
    parser.add_argument("--load-size-mb", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--load-repeats", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganhub-bench-hub-") as name:
        tmp = Path(name)
        result = bench_list(tmp, args.repeats)
        big = _build_module(tmp / "big", args.size_mb)
        result.update(bench_download(tmp, big, args.repeats))
        small = _build_module(tmp / "small", args.load_size_mb)
        result.update(bench_cached_load(tmp, small, args.load_repeats))
    result["pass"] = {
        "list": result["list_wall_s_median"] < 0.5,
        "download": result["download_ratio_vs_curl"] >= 0.8,
        "cached_load": result["cached_load_ratio"] <= 1.05,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
