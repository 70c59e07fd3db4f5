"""``python3 -m metrics``: every path the run writes is checked before any metric is computed, an
output never lands in (or deletes) an input folder, scene names are unique, odd file names and
bad frames are one error line, and a run that stops leaves no half run in metricsfile.txt."""
import os

import cv2
import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli, tree_hashes
from test_metrics_errors import _argv, _fails, _frames, _write, pair  # noqa: F401 (fixture)


def _lr_of(frames):
    return [cv2.resize(f, (f.shape[1] // 4, f.shape[0] // 4), interpolation=cv2.INTER_AREA)
            for f in frames]


@pytest.fixture
def no_scoring(monkeypatch):
    """Scoring a frame fails the test: the errors below must come before any metric."""
    from metrics import evaluate

    def scored(*args, **kwargs):
        raise AssertionError("a metric was computed before the error")
    monkeypatch.setattr(evaluate, "evaluate_folder", scored)
    monkeypatch.setattr(evaluate, "make_bicubic_frames", scored)


# --- 1. scene names ---------------------------------------------------------------------------

def test_scene_names_are_unique_even_when_a_suffix_is_a_folder_name():
    from metrics.evaluate import _unique_scenes
    assert _unique_scenes(["a/cal", "b/cal_1", "c/cal"]) == ["cal", "cal_1", "cal_2"]
    assert _unique_scenes(["a/x", "b/x", "c/x_1", "d/x"]) == ["x", "x_1", "x_1_1", "x_2"]
    assert _unique_scenes(["a/Cal", "b/cal"]) == ["Cal", "cal_1"]       # case-insensitive disks
    assert _unique_scenes(["."])[0] == os.path.basename(os.getcwd())   # never 'frames/.'


def test_each_target_gets_its_own_bicubic_frames(tmp_path, capsys):
    from lib.errors import run_cli as run
    from metrics.__main__ import main
    root = str(tmp_path)
    targets, lrs = [], []
    for k, folder in enumerate(("a/cal", "b/cal_1", "c/cal")):
        hr = _frames(10 + k)
        targets.append(_write(os.path.join(root, folder), hr))
        lrs.append(_write(os.path.join(root, "lr", str(k)), _lr_of(hr)))
    run(main, ["--output", os.path.join(root, "o"), "--targets", ",".join(targets),
               "--baseline_lr", ",".join(lrs), "--lpips", "off", "--no_progress"])
    capsys.readouterr()
    frames = os.path.join(root, "o", "bicubic", "frames")
    assert sorted(os.listdir(frames)) == ["cal", "cal_1", "cal_2"]
    for k, scene in enumerate(("cal", "cal_1", "cal_2")):     # each scene its own LR's bicubic
        made = cv2.imread(os.path.join(frames, scene, "0004.png"))
        assert np.array_equal(made, cv2.imread(os.path.join(root, "o", "bicubic", "frames",
                                                            scene, "0004.png")))
        others = [cv2.imread(os.path.join(frames, s, "0004.png")) for s in ("cal", "cal_1",
                                                                           "cal_2") if s != scene]
        assert not any(np.array_equal(made, o) for o in others)
    assert sorted(os.listdir(os.path.join(root, "o", "plots"))) == ["cal.png", "cal_1.png",
                                                                     "cal_2.png"]
    import pandas as pd
    tidy = pd.read_csv(os.path.join(root, "o", "metrics_per_frame.csv"))
    assert not tidy.duplicated(["method", "scene", "frame"]).any()


# --- 2, 3. an output folder that is an input folder ----------------------------------------------

@pytest.mark.parametrize("where", ["bicubic/frames/gt", "plots", "bicubic", "bicubic/frames"])
def test_an_input_folder_where_the_run_writes_is_refused(tmp_path, where):
    """The bicubic step removed the PNGs of <output>/bicubic/frames/<scene> and then scored its
    own output; a plot landed among the frames of <output>/plots."""
    root = tmp_path
    hr = _frames(3)
    gt = _write(str(root / "gt"), hr)
    lr = _write(str(root / "lr"), _lr_of(hr))
    res = _write(str(root / "o" / where), _frames(3, noise=6))
    before = tree_hashes(root)
    status, stdout, stderr = run_cli(["-m", "metrics", "--output", root / "o", "--results", res,
                                      "--targets", gt, "--baseline_lr", lr, "--lpips", "off",
                                      "--no_progress"])
    assert_one_error(status, stdout, stderr, f"'{res}'", "result folder", "another --output")
    assert tree_hashes(root) == before


def test_rungan_2_refuses_a_results_root_where_it_writes_the_bicubic_frames(tmp_path):
    """runGan.py 2 shares the check (results_root = <output>/bicubic/frames: the baseline would
    delete results/<scene>); its usual layout (output inside results/) still works."""
    from lib.errors import UserError
    from metrics.evaluate import run_mode2
    hr = _frames(4)
    _write(str(tmp_path / "HR" / "a"), hr)
    _write(str(tmp_path / "LR" / "a"), _lr_of(hr))
    results = tmp_path / "o" / "bicubic" / "frames"
    _write(str(results / "a"), _frames(4, noise=6))
    before = tree_hashes(tmp_path)
    with pytest.raises(UserError, match="which is the result folder"):
        run_mode2(str(results), str(tmp_path / "HR"), str(tmp_path / "LR"),
                  output=str(tmp_path / "o"), lpips="off", progress=False)
    assert tree_hashes(tmp_path) == before
    ev = run_mode2(str(results), str(tmp_path / "HR"), str(tmp_path / "LR"),
                   output=str(results / "metric_log"), lpips="off", progress=False)
    assert [r.scene for r in dict(ev.groups)["results"]] == ["a"]
    assert tree_hashes(results / "a") == {k: v for k, v in before.items()
                                          if k.startswith(str(results / "a"))}


# --- 4. an output entry of the wrong kind -------------------------------------------------------

WRONG_KINDS = {
    "metrics.csv": ("dir", "a folder of that name"),
    "summary.csv": ("dir", "a folder of that name"),
    "metrics_per_frame.csv": ("dir", "a folder of that name"),
    "metricsfile.txt": ("dir", "but it is a folder"),
    "bicubic/metrics.csv": ("dir", "a folder of that name"),
    "bicubic/metricsfile.txt": ("dir", "but it is a folder"),
    "plots": ("file", "but it is a file"),
    "plots/gt.png": ("dir", "a folder of that name"),
    "bicubic": ("file", "but it is a file"),
    "bicubic/frames": ("file", "but it is a file"),
    "bicubic/frames/gt": ("file", "but it is a file"),
    "bicubic/frames/gt/0003.png": ("dir", "is a folder among the bicubic frames"),
}


@pytest.mark.parametrize("entry", sorted(WRONG_KINDS))
def test_an_output_entry_of_the_wrong_kind_is_found_before_any_metric(pair, capsys, no_scoring,
                                                                      entry):
    root, out, gt = pair
    lr = _write(os.path.join(root, "lr"), _lr_of(_frames(0)))
    log = os.path.join(root, "log")
    kind, fragment = WRONG_KINDS[entry]
    path = os.path.join(log, *entry.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "dir":
        os.makedirs(os.path.join(path, "inside"))
    else:
        open(path, "w").write("user data")
    before = tree_hashes(root)
    err = _fails(_argv(root, out, gt, "--baseline_lr", lr), capsys)
    assert f"'{path}'" in err and fragment in err, err
    assert tree_hashes(root) == before


def test_whole_file_and_the_log_name_the_file_on_any_write_error(tmp_path):
    from lib.errors import UserError
    from metrics.report import MetricsLog, whole_file
    target = tmp_path / "missing" / "summary.csv"
    with pytest.raises(UserError, match=f"cannot write '{target}'"):
        with whole_file(str(target)) as handle:
            handle.write("x")
    (tmp_path / "metricsfile.txt").mkdir()
    with pytest.raises(UserError, match="cannot write '.*metricsfile.txt': Is a directory"):
        MetricsLog(str(tmp_path / "metricsfile.txt"))


# --- 5. names that are not UTF-8 ------------------------------------------------------------------

def test_names_that_are_not_utf8_are_written_and_printed(tmp_path):
    root = os.fsencode(str(tmp_path))
    gt = os.fsdecode(root + b"/gt\xfe")          # the scene name: plot title, CSV rows
    os.rename(_write(str(tmp_path / "gt"), _frames(0)), gt)    # (cv2.imwrite needs UTF-8 paths)
    os.rename(os.path.join(gt, "0003.png"), os.fsdecode(os.fsencode(gt) + b"/0003\xe9.png"))
    out = _write(str(tmp_path / "res"), _frames(0, noise=8))
    output = os.fsdecode(root + b"/o\xff")
    status, stdout, stderr = run_cli(["-m", "metrics", "--output", output, "--results", out,
                                      "--targets", gt, "--lpips", "off", "--no_progress"])
    assert status == 0, (stdout + stderr)[-3000:]
    assert "Traceback" not in stderr
    for name in ("metricsfile.txt", "metrics_per_frame.csv", "summary.csv", "metrics.csv"):
        with open(os.path.join(output, name), "rb") as handle:
            text = handle.read().decode("utf-8")           # valid UTF-8 whatever the names
    log = open(os.path.join(output, "metricsfile.txt"), encoding="utf-8").read()
    assert "Finished." in log and "\\udcff" in log
    tidy = open(os.path.join(output, "metrics_per_frame.csv"), encoding="utf-8").read()
    assert "0003\\udce9.png" in tidy and "gt\\udcfe" in tidy and text
    assert os.listdir(os.path.join(output, "plots")) == [os.fsdecode(b"gt\xfe.png")]


# --- 7. bad frames found before the work; no half run in the log --------------------------------

def test_a_truncated_result_frame_with_an_intact_header_is_found_before_any_metric(
        pair, capsys, no_scoring):
    root, out, gt = pair
    path = os.path.join(out, "output_0005.png")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) - 100])
    err = _fails(_argv(root, out, gt), capsys)
    assert f"'{path}' is a truncated or corrupt PNG" in err


