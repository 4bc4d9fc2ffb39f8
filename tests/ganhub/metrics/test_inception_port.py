"""The offline FID Inception: TorchScript reading without torch, the TF2 wiring, the real weights."""
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from _torchscript_writer import Module, Tensor, write_torchscript
from ganhub import settings
from ganhub.metrics.extractors import load_saved_model_extractor
from ganhub.metrics.inception import (WeightsError, build_network, convert, flatten_module, locate_weights,
                                      read_torchscript)
from ganhub.metrics.resize import preprocess

pytestmark = pytest.mark.slow  # the full Inception network

FIXTURES = Path(__file__).parent / "fixtures"
# Where scripts/setup-tests.sh puts the real weights (the checkout's .test-data/, never the user's
# cache), or a copy named by GANHUB_FID_INCEPTION_WEIGHTS.
TEST_DATA_CACHE = Path(__file__).resolve().parents[3] / ".test-data" / "ganhub-cache"
USER_WEIGHTS = settings.fid_inception_weights()


# --- reading ---------------------------------------------------------------------------------

def test_reads_tensors_views_and_attributes(tmp_path):
    storage = np.arange(12, dtype=np.float32)
    doubles = np.array([0.5, -1.25, 3.0])
    root = Module("__torch__.wrap.Root", training=False, stride=2, padding=[0, 3],
                  a=Tensor.of("0", storage.reshape(3, 4)),
                  view=Tensor("0", storage, 1, (2, 3), (1, 4)),  # strided view, shared storage
                  child=Module("__torch__.wrap.Child", w=Tensor.of("1", doubles), nothing=None))
    path = write_torchscript(tmp_path / "m.pt", root)
    flat = flatten_module(read_torchscript(path))
    assert set(flat) == {"stride", "padding", "a", "view", "child.w", "child.nothing"}
    np.testing.assert_array_equal(flat["a"], storage.reshape(3, 4))
    np.testing.assert_array_equal(flat["view"], [[1, 5, 9], [2, 6, 10]])
    assert flat["child.w"].dtype == np.float64 and list(flat["child.w"]) == [0.5, -1.25, 3.0]
    assert flat["stride"] == 2 and flat["padding"] == [0, 3]


def test_refuses_arbitrary_globals(tmp_path):
    evil = b"\x80\x02cos\nsystem\n" + b"X\x04\x00\x00\x00true" + b"\x85R."
    path = write_torchscript(tmp_path / "evil.pt", None, raw_pickle=evil)
    with pytest.raises(WeightsError, match="refusing to load os.system"):
        read_torchscript(path)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(WeightsError):
        read_torchscript(tmp_path / "junk.pt")


def test_wrong_file_is_rejected_by_sha256(tmp_path):
    fake = write_torchscript(tmp_path / "default_1.pt", Module("__torch__.x.Y"))
    with pytest.raises(WeightsError, match="sha256"):
        locate_weights(fake)
    with pytest.raises(WeightsError, match="do not exist"):
        locate_weights(tmp_path / "missing.pt")


# --- wiring, on a scaled-down copy of the real graph ----------------------------------------

def synthetic_inception(rng):
    """The real conv geometry (from the archive) with every channel count divided by 16."""
    geometry = json.loads((FIXTURES / "fid_inception_geometry.json").read_text())
    params, tree, key = {}, {}, 0
    for name, g in geometry.items():
        out_c, in_c, kh, kw = g["shape"]
        shape = (out_c // 16, in_c if in_c == 3 else in_c // 16, kh, kw)
        p = {"weight": rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), size=shape).astype(np.float32),
             "beta": rng.normal(0, 0.1, size=shape[0]).astype(np.float32),
             "mean": rng.normal(0, 0.1, size=shape[0]).astype(np.float32),
             "var": rng.uniform(0.5, 1.5, size=shape[0]).astype(np.float32)}
        params[name] = dict(p, stride=g["stride"], padding=g["padding"])
        attrs = {"training": False, "stride": g["stride"],
                 "padding": g["padding"][0] if g["padding"][0] == g["padding"][1] else g["padding"]}
        for field, value in p.items():
            attrs[field] = Tensor.of(str(key), value)
            key += 1
        node = tree
        for part in name.split(".")[:-1]:
            node = node.setdefault(part, {})
        node[name.split(".")[-1]] = Module("__torch__.inceptionv3.Conv2dLayer", **attrs)

    def to_module(d):
        return Module("__torch__.container.Sequential", training=False,
                      **{k: (v if isinstance(v, Module) else to_module(v)) for k, v in d.items()})

    root = Module("__torch__.wrap_net.WrapNet", training=False,
                  net=Module("__torch__.inceptionv3.InceptionV3", training=False, layers=to_module(tree)))
    return root, params


def np_conv(x, p):
    """Conv (NCHW, OIHW, explicit zero padding) + batch norm without scale (eps 1e-3) + ReLU."""
    ph, pw = p["padding"]
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = p["weight"].astype(np.float64)
    s = p["stride"]
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::s, ::s]
    y = np.einsum("nchwij,ocij->nohw", win, w)
    y = (y - p["mean"][:, None, None]) / np.sqrt(p["var"][:, None, None] + 1e-3) + p["beta"][:, None, None]
    return np.maximum(y, 0)


