"""Bad input to the metrics: one clear 'error: ...' line, exit status 2, no traceback.

Also the original's behaviours around them: a result larger than its target is cropped at the
top-left, and runGan mode 2 pairs results/<scene> with HR/<scene> and adds the bicubic baseline.
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT


def _frames(seed, n=7, size=(64, 80), noise=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (size[0] + 20, size[1] + 20, 3)), (0, 0), 2.0)
    frames = [np.clip(np.round(base[t % 5:t % 5 + size[0], t:t + size[1]]), 0, 255).astype(np.uint8)
              for t in range(n)]
    if noise:
        frames = [np.clip(f.astype(int) + rng.integers(-noise, noise + 1, f.shape), 0, 255)
                  .astype(np.uint8) for f in frames]
    return frames


def _write(folder, frames, prefix=""):
    os.makedirs(folder, exist_ok=True)
    for t, rgb in enumerate(frames):
        cv2.imwrite(os.path.join(folder, f"{prefix}{t + 1:04d}.png"),
                    np.ascontiguousarray(rgb[:, :, ::-1]))
    return folder


@pytest.fixture
def pair(tmp_path):
    gt = _write(str(tmp_path / "gt"), _frames(0))
    out = _write(str(tmp_path / "out"), _frames(0, noise=8), prefix="output_")
    return str(tmp_path), out, gt


def _fails(argv, capsys):
    from lib.errors import run_cli
    from metrics.__main__ import main

    with pytest.raises(SystemExit) as exc:
        run_cli(main, argv)
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def _argv(root, out, gt, *extra):
    return ["--output", os.path.join(root, "log"), "--results", out, "--targets", gt,
            "--lpips", "off", "--no_progress", *extra]


def test_different_frame_counts_name_the_unpaired_frames(pair, capsys):
    root, out, gt = pair
    os.remove(os.path.join(out, "output_0007.png"))
    err = _fails(_argv(root, out, gt), capsys)
    assert "6 PNG frames" in err and "7" in err and "0007.png" in err


def test_result_smaller_than_target_names_the_frames(pair, capsys):
    root, out, gt = pair
    small = cv2.imread(os.path.join(out, "output_0004.png"))[:60]
    cv2.imwrite(os.path.join(out, "output_0004.png"), small)
    err = _fails(_argv(root, out, gt), capsys)
    assert "output_0004.png (80x60)" in err and "0004.png (80x64)" in err


def test_target_size_changing_within_the_sequence(pair, capsys):
    root, out, gt = pair
    cv2.imwrite(os.path.join(gt, "0005.png"), cv2.imread(os.path.join(gt, "0005.png"))[:56])
    err = _fails(_argv(root, out, gt), capsys)
    assert "0005.png" in err and "same size" in err


def test_missing_folder(pair, capsys):
    root, out, gt = pair
    err = _fails(_argv(root, out, os.path.join(root, "nope")), capsys)
    assert "target folder" in err and "nope" in err and "does not exist" in err


def test_folder_without_png_frames(pair, capsys):
    root, out, gt = pair
    other = os.path.join(root, "jpgs")
    os.makedirs(other)
    for t in range(7):
        cv2.imwrite(os.path.join(other, f"{t:04d}.jpg"), _frames(1)[0])
    open(os.path.join(other, "notes.txt"), "w").write("hello")
    err = _fails(_argv(root, other, gt), capsys)
    assert "no PNG frames" in err and "jpgs" in err and "--output_ext png" in err


def test_non_image_png_file(pair, capsys):
    root, out, gt = pair
    open(os.path.join(out, "output_0003.png"), "w").write("this is not an image")
    err = _fails(_argv(root, out, gt), capsys)
    assert "output_0003.png" in err and "not a PNG image" in err


def test_truncated_png_file(pair, capsys):
    root, out, gt = pair
    path = os.path.join(out, "output_0004.png")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:60])               # header intact, image data cut
    err = _fails(_argv(root, out, gt), capsys)
    assert "output_0004.png" in err and "truncated" in err    # found before any metric


def test_16_bit_png(pair, capsys):
    root, out, gt = pair
    img16 = cv2.imread(os.path.join(gt, "0003.png")).astype(np.uint16) * 257
    cv2.imwrite(os.path.join(gt, "0003.png"), img16)
    err = _fails(_argv(root, out, gt), capsys)
    assert "0003.png" in err and "16-bit" in err


def test_sequence_shorter_than_six_frames(pair, capsys):
    root, out, gt = pair
    for t in (6, 7):
        os.remove(os.path.join(out, f"output_{t:04d}.png"))
        os.remove(os.path.join(gt, f"{t:04d}.png"))
    err = _fails(_argv(root, out, gt), capsys)
    assert "only 5 frames" in err and "at least 6" in err


def test_comma_lists_of_different_lengths(pair, capsys):
    root, out, gt = pair
    err = _fails(_argv(root, f"{out},{out}", gt), capsys)
    assert "2 folders" in err and "--targets 1" in err


def test_larger_result_is_cropped_top_left(pair):
    from metrics.evaluate import evaluate_folder

    root, out, gt = pair
    big = _write(os.path.join(root, "big"), [np.pad(f, ((0, 5), (0, 7), (0, 0)), mode="edge")
                                             for f in _frames(0, noise=8)])
    a = evaluate_folder(out, gt)
    b = evaluate_folder(big, gt)
    for key in ("PSNR", "SSIM", "tOF"):
        assert b.values[key] == a.values[key]


def test_cli_exit_status_and_no_traceback(pair):
    root, out, gt = pair
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    bad = subprocess.run([sys.executable, "-m", "metrics", *_argv(root, out, root + "/missing")],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "metrics", *_argv(root, out, gt)],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("method") and "PSNR-Y" in line)
    assert lines[head + 2].split()[:3] == ["results", "gt", "3"]
    assert os.path.isfile(os.path.join(root, "log", "metrics.csv"))
    assert "Finished." in open(os.path.join(root, "log", "metricsfile.txt")).read()


def test_run_mode2_scenes_and_bicubic_baseline(tmp_path, capsys):
    from metrics.evaluate import run_mode2

    hr = _frames(5, size=(64, 96))
    lr = [cv2.GaussianBlur(f, (0, 0), 1.5)[::4, ::4] for f in hr]
    for scene in ("a", "b"):
        _write(str(tmp_path / "HR" / scene), hr)
        _write(str(tmp_path / "LR" / scene), lr)
    _write(str(tmp_path / "results" / "a"), _frames(5, size=(64, 96), noise=6), "output_")
    os.makedirs(str(tmp_path / "results" / "log"))          # not a scene: no HR/log
    ev = run_mode2(str(tmp_path / "results"), str(tmp_path / "HR"), str(tmp_path / "LR"),
                   str(tmp_path / "results" / "metric_log"), lpips="off", progress=False)
    groups = dict(ev.groups)
    assert [r.scene for r in groups["results"]] == ["a"]
    assert [r.scene for r in groups["bicubic"]] == ["a"]
    printed = capsys.readouterr().out
    assert "bicubic" in printed and "results" in printed
    log = tmp_path / "results" / "metric_log"
    assert (log / "metrics.csv").is_file() and (log / "bicubic" / "metrics.csv").is_file()
    assert len(os.listdir(str(log / "bicubic" / "frames" / "a"))) == 7

    from lib.errors import UserError
    with pytest.raises(UserError, match="no scene to evaluate"):
        run_mode2(str(tmp_path / "none"), str(tmp_path / "HR"), str(tmp_path / "LR"),
                  str(tmp_path / "m2"), with_bicubic=False, lpips="off", progress=False)


@pytest.mark.parametrize("where", ["plot", "csv", "log"])
def test_full_disk_is_one_error_and_leaves_no_partial_file(pair, capsys, monkeypatch, where):
    """nm17: the disk fills up while a plot, a CSV or the log is written: one error line naming
    the file, and no partial file (nor temporary) of this run is left."""
    import errno

    import matplotlib.figure
    import pandas as pd

    from metrics import report
    root, out, gt = pair
    log_dir = os.path.join(root, "log")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "plot":
        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
        name = os.path.join(log_dir, "plots", "gt.png")
    elif where == "csv":
        real = pd.DataFrame.to_csv

        def full_for_summary(frame, handle=None, *args, **kwargs):
            if "frames" in frame.columns:          # summary.csv's table
                handle.write("method,sce")         # what the full disk cut short
                full()
            return real(frame, handle, *args, **kwargs)
        monkeypatch.setattr(pd.DataFrame, "to_csv", full_for_summary)
        name = os.path.join(log_dir, "summary.csv")
    else:
        class FullLog(report.MetricsLog):
            def __call__(self, line, echo=True):
                if line.startswith("Finished"):
                    self.handle.write("Fini")
                    self.handle.flush = full
                return super().__call__(line, echo)
        monkeypatch.setattr(report, "MetricsLog", FullLog)
        name = os.path.join(log_dir, "metricsfile.txt")
    err = _fails(_argv(root, out, gt), capsys)
    assert err.startswith(f"error: no space left on device while writing '{name}'; free space "
                          "and rerun: the same command computes and writes every output again")
    left = [os.path.join(d, n) for d, _, names in os.walk(log_dir) for n in names]
    assert not [p for p in left if p.endswith(".partial")], left
    assert name not in left, left


def test_symlink_loop_among_result_frames_names_that_frame(pair, capsys):
    """nm21: a symlink loop (or a dangling link) among the result frames is named itself; it is
    not left out, which would shift the pairing and blame the last target frames."""
    root, out, gt = pair
    os.remove(os.path.join(out, "output_0003.png"))
    os.remove(os.path.join(out, "output_0004.png"))
    os.symlink("output_0004.png", os.path.join(out, "output_0003.png"))
    os.symlink("output_0003.png", os.path.join(out, "output_0004.png"))
    err = _fails(_argv(root, out, gt), capsys)
    assert f"result frame '{os.path.join(out, 'output_0003.png')}' cannot be read" in err
    assert "0006.png" not in err and "0007.png" not in err
    assert not os.path.exists(os.path.join(root, "log"))
