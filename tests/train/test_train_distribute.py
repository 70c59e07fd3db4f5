"""MirroredStrategy over two logical CPU devices equals the single-device step (same global batch).

Also the whole loop with ``--distribute mirrored`` against ``--distribute none``.

Runs ``tests/mirrored_check.py`` in a fresh process (logical devices must be set up before
TensorFlow starts). TecoGAN with ping-pong and the D: three steps, two with the D update
and one without (the D-balance decision is one decision per step, taken from the mirrored EMA).
"""
import json
import os
import subprocess
import sys

from conftest import REPO_ROOT

LOSS_RTOL = 1e-5     # summation order differs (per-replica sums, all-reduce, two-pass BatchNorm)
BALANCE_ATOL = 1e-5  # t_balance_raw: a difference of two similar numbers
SLOT_RTOL = 1e-4     # Adam m and v after the first step: 0.1 g and 0.001 g^2 (vs max |.|)
# Weights: Adam normalises every gradient element, so an element whose gradient is at rounding
# noise level (cancellations, e.g. through the BatchNorm backward) moves by about +-lr in either
# run, whatever its sign. Such elements are rare (1e-4 of all here); a real error (a missing
# all-reduce, a wrong loss scale, per-replica BatchNorm statistics) changes most of them.
WEIGHT_OFF_FRACTION = 1e-3  # at most 0.1 % of the weights may differ by more than lr / 50
                            # (1e-6, mirrored_check.weight_difference)
WEIGHT_MAX = 1e-4           # and none by more than 2 lr


def _check(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "mirrored_check.py"),
                             *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mirrored_step_equals_single_device_step():
    report = _check()
    assert report["replicas"] == 2
    assert report["counters_single"] == report["counters_mirrored"] == [2, 1, 3]
    assert report["with_d"][0] == report["with_d"][1] == [1.0, 1.0, 0.0]
    assert report["copies_equal"]
    assert report["loss_rel"] < LOSS_RTOL, report
    assert report["balance_abs"] < BALANCE_ATOL, report
    assert report["slot_rel"] < SLOT_RTOL, report
    assert report["weight_off"] < WEIGHT_OFF_FRACTION, report
    assert report["weight_abs"] < WEIGHT_MAX, report
    assert report["moved"] > 0


def test_mirrored_training_loop_equals_single_device_loop():
    """The global batch split by the distributed dataset, validation/GIF summaries, saving."""
    report = _check("loop")
    assert report["trainer_replicas"] == [1, 2] and report["trainer_steps"] == [3, 3]
    assert report["trainer_loss_rel"] < LOSS_RTOL, report
    assert report["trainer_weight_off"] < WEIGHT_OFF_FRACTION, report
    assert report["trainer_weight_abs"] < WEIGHT_MAX, report