def np_max_pool(x, stride, pad):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    return sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::stride, ::stride].max(axis=(-1, -2))


def np_avg_pool_excluding_padding(x):
    pad = ((0, 0), (0, 0), (1, 1), (1, 1))
    total = sliding_window_view(np.pad(x, pad), (3, 3), axis=(2, 3)).sum(axis=(-1, -2))
    count = sliding_window_view(np.pad(np.ones_like(x), pad), (3, 3), axis=(2, 3)).sum(axis=(-1, -2))
    return total / count


def np_inception(x, P):
    """Forward pass transcribed from the archive's TorchScript code (inceptionv3.py)."""
    c = lambda name, inp: np_conv(inp, P[name])
    seq = lambda names, inp: inp if not names else seq(names[1:], c(names[0], inp))
    cat = lambda parts: np.concatenate(parts, axis=1)
    x = c("conv_2", c("conv_1", c("conv", x)))
    x = np_max_pool(x, 2, 0)
    x = np_max_pool(c("conv_4", c("conv_3", x)), 2, 0)
    for m in ("mixed", "mixed_1", "mixed_2"):
        x = cat([c(f"{m}.conv", x), seq([f"{m}.tower.conv", f"{m}.tower.conv_1"], x),
                 seq([f"{m}.tower_1.conv", f"{m}.tower_1.conv_1", f"{m}.tower_1.conv_2"], x),
                 c(f"{m}.tower_2.conv", np_avg_pool_excluding_padding(x))])
    x = cat([c("mixed_3.conv", x), seq([f"mixed_3.tower.conv_{i}" if i else "mixed_3.tower.conv"
                                         for i in range(3)], x), np_max_pool(x, 2, 0)])
    for m in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
        x = cat([c(f"{m}.conv", x),
                 seq([f"{m}.tower.conv"] + [f"{m}.tower.conv_{i}" for i in (1, 2)], x),
                 seq([f"{m}.tower_1.conv"] + [f"{m}.tower_1.conv_{i}" for i in (1, 2, 3, 4)], x),
                 c(f"{m}.tower_2.conv", np_avg_pool_excluding_padding(x))])
    x = cat([seq(["mixed_8.tower.conv", "mixed_8.tower.conv_1"], x),
             seq(["mixed_8.tower_1.conv"] + [f"mixed_8.tower_1.conv_{i}" for i in (1, 2, 3)], x),
             np_max_pool(x, 2, 0)])
    for m, pool in (("mixed_9", np_avg_pool_excluding_padding), ("mixed_10", lambda t: np_max_pool(t, 1, 1))):
        a = c(f"{m}.tower_conv", x)
        b = c(f"{m}.tower_1_conv_1", c(f"{m}.tower_1_conv", x))
        x = cat([c(f"{m}.conv", x), c(f"{m}.tower_mixed_conv", a), c(f"{m}.tower_mixed_conv_1", a),
                 c(f"{m}.tower_1_mixed_conv", b), c(f"{m}.tower_1_mixed_conv_1", b),
                 c(f"{m}.tower_2_conv", pool(x))])
    return x.mean(axis=(2, 3))  # pool_3: 8×8 average pool of an 8×8 map


def test_tf_port_matches_a_transcription_of_the_torchscript_graph(tmp_path):
    rng = np.random.default_rng(0)
    root, params = synthetic_inception(rng)
    archive = write_torchscript(tmp_path / "synthetic.pt", root, prefix="out_jit_module")
    out = convert(archive, tmp_path / "converted")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    extractor = load_saved_model_extractor(out, id="synthetic", sha256="0" * 64)
    x = rng.uniform(-1, 127 / 128, size=(2, 299, 299, 3)).astype(np.float32)
    ours = extractor.network(x)
    expected = np_inception(x.transpose(0, 3, 1, 2).astype(np.float64), params)
    assert ours.shape == expected.shape == (2, 128)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


# --- the real weights, against features computed by torch from the same archive --------------

def _real_network():
    """The TF2 network built by the current code from the real archive (not a cached conversion)."""
    candidates = [USER_WEIGHTS, TEST_DATA_CACHE / "extractors" / "downloads" / "default_1.pt"]
    weights = next((p for p in candidates if p is not None and p.is_file()), None)
    if weights is None:
        # scripts/setup-tests.sh fetches them; never skipped (a skipped check is no check)
        pytest.fail("FID Inception weights absent: run `bash scripts/setup-tests.sh` (it runs "
                    "`ganhub stats --download-weights`) or set GANHUB_FID_INCEPTION_WEIGHTS")
    module = build_network(flatten_module(read_torchscript(locate_weights(weights))), "net.layers")
    return lambda x: module(x)["pool_3"].numpy().astype(np.float64)


def test_real_weights_reproduce_torch_features(tmp_path):
    fixture = np.load(FIXTURES / "fid_inception_torch.npz")
    network = _real_network()
    images = [fixture[k] for k in ("image_rgb_smooth", "image_rgb_noise", "image_gray")]
    feats = network(np.concatenate([preprocess(im[None], "legacy") for im in images]))
    assert feats.shape == (3, 2048)
    np.testing.assert_allclose(feats[:, fixture["feature_index"]], fixture["features"], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(feats.sum(axis=1), fixture["feature_sums"], rtol=1e-5)
