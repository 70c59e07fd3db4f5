"""metrics/grid_phase.py: the mean high-pass per 4-pixel phase finds a periodic grid, and only that."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from metrics.grid_phase import GREY, largest_offset, phase_means


def _smooth_frame(height=96, width=128, seed=0):
    """A natural-looking frame without any 4-pixel structure: smooth ramps and blobs."""
    import cv2
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)), (0, 0), 6)
    ramp = np.linspace(20, 200, width)[None, :, None]
    return np.clip(0.5 * noise + 0.5 * ramp, 0, 255)


def test_smooth_frames_have_no_phase_offset():
    frames = [_smooth_frame(seed=s) for s in range(3)]
    assert largest_offset(frames) < 0.05


def test_a_column_grid_is_measured_at_its_amplitude():
    """A zero-mean 4-periodic pattern p(x) added to every pixel: the 9-wide box blur keeps p/9
    of it (two whole periods plus one more pixel), so the phase means are 8/9 p."""
    pattern = np.array([0.4, -1.2, 1.1, -0.3])
    frame = _smooth_frame(height=96, width=128)
    width = frame.shape[1]
    gridded = frame + (np.tile(pattern, width // 4)[None, :, None] / GREY.sum())
    columns, rows = phase_means([gridded])
    clean_columns, clean_rows = phase_means([frame])
    np.testing.assert_allclose(columns - clean_columns, pattern * 8 / 9, atol=0.03)
    np.testing.assert_allclose(rows - clean_rows, 0, atol=0.01)
    assert largest_offset([gridded]) > 1.0
    # the same grid along rows shows in the row phases
    transposed = np.transpose(gridded, (1, 0, 2))
    rows_t = phase_means([transposed])[1] - phase_means([np.transpose(frame, (1, 0, 2))])[1]
    np.testing.assert_allclose(rows_t, pattern * 8 / 9, atol=0.03)


def test_command_line(tmp_path):
    import cv2
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"output_{i:04d}.png"), _smooth_frame(seed=i).astype(np.uint8))
    run = [sys.executable, "-m", "metrics.grid_phase"]
    ok = subprocess.run(run + [str(folder)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "largest offset:" in ok.stdout and len(ok.stdout.strip().splitlines()) == 3
    missing = subprocess.run(run + [str(tmp_path / "absent")], cwd=REPO_ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: '{tmp_path / 'absent'}' does not exist"]


@pytest.mark.parametrize("period", ["1", "x"])
def test_bad_period_is_one_line(period):
    result = subprocess.run([sys.executable, "-m", "metrics.grid_phase", "--period", period,
                             os.path.join(REPO_ROOT, "README.md")], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("period", [10 ** 12, 10 ** 30])
def test_a_period_larger_than_the_frames_is_one_line_not_a_memory_error(tmp_path, capsys, period):
    """The period was checked against the frames only after np.zeros(period)."""
    import cv2

    from lib.errors import run_cli
    from metrics.grid_phase import main
    cv2.imwrite(str(tmp_path / "0000.png"), _smooth_frame(height=48, width=64).astype(np.uint8))
    with pytest.raises(SystemExit) as exc:
        run_cli(main, [str(tmp_path), "--period", str(period)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err == f"error: a frame of 64x48 is smaller than the period {period}\n"


def test_every_path_is_checked_before_any_frame_is_read(tmp_path, capsys, monkeypatch):
    """A FIFO is named as what it is (it was 'does not exist'), and a bad second path is found
    before the first folder's frames are read."""
    import cv2

    from lib.errors import run_cli
    from lib.io import frame_io
    from metrics.grid_phase import main
    cv2.imwrite(str(tmp_path / "0000.png"), _smooth_frame(height=48, width=64).astype(np.uint8))
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))

    def read(path):
        raise AssertionError("a frame was read before the paths were checked")
    monkeypatch.setattr(frame_io, "read_image_rgb8", read)
    for bad, message in ((fifo, "is neither a frame file nor a folder of frames"),
                         (tmp_path / "absent", "does not exist")):
        with pytest.raises(SystemExit):
            run_cli(main, [str(tmp_path), str(bad)])
        assert capsys.readouterr().err == f"error: '{bad}' {message}\n"
