"""One-line CLI errors instead of tracebacks: crafted reference .npz files, over-long file names,
a full disk; a generator whose output is NaN is an error, not black images."""
import errno
import struct
import time
import zipfile

import numpy as np
import pytest

from ganhub.cli import main
from ganhub.errors import InvalidModuleError
from ganhub.metrics.stats import FeatureStats, ReferenceFileError, ReferenceStats


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def _reference(path):
    stats = FeatureStats.from_features(np.random.default_rng(0).normal(size=(30, 4)), keep=10)
    return ReferenceStats.from_stats(stats, extractor_id="x", extractor_sha256="y",
                                     resize="legacy").save(path)


def _npy(shape, descr="<f4", payload=b""):
    """A .npy file whose header claims ``shape`` whatever ``payload`` holds."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header = header.ljust(64 * ((len(header) + 10 + 63) // 64) - 10) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _replace_member(path, name, data):
    with zipfile.ZipFile(path) as src:
        members = {n: src.read(n) for n in src.namelist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as dst:
        for n, d in members.items():
            dst.writestr(n, d)


def test_a_header_claiming_a_huge_shape_is_refused_without_allocating(tmp_path):
    path = _reference(tmp_path / "ref.npz")
    _replace_member(path, "features.npy", _npy((10**6, 10**6), payload=bytes(160)))
    start = time.monotonic()
    with pytest.raises(ReferenceFileError, match=r"claims shape \(1000000, 1000000\)"):
        ReferenceStats.load(path)
    assert time.monotonic() - start < 5


def test_an_object_array_is_refused(tmp_path):
    path = _reference(tmp_path / "ref.npz")
    _replace_member(path, "mu.npy", _npy((4,), descr="|O", payload=b"\x80\x04N." * 4))
    with pytest.raises(ReferenceFileError, match="Python objects"):
        ReferenceStats.load(path)


@pytest.mark.parametrize("provenance", ["[1, 2]", "\"text\"", "3"])
def test_a_provenance_that_is_not_a_json_object_is_refused(tmp_path, provenance):
    path = _reference(tmp_path / "ref.npz")
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.array(provenance))
    _replace_member(path, "provenance.npy", buffer.getvalue())
    with pytest.raises(ReferenceFileError, match="not an object"):
        ReferenceStats.load(path)


@pytest.mark.parametrize("craft, fragment", [
    (lambda p: _replace_member(p, "sigma.npy", _npy((10**12,), payload=bytes(8))), "claims shape"),
    (lambda p: _replace_member(p, "provenance.npy", _npy((), descr="<U6",
                                                        payload="[1, 2]".encode("utf-32-le"))),
     "not an object"),
])
def test_cli_gives_one_line_for_a_crafted_reference(tmp_path, capsys, craft, fragment):
    path = _reference(tmp_path / "ref.npz")
    craft(path)
    assert main(["evaluate", "default", "--reference", str(path), "--metrics", "fid"]) == 1
    _one_line_error(capsys, fragment, str(path))


def test_a_genuine_reference_still_loads(tmp_path):
    path = _reference(tmp_path / "ref.npz")
    loaded = ReferenceStats.load(path)
    assert loaded.mu.shape == (4,) and loaded.sigma.shape == (4, 4)
    assert loaded.features.shape == (10, 4) and loaded.provenance["resize"] == "legacy"


def test_a_too_long_output_name_is_one_line(tmp_path, capsys):
    assert main(["sample", "default", "-o", str(tmp_path / ("x" * 300 + ".png"))]) == 1
    _one_line_error(capsys, "file name too long")


def test_a_full_disk_is_one_line(monkeypatch, capsys, tmp_path):
    from ganhub.hub import cache

    def full():
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cache"))

    monkeypatch.setattr(cache, "prune", full)
    assert main(["cache", "prune"]) == 1
    _one_line_error(capsys, "no space left on the device")


def _nan_module(path):
    import tensorflow as tf

    class Broken(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.fill([8, 48], float("nan")))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="z")])
        def __call__(self, z):
            return {"images": tf.reshape(tf.sigmoid(z @ self.w), [-1, 4, 4, 3])}

    module = Broken()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    return path


def test_a_generator_producing_nan_is_an_error_not_black_images(cache, tmp_path, capsys):
    import ganhub

    module = _nan_module(tmp_path / "broken")
    generator = ganhub.load(module)
    with pytest.raises(InvalidModuleError, match="96 NaN or infinite pixel values out of 96"):
        generator.sample(2, seed=0)
    out = tmp_path / "grid.png"
    assert main(["sample", str(module), "-n", "2", "-o", str(out)]) == 1
    _one_line_error(capsys, "NaN")
    assert not out.exists(), "no black grid may be written"
