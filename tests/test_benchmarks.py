"""The benchmark scripts still run against the current training API (they are not timed here: a
signature change in training/steps.py once left benchmarks/train_step.py raising TypeError)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def train_step():
    return _load("train_step")


@pytest.fixture(scope="module")
def plain(train_step):
    return train_step.bench("sndcgan", 0.0625, False, 1)


def test_train_step_bench_counts_the_same_graph_with_and_without_xla(train_step, plain):
    xla = train_step.bench("sndcgan", 0.0625, True, 1)
    for row in (plain, xla):
        assert row["d_s"] > 0 and row["g_s"] > 0 and row["step_s"] == row["d_s"] + row["g_s"]
    # the profiler counts the traced graph, which jit_compile does not change
    assert plain["flops"] == xla["flops"] > 0


def test_train_step_flops_grow_with_width(train_step, plain):
    narrow = plain["flops"]
    wide = train_step.bench("sndcgan", 0.125, False, 1)["flops"]
    # most convolutions scale with in × out channels, i.e. width²; the RGB input and output layers
    # and the dense layers scale with width
    assert 2.0 < wide / narrow < 4.0
