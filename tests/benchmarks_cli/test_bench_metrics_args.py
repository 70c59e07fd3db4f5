"""benchmarks/bench_metrics.py: bad --frames is one error line; the synthetic frames (no
../shared/data) keep their size for any --frames."""
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import bench_metrics  # noqa: E402
from lib.errors import UserError  # noqa: E402


@pytest.mark.parametrize("frames, message", [("0", "must be at least 1, not 0"),
                                             ("-2", "must be at least 1, not -2"),
                                             ("x", "expected a whole number")])
def test_frames_below_one_is_refused(frames, message):
    # was an IndexError at gts[0] after the loop
    with pytest.raises(UserError, match=f"--frames: {message}"):
        bench_metrics.main(["--frames", frames, "--no_lpips"])


def test_synthetic_frames_keep_their_size_beyond_nine(tmp_path, monkeypatch, capsys):
    # the shifted crops of the synthetic base used to shrink from frame 10 on, and Farneback
    # refused two frames of different sizes (cv2.error)
    monkeypatch.setattr(bench_metrics, "ROOT", str(tmp_path / "repo"))   # no ../shared/data
    bench_metrics.main(["--frames", "10", "--no_lpips"])
    out = capsys.readouterr().out
    assert "synthetic 720x576" in out and "10 frames" in out and "tOF" in out
    gts, outs = bench_metrics.synthetic_frames(12)
    assert {g.shape for g in gts + outs} == {(576, 720, 3)}
