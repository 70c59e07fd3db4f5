"""Issue 19: ``python3 -m metrics --output`` never lands in an input folder (nm18) and one metrics
run at a time per output folder (m19). One error line each, nothing changed on disk."""
import os

import cv2
import numpy as np

from cli_helpers import assert_one_error, run_cli, tree_hashes
from lock_helpers import hold_folder_lock


def _frames(folder, n=3):
    os.makedirs(folder)
    for i in range(n):
        cv2.imwrite(os.path.join(folder, f"{i:04d}.png"), np.full((32, 32, 3), 30 * i, np.uint8))
    return str(folder)


def test_output_into_the_ground_truth_or_result_folder_is_refused(tmp_path):
    gt, res = _frames(tmp_path / "gt"), _frames(tmp_path / "res")
    os.symlink(gt, str(tmp_path / "gt_alias"))
    before = tree_hashes(tmp_path)
    for output, flag in ((gt, "--targets"), (str(tmp_path / "gt_alias"), "--targets"),
                         (res + "/", "--results")):
        status, stdout, stderr = run_cli(["-m", "metrics", "--output", output, "--results", res,
                                          "--targets", gt, "--lpips", "off"])
        assert_one_error(status, stdout, stderr, f"is the {flag} folder")
    assert tree_hashes(tmp_path) == before


def test_second_metrics_run_on_a_held_output_folder_is_refused(tmp_path):
    gt, res = _frames(tmp_path / "gt"), _frames(tmp_path / "res")
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("another run's table")
    holder = hold_folder_lock(str(out))
    args = ["-m", "metrics", "--output", out, "--results", res, "--targets", str(tmp_path / "x"),
            "--lpips", "off"]
    try:
        before = tree_hashes(tmp_path)
        status, stdout, stderr = run_cli(args)
        assert_one_error(status, stdout, stderr, f"another run (PID {holder.pid} on",
                         "metrics output folder")
        assert tree_hashes(tmp_path) == before
    finally:
        holder.stdin.close()                # the holder ends and releases the folder
        holder.wait()
    status, stdout, stderr = run_cli(args)  # now the run gets to its inputs (a missing folder)
    assert status == 2 and "another run" not in stderr and "'" + str(tmp_path / "x") in stderr
    assert sorted(os.listdir(out)) == ["metrics.csv"]


def test_rungan_2_output_into_a_ground_truth_folder_is_refused(tmp_path):
    import pytest

    from lib.errors import UserError
    from metrics.evaluate import run_mode2
    for root in ("results", "HR"):
        _frames(tmp_path / root / "calendar")
    before = tree_hashes(tmp_path)
    for output, flag in ((tmp_path / "HR" / "calendar", "--hr_root"),
                         (tmp_path / "results", "--results_root")):
        with pytest.raises(UserError, match=f"is the {flag} folder"):
            run_mode2(str(tmp_path / "results"), str(tmp_path / "HR"), str(tmp_path / "LR"),
                      output=str(output), lpips="off", progress=False)
    assert tree_hashes(tmp_path) == before
