"""Every architecture: 2 training steps → export → plain tensorflow_hub.load and ganhub.load →
sample → evaluate with a tiny extractor. What the module declares (z, image shape, output range,
G normalization) is what the generator's export_spec() says, and its images are the generator's."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ganhub" / "metrics"))
from _standin import write_tiny_extractor  # noqa: E402  (a shared test helper, not a conftest)


@pytest.fixture(scope="module")
def tiny_extractor_dir(tmp_path_factory):
    return write_tiny_extractor(tmp_path_factory.mktemp("tiny_extractor") / "model")


@pytest.fixture(scope="module")
def rgb_folder(tmp_path_factory):
    """40 random 16×16 RGB PNGs (image_folder data set)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(1)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


# (architecture, data set, resolution, channels, EMA); each architecture at a resolution it
# supports, grayscale and RGB both, and one EMA export.
CASES = [
    ("sndcgan", "fashion_mnist", 32, 1, False),
    ("dcgan", "image_folder", 16, 3, False),
    ("resnet_cifar", "image_folder", 8, 3, False),
    ("resnet19", "image_folder", 16, 3, True),
]


def _train(tmp_path, architecture, dataset, resolution, ema, data_dir):
    from ganhub.training import Config, train

    extra = dict(g_ema_decay=0.5, g_ema_start=1) if ema else {}
    config = Config(architecture=architecture, dataset=dataset, data_dir=str(data_dir),
                    resolution=resolution, width=0.0625, z_dim=8, batch_size=4, steps=2,
                    checkpoint_every=2, d_norm="spectral_norm", **extra)
    model_dir = tmp_path / "run"
    assert train(config, model_dir, progress=False)["step"] == 2
    return model_dir


@pytest.mark.slow
@pytest.mark.parametrize("architecture,dataset,resolution,channels,ema", CASES,
                         ids=[c[0] for c in CASES])
def test_train_export_load_sample_evaluate(tmp_path, eager_functions, fake_fashion_dir, rgb_folder,
                                           tiny_extractor_dir, architecture, dataset, resolution,
                                           channels, ema):
    import tensorflow_hub as hub

    import ganhub
    from ganhub.export import export_module
    from ganhub.metrics import evaluate
    from ganhub.training import load_generator

    data_dir = fake_fashion_dir if dataset == "fashion_mnist" else rgb_folder
    model_dir = _train(tmp_path, architecture, dataset, resolution, ema, data_dir)
    kinds = ("ema", "raw") if ema else ("raw",)
    for kind in kinds:
        out = tmp_path / f"module-{kind}"
        meta = export_module(model_dir, out, archive=False, weights=kind)["metadata"]
        _, generator, _ = load_generator(model_dir, weights=kind)
        spec = generator.export_spec()
        shape = [resolution, resolution, channels]
        assert list(spec.image_shape) == shape and spec.z_dim == 8
        on_disk = json.loads((out / "assets" / "ganhub.json").read_text())
        assert on_disk == meta
        assert meta["architecture"] == architecture and meta["image_shape"] == shape
        assert meta["z_dim"] == 8 and meta["z_distribution"] == spec.z_distribution
        assert meta["output_range"] == [0.0, 1.0]
        assert meta["normalization"]["generator"] == spec.normalization == "batch_norm"
        assert meta["training"]["generator_weights"]["kind"] == kind

        z = np.random.default_rng(3).uniform(-1, 1, (5, 8)).astype(np.float32)
        expected = generator(tf.constant(z), training=False).numpy()
        # plain TF Hub, no ganhub code: the serving signature and the Keras-layer __call__
        module = hub.load(str(out))
        served = module.signatures["serving_default"](z=tf.constant(z))["images"].numpy()
        np.testing.assert_allclose(served, expected, atol=1e-5)
        layer = hub.KerasLayer(str(out))
        np.testing.assert_allclose(layer(tf.constant(z)).numpy(), expected, atol=1e-5)

        g = ganhub.load(str(out))
        assert g.z_dim == 8 and g.image_shape == tuple(shape)
        images = g.sample(6, seed=0)
        assert images.shape == (6, *shape) and images.dtype == np.uint8
        again = g(g.sample_latents(6, seed=0))
        np.testing.assert_array_equal(images, np.round(again * 255).astype(np.uint8))

        if architecture == "dcgan":  # the command that used to die with AttributeError 'channels'
            from ganhub.cli import main
            assert main(["export", str(model_dir), str(tmp_path / f"cli-{kind}"), "--weights",
                         kind]) == 0
            assert ganhub.load(str(tmp_path / f"cli-{kind}")).image_shape == tuple(shape)

        scores = evaluate(g, metrics=("is",), num_samples=8, extractor=str(tiny_extractor_dir))
        assert np.isfinite(scores["is"]) and scores["is"] >= 1.0
        assert scores["protocol"]["generator"]["generator_weights"]["kind"] == kind
    if ema:  # the two exports hold different weights
        raw = ganhub.load(str(tmp_path / "module-raw")).sample(4, seed=1)
        averaged = ganhub.load(str(tmp_path / "module-ema")).sample(4, seed=1)
        assert not np.array_equal(raw, averaged)


