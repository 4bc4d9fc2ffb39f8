"""MirroredStrategy over 2 logical CPU devices equals one device running the two replica halves.

The worker runs in a subprocess because logical devices must be configured before TensorFlow
initializes. The single-device reference processes each half of the global batch as a replica would
(its own BN batch statistics, the same starting SN u), averages the gradients and applies Adam.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # MirroredStrategy on virtual devices

REPO = Path(__file__).resolve().parents[2]


def _worker(*args):
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("mirrored_worker.py")), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """One worker process: the step comparison, then a Trainer run (saves a TF start-up)."""
    # SN in D (per-replica u), BN in G (per-replica statistics), DRAGAN (per-replica std, sliced noise)
    return _worker("--trainer", str(tmp_path_factory.mktemp("mirrored") / "run"),
                   "sndcgan,spectral_norm,ns,dragan,8")


def test_trainer_runs_checkpoints_and_resumes_under_mirrored_strategy(mirrored):
    result = mirrored["trainer"]
    assert result["trainer_steps"] == [2, 3]
    assert result["variable_kind"] == "MirroredVariable"
    assert result["trainer_finite"]
    # the generator EMA (decay 0.5 from step 1) is mirrored and follows its formula
    assert result["ema_kind"] == "MirroredVariable" and result["ema_keys_match"]
    assert result["ema_error"] < 1e-6


def test_two_replicas_give_the_loss_and_update_of_one_device(mirrored):
    result = mirrored["compare"]
    assert result["replicas"] == 2
    for key in ("d_loss", "penalty", "g_loss"):
        np.testing.assert_allclose(result[key][0], result[key][1], rtol=1e-5, atol=1e-7, err_msg=key)
    assert result["penalty"][0] > 0
    assert result["d_grads"] < 1e-4          # all-reduced gradients = mean of the replica halves
    assert result["d_moved"] > 5e-4 and result["g_moved"] > 5e-4   # lr 1e-3: both steps applied
    assert result["d_weights"] < 0.01 and result["g_weights"] < 0.01


def test_spectral_norm_u_moves_once_per_step_on_every_replica(mirrored):
    """As in compare_gan: one power iteration per D step (here with DRAGAN's third D call) and one
    per G step, on each replica's own copy of u."""
    result = mirrored["compare"]
    assert result["sn_layers"] == 8
    assert result["u_after_d"] < 1e-5 and result["u_after_g"] < 1e-5
