"""Every data set is declared once (ganhub.training.data.DATASETS); the reference a module's
metadata names and the reference data names `ganhub stats` reads derive from it and must agree."""
import pytest

from ganhub.export.metadata import reference_of
from ganhub.metrics.data import DATA_NAMES, data_set_of
from ganhub.training import presets
from ganhub.training.config import Config
from ganhub.training.data import DATASETS

# (dataset, training resolution) → the reference a module declares, written out by hand
EXPECTED = {
    ("fashion_mnist", 28): ("fashion_mnist", 10_000), ("fashion_mnist", 32): ("fashion_mnist_32", 10_000),
    ("mnist", 28): ("mnist", 10_000), ("mnist", 32): ("mnist_32", 10_000),
    ("cifar10", 32): ("cifar10", 10_000), ("celebahq128", 128): ("celebahq128", 3000),
    ("lsun_bedroom", 128): ("lsun_bedroom", 10_000), ("image_folder", 32): ("image_folder", 10_000),
    ("image_folder", 64): ("image_folder_64", 10_000),
}


@pytest.mark.parametrize("dataset, resolution", list(EXPECTED))
def test_a_module_names_the_reference_stats_reads_back(dataset, resolution):
    ref = reference_of(Config(dataset=dataset, resolution=resolution,
                              architecture="resnet19" if resolution == 128 else "sndcgan"))
    assert (ref["dataset"], ref["num_samples"]) == EXPECTED[(dataset, resolution)]
    assert ref["split"] == "test"
    assert data_set_of(ref["dataset"]) == (dataset, resolution)   # the round trip


def test_every_data_set_has_its_reference_names_and_nothing_else():
    assert set(DATA_NAMES) == {"fashion_mnist", "fashion_mnist_32", "mnist", "mnist_32", "cifar10",
                               "celebahq128", "lsun_bedroom", "image_folder"}
    assert {d for d, _ in DATA_NAMES.values()} == set(DATASETS)
    assert data_set_of("cifar10_64") is None and data_set_of("image_folder_0") is None


def test_the_papers_presets_train_at_the_study_resolution():
    for name in presets.PRESET_INFO:
        config = presets.PRESETS[name]
        assert config["resolution"] == {"cifar10": 32, "celebahq128": 128, "lsun_bedroom": 128,
                                        "fashion_mnist": 32, "mnist": 32}[config["dataset"]], name
