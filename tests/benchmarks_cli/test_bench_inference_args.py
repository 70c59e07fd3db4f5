"""benchmarks/bench_inference.py: bad flags are one error line before any measurement (no
TensorFlow, no matmul peak), and --json never replaces a file without --overwrite."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "benchmarks", "bench_inference.py")
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import bench_inference  # noqa: E402
from lib.errors import UserError  # noqa: E402

QUICK = ["--quick", "--no-torch", "--no-precision"]


@pytest.mark.parametrize("args, message", [
    (["--blocks", "abc"], "--blocks takes comma-separated .* expected a whole number"),
    (["--blocks", "0"], "--blocks takes comma-separated .* must be at least 1"),
    (["--blocks", "16,"], "--blocks takes comma-separated"),
    (["--frames", "0"], "--frames: must be at least 1, not 0"),
    (["--frames", "-1"], "--frames: must be at least 1, not -1"),
    (["--frames", "2"], "--frames 2: the calendar clip needs at least 3 frames"),
    (["--frames", "5"], None),                         # fine without the PyTorch comparison
    (["--long-frames", "-1"], "--long-frames: must be at least 0"),
    (["--sizes", "bogus"], "--sizes: unknown 'bogus'; choose from calendar, 540x960"),
    (["--sizes", "540x960"], "nothing to measure"),     # --quick skips 540x960
    (["--json", "{tmp}"], "--json '{tmp}' is a folder"),
    (["--json", "{tmp}/no/x.json"], "the folder '{tmp}/no' does not exist"),
    (["--json", "{tmp}/old.json"], "exists already; nothing was written.*--overwrite"),
])
def test_bad_flags_are_refused_before_any_measurement(tmp_path, monkeypatch, args, message):
    (tmp_path / "old.json").write_text("the user's results")

    class Started(Exception):
        pass

    def started(*a, **k):
        raise Started

    monkeypatch.setattr(bench_inference, "set_threads", started)      # the first step of work
    args = [a.format(tmp=tmp_path) for a in args]
    if message is None:
        with pytest.raises(Started):
            bench_inference.main(QUICK + args)
    else:
        with pytest.raises(UserError, match=message.format(tmp=tmp_path)):
            bench_inference.main(QUICK + args)
    assert (tmp_path / "old.json").read_text() == "the user's results"


def test_pytorch_comparison_needs_seven_calendar_frames():
    with pytest.raises(UserError, match="--frames 5: .* at least 7 frames with the PyTorch"):
        bench_inference.main(["--quick", "--no-precision", "--frames", "5"])


def test_cli_error_is_one_line_with_status_2():
    done = subprocess.run([sys.executable, SCRIPT, *QUICK, "--blocks", "0"], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --blocks") and "Traceback" not in done.stderr
    assert "matmul peak" not in done.stdout