def test_every_generator_implements_the_export_interface():
    from ganhub.training import Config
    from ganhub.training.architectures import ARCHITECTURES, build
    from ganhub.training.architectures.interface import GeneratorSpec

    for architecture, resolution in (("sndcgan", 32), ("dcgan", 32), ("resnet_cifar", 32),
                                     ("resnet19", 128), ("resnet19", 8)):
        for channels in (1, 3):
            config = Config(architecture=architecture, resolution=resolution, width=0.0625, z_dim=5)
            generator, _ = build(config, channels)
            spec = generator.export_spec()
            assert isinstance(spec, GeneratorSpec)
            assert spec.image_shape == (resolution, resolution, channels) and spec.z_dim == 5
            # the declared shape and range are what the network produces
            images = generator(tf.random.uniform([2, 5], -1, 1), training=False).numpy()
            assert images.shape == (2, resolution, resolution, channels)
            low, high = spec.output_range
            assert images.min() >= low and images.max() <= high
    assert set(ARCHITECTURES) == {"sndcgan", "dcgan", "resnet_cifar", "resnet19"}


def test_metadata_is_read_from_the_spec_only():
    """A generator declaring another z distribution and range gets them into the metadata."""
    from ganhub.export.metadata import build, validate
    from ganhub.training import Config
    from ganhub.training.architectures.interface import GeneratorSpec

    spec = GeneratorSpec(z_dim=7, image_shape=(4, 4, 3), output_range=(0.0, 1.0),
                         z_distribution={"name": "normal", "mean": 0.0, "stddev": 1.0},
                         output_activation="sigmoid", normalization="none")
    meta = build(Config(z_dim=128), {"step": 1}, "x", spec)
    validate(meta)
    assert meta["z_dim"] == 7 and meta["image_shape"] == [4, 4, 3]
    assert meta["z_distribution"]["name"] == "normal"
    assert meta["normalization"]["generator"] == "none"
    with pytest.raises(ValueError, match="image_shape"):
        GeneratorSpec(7, (4, 4), {"name": "uniform"}, (0.0, 1.0), "sigmoid", "none")


# Every resolution each architecture supports in the study's data sets (28: MNIST/Fashion-MNIST
# native, 32: padded and CIFAR-10, 64, 128: CelebA-HQ/LSUN; ResNet CIFAR 8-32), grey and RGB.
RESOLUTIONS = [("sndcgan", 28, 1), ("sndcgan", 32, 3), ("sndcgan", 128, 3),
               ("dcgan", 28, 1), ("dcgan", 32, 3), ("dcgan", 64, 1),
               ("resnet_cifar", 8, 1), ("resnet_cifar", 16, 3), ("resnet_cifar", 32, 3),
               ("resnet19", 8, 1), ("resnet19", 64, 3), ("resnet19", 128, 3)]


@pytest.mark.slow
@pytest.mark.parametrize("architecture,resolution,channels", RESOLUTIONS,
                         ids=[f"{a}-{r}x{r}x{c}" for a, r, c in RESOLUTIONS])
def test_every_supported_resolution_exports_and_loads(tmp_path, architecture, resolution, channels):
    """The exporter's path without training: spec → metadata → SavedModel → both loaders."""
    import tensorflow_hub as hub

    import ganhub
    from ganhub.export.metadata import build, validate
    from ganhub.export.savedmodel import write_savedmodel
    from ganhub.training import Config
    from ganhub.training.architectures import build as build_models

    config = Config(architecture=architecture, resolution=resolution, width=0.0625, z_dim=6)
    generator, _ = build_models(config, channels)
    meta = validate(build(config, {"step": 0}, "m", generator.export_spec()))
    assert meta["image_shape"] == [resolution, resolution, channels]
    write_savedmodel(generator, meta, tmp_path / "m")
    z = np.random.default_rng(0).uniform(-1, 1, (3, 6)).astype(np.float32)
    expected = generator(tf.constant(z), training=False).numpy()
    assert expected.shape == (3, resolution, resolution, channels)
    served = hub.load(str(tmp_path / "m")).signatures["serving_default"](z=tf.constant(z))["images"]
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
    g = ganhub.load(str(tmp_path / "m"))
    assert g.image_shape == (resolution, resolution, channels)
    np.testing.assert_allclose(g(z), expected, atol=1e-5)
