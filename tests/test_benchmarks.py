"""The benchmark scripts still run against the current training API (they are not timed here: a
signature change in training/steps.py once left benchmarks/train_step.py raising TypeError)."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

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


def test_vs_torch_runners_compute_the_same_step(train_step):
    """The PyTorch reference (its own process) is checked against ganhub's losses on the same
    weights before it is timed, and both runners return one time per step / per call."""
    torch_runner = train_step.TorchRunner(0.0625, threads=1, wait_policy="PASSIVE")
    try:
        (tf_d, tf_g), (torch_d, torch_g) = torch_runner.losses["ganhub"], torch_runner.losses["torch"]
        assert abs(tf_d - torch_d) <= 1e-5 * abs(tf_d) and abs(tf_g - torch_g) <= 1e-5 * abs(tf_g)
        assert tf_d > 0 and tf_g > 0
        times = torch_runner.run(2)
        assert len(times) == 2 and all(t > 0 for t in times)
    finally:
        torch_runner.close()
    assert torch_runner.proc.returncode == 0
    ganhub = train_step.GanhubRunner(0.0625, False, k=2)
    times = ganhub.run(2)
    assert len(times) == 2 and all(t > 0 for t in times) and ganhub.first == 1 + 3 * 2
    assert ganhub.flops > 0
