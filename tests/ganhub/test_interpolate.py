"""Latent walks: slerp/lerp against independent formulas, Generator.interpolate and the
`ganhub sample --interpolate / --gif` outputs against `sample` of the same seeds."""
import json
import math

import numpy as np
import pytest
from scipy.spatial import geometric_slerp

from ganhub.errors import BadInputError
from ganhub.latent import keyframe_walk, lerp, method_for, slerp, walk

Z_DIM, IMAGE_SHAPE = 8, (6, 6, 1)


# --- pure interpolation ---------------------------------------------------------------------------
def test_slerp_of_unit_vectors_matches_scipy_geometric_slerp():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    t = np.linspace(0, 1, 9)
    np.testing.assert_allclose(slerp(a, b, t), geometric_slerp(a, b, t), atol=1e-12)


def test_slerp_matches_whites_formula_and_keeps_equal_norms():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 64))
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    omega = math.acos(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    for t in (0.1, 0.5, 0.77):
        expected = (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
        np.testing.assert_allclose(slerp(a, b, t), expected, rtol=1e-12)
        assert np.linalg.norm(slerp(a, b, t)) == pytest.approx(np.linalg.norm(a), rel=1e-12)
    # lerp, by contrast, cuts inside the shell where normal latents live
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.9 * np.linalg.norm(a)


def test_batched_slerp_pairs_rows_with_their_t():
    rng = np.random.default_rng(2)
    a, b, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.uniform(size=4)
    expected = np.stack([slerp(a[i], b[i], t[i]) for i in range(4)])
    np.testing.assert_allclose(slerp(a, b, t), expected, rtol=1e-12)
    np.testing.assert_allclose(lerp(a, b, t), (1 - t[:, None]) * a + t[:, None] * b, rtol=1e-12)


def test_degenerate_slerp_falls_back_to_lerp():
    a = np.array([1.0, 2.0, 3.0])
    for b in (2 * a, -a, np.zeros(3)):  # parallel, antiparallel, a zero endpoint
        np.testing.assert_allclose(slerp(a, b, 0.3), 0.7 * a + 0.3 * b, atol=1e-12)
        assert np.all(np.isfinite(slerp(b, a, 0.3)))


def test_walk_endpoints_are_exact_and_lerp_stays_in_the_cube():
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, size=(5, 16)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(5, 16)).astype(np.float32)
    for method in ("slerp", "lerp"):
        w = walk(a, b, 7, method)
        assert w.shape == (5, 7, 16) and w.dtype == np.float32
        np.testing.assert_array_equal(w[:, 0], a)
        np.testing.assert_array_equal(w[:, -1], b)
    assert np.abs(walk(a, b, 7, "lerp")).max() <= 1.0
    np.testing.assert_allclose(walk(a[0], b[0], 5, "lerp")[2], (a[0] + b[0]) / 2, rtol=1e-6)


def test_keyframe_walk_visits_every_keyframe_and_loops():
    keys = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    frames = keyframe_walk(keys, 5, "slerp", loop=True)
    assert frames.shape == (15, 4)
    for i in range(3):
        np.testing.assert_array_equal(frames[5 * i], keys[i])
    # the frame after the last one would be keys[0] again: the last segment heads back there
    np.testing.assert_allclose(frames[-1], slerp(keys[2], keys[0], 0.8), rtol=1e-6)
    open_walk = keyframe_walk(keys, 5, "lerp")
    assert open_walk.shape == (11, 4)
    np.testing.assert_array_equal(open_walk[-1], keys[-1])


def test_method_follows_the_z_distribution():
    assert method_for({"name": "normal", "stddev": 1.0}) == "slerp"
    assert method_for({"name": "uniform"}) == "lerp"
    with pytest.raises(ValueError):
        method_for({"name": "cauchy"})


# --- Generator.interpolate on a tiny SavedModel ---------------------------------------------------
def write_module(path, distribution):
    """A ganhub-format SavedModel: z [None, 8] → sigmoid(relu(zW1)W2) images [None, 6, 6, 1]."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    out = int(np.prod(IMAGE_SHAPE))

    class Tiny(tf.Module):
        def __init__(self):
            super().__init__()
            self.w1 = tf.Variable(rng.normal(size=(Z_DIM, 16)).astype(np.float32))
            self.w2 = tf.Variable(rng.normal(size=(16, out)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, Z_DIM], tf.float32, name="z")])
        def __call__(self, z):
            h = tf.nn.relu(tf.matmul(z, self.w1))
            return {"images": tf.reshape(tf.sigmoid(tf.matmul(h, self.w2)), [-1, *IMAGE_SHAPE])}

    module = Tiny()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    (path / "assets").mkdir(exist_ok=True)
    (path / "assets" / "ganhub.json").write_text(json.dumps({
        "name": f"tiny-{distribution}", "z_dim": Z_DIM, "image_shape": list(IMAGE_SHAPE),
        "z_distribution": {"name": distribution}}))
    return path


@pytest.fixture(scope="module", params=["normal", "uniform"])
def module_dir(request, tmp_path_factory):
    return write_module(tmp_path_factory.mktemp("walk") / f"tiny-{request.param}", request.param)


@pytest.fixture(scope="module")
def generator(module_dir):
    import ganhub
    return ganhub.load(str(module_dir))


def test_interpolate_endpoints_equal_sample_of_the_same_seeds(generator):
    images = generator.interpolate(3, 11, 6)
    assert images.shape == (6,) + IMAGE_SHAPE and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], generator.sample(1, seed=3)[0])
    np.testing.assert_array_equal(images[-1], generator.sample(1, seed=11)[0])
    assert len({im.tobytes() for im in images}) > 2  # it moves


def test_interpolate_middle_follows_the_distributions_path(generator):
    from ganhub.images import to_uint8
    z0, z1 = generator.sample_latents(2, seed=5)
    expected_path = slerp if generator.z_distribution["name"] == "normal" else lerp
    images = generator.interpolate(z0, z1, 5)
    middle = expected_path(z0, z1, 0.5).astype(np.float32)[None]
    np.testing.assert_array_equal(images[2], to_uint8(generator(middle))[0])


def test_interpolate_batches_of_endpoints(generator):
    z0, z1 = generator.sample_latents(3, seed=1), generator.sample_latents(3, seed=2)
    images = generator.interpolate(z0, z1, 4, batch_size=5)
    assert images.shape == (3, 4) + IMAGE_SHAPE
    np.testing.assert_array_equal(images[:, 0], generator.sample(3, seed=1))
    np.testing.assert_array_equal(images[:, -1], generator.sample(3, seed=2))
    np.testing.assert_array_equal(images[1], generator.interpolate(z0[1], z1[1], 4))


@pytest.mark.parametrize("args, message", [
    ((0, 1, 1), "steps"),
    ((0, 1, 2.5), "steps"),
    ((np.zeros(3), 1, 4), "shape"),
    ((np.zeros((2, Z_DIM)), np.zeros((3, Z_DIM)), 4), "same shape"),
    ((-1, 1, 4), "seed"),
    ((np.full(Z_DIM, np.nan), 1, 4), "NaN"),
])
def test_bad_interpolate_arguments_are_one_line_errors(generator, args, message):
    with pytest.raises(BadInputError, match=message):
        generator.interpolate(*args)
    with pytest.raises(BadInputError, match="unknown interpolation"):
        generator.interpolate(0, 1, 3, method="cubic")


# --- ganhub sample --interpolate / --gif ----------------------------------------------------------
def test_cli_interpolate_grid_rows_walk_between_seeded_latents(module_dir, generator, tmp_path, capsys):
    from PIL import Image
    from ganhub.cli import main

    out = tmp_path / "walk.png"
    assert main(["sample", str(module_dir), "--interpolate", "--walks", "3", "--steps", "4",
                 "--seed", "7", "-o", str(out)]) == 0
    assert "3 " in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    pad, (h, w, _) = 2, IMAGE_SHAPE
    tile = lambda r, c: grid[pad + r * (h + pad):pad + r * (h + pad) + h,
                             pad + c * (w + pad):pad + c * (w + pad) + w]
    assert grid.shape[:2] == (3 * (h + pad) + pad, 4 * (w + pad) + pad)
    keys = generator.sample(4, seed=7)[..., 0]  # row r: key r → key r + 1
    for r in range(3):
        np.testing.assert_array_equal(tile(r, 0), keys[r])
        np.testing.assert_array_equal(tile(r, 3), keys[r + 1])
    z = generator.sample_latents(4, seed=7)
    np.testing.assert_array_equal(tile(1, 1), generator.interpolate(z[1], z[2], 4)[1][..., 0])


def test_cli_gif_is_a_looping_walk_through_seeded_keyframes(module_dir, generator, tmp_path):
    from PIL import Image, ImageSequence
    from ganhub.cli import main
    from ganhub.walks import GIF_MIN_SIZE

    out = tmp_path / "walk.gif"
    assert main(["sample", str(module_dir), "--gif", str(out), "--walks", "3", "--steps", "5",
                 "--seed", "2"]) == 0
    gif = Image.open(out)
    assert gif.format == "GIF" and gif.info.get("loop") == 0
    frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == 15
    factor = -(-GIF_MIN_SIZE // IMAGE_SHAPE[0])
    keys = generator.sample(3, seed=2)[..., 0].repeat(factor, 1).repeat(factor, 2)
    for i in range(3):  # grayscale frames are stored exactly
        np.testing.assert_array_equal(frames[5 * i], keys[i])
    assert not list(tmp_path.glob(".walk.gif.*"))  # no temp file left


@pytest.mark.parametrize("extra, message", [
    (["--gif", "walk.png"], ".gif"),
    (["--interpolate", "--out-dir", "frames"], "--out-dir"),
    (["--interpolate", "--steps", "1"], "--steps"),
    (["--gif", "w.gif", "--walks", "1"], "--walks"),
    (["--gif", "missing/w.gif"], "writable"),
])
def test_cli_bad_walk_options_are_one_line_errors(extra, message, tmp_path, capsys, monkeypatch):
    from ganhub.cli import main
    from ganhub.cli import sample

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sample, "check_model_handle", lambda *a: None)  # no model needed to fail
    assert main(["sample", "default", *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_walk_strip_gif_frames_are_tiles_of_looping_walks(generator):
    import io
    from PIL import Image, ImageSequence
    from ganhub.walks import walk_strip_gif

    gif = Image.open(io.BytesIO(walk_strip_gif(generator, tiles=3, keyframes=2, steps=4, seed=9)))
    frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == 8 and gif.info.get("loop") == 0
    keys = generator.sample(6, seed=9)[..., 0]  # tile i: keys 2i, 2i + 1
    pad, h, w = 2, IMAGE_SHAPE[0], IMAGE_SHAPE[1]
    for i in range(3):
        x = pad + i * (w + pad)
        np.testing.assert_array_equal(frames[0][pad:pad + h, x:x + w], keys[2 * i])
        np.testing.assert_array_equal(frames[4][pad:pad + h, x:x + w], keys[2 * i + 1])