def test_a_truncated_lr_frame_is_found_before_any_metric(pair, capsys, no_scoring):
    """make_bicubic_frames decodes every LR frame, the unevaluated first one too."""
    root, out, gt = pair
    lr = _write(os.path.join(root, "lr"), _lr_of(_frames(0)))
    path = os.path.join(lr, "0001.png")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) - 20])
    err = _fails(_argv(root, out, gt, "--baseline_lr", lr), capsys)
    assert f"'{path}' is a truncated or corrupt PNG" in err


def test_a_run_that_stops_part_way_leaves_the_log_as_it_was(pair, capsys):
    """A frame whose data is corrupt (header and end intact) is only found when decoded: the
    error line, and metricsfile.txt keeps only the earlier, finished runs."""
    from lib.errors import run_cli as run
    from metrics.__main__ import main
    root, out, gt = pair
    run(main, _argv(root, out, gt))
    capsys.readouterr()
    log = os.path.join(root, "log", "metricsfile.txt")
    before = open(log, "rb").read()
    path = os.path.join(out, "output_0005.png")
    data = bytearray(open(path, "rb").read())
    for k in range(200, 400):
        data[k] ^= 0x55
    open(path, "wb").write(bytes(data))
    err = _fails(_argv(root, out, gt), capsys)
    assert "output_0005.png" in err
    assert open(log, "rb").read() == before
