"""runGan.py's command line: help that lists every mode's flags, own inputs named after the input,
the README figure made by the demo's own code."""
import os
import subprocess
import sys

import numpy as np

from conftest import REPO_ROOT
from figure_compare import labelled_figure_differences

sys.path.insert(0, REPO_ROOT)
import runGan  # noqa: E402
from lib.infer import demo  # noqa: E402


def _rungan(args, cwd, env=None):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "runGan.py")] + list(args),
                          cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


def test_help_lists_modes_and_every_flag(tmp_path):
    result = _rungan(["--help"], str(tmp_path))
    assert result.returncode == 0 and "error" not in result.stderr
    text = result.stdout
    for mode in range(5):
        assert f"\n  {mode}  " in text
    from lib.io.assets import build_parser
    from lib.train.recipes import RUNNER_OPTIONS
    flags = [a.option_strings[0] for a in build_parser()._actions if a.option_strings[0] != "-h"]
    flags += [a.option_strings[0] for a in runGan.metrics_parser()._actions
              if a.option_strings[0] != "-h"]
    flags += list(RUNNER_OPTIONS) + ["--input_dir_LR", "--output_ext", "--video_crf"]
    missing = [f for f in flags if f not in text]
    assert not missing, missing
    assert not os.listdir(tmp_path)           # help creates nothing


def test_own_input_is_named_after_the_input():
    assert runGan.own_input_name(["--input_dir_LR", "my_clip.mp4"]) == "my_clip"
    assert runGan.own_input_name(["--input_dir_LR", demo.DEMO_LR + "/"]) == "bigbuckbunny_LR"
    video = os.path.join(REPO_ROOT, "runGan.py")                  # an existing file: stem
    assert runGan.own_input_name([f"--input_dir_HR={video}"]) == "runGan"
    assert runGan.own_input_name(["--output_ext", "mp4"]) is None


def test_rungan_1_own_clip_goes_to_results_named_after_it(tmp_path):
    import cv2
    clip = tmp_path / "my_clip"
    clip.mkdir()
    for i in range(2):
        cv2.imwrite(str(clip / f"{i:04d}.png"), np.full((12, 12, 3), 40 * i, np.uint8))
    # oneDNN on (as tests/conftest.py sets it, and TensorFlow's default on CPUs with AVX512_VNNI,
    # AVX512_BF16, AVX_VNNI or AMX): its "oneDNN custom operations are on" notice, printed by
    # TensorFlow's C++ at import whatever TF_CPP_MIN_LOG_LEVEL says, must be silenced too.
    result = _rungan(["1", "--input_dir_LR", str(clip), "--noprogress"], str(tmp_path),
                     env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "results" / "my_clip")) == \
        [".tecogan_outputs.json", "output_0000.png", "output_0001.png"]
    assert not (tmp_path / "results" / "calendar").exists()
    # TensorFlow's start-up lines are silenced (runGan sets TF_CPP_MIN_LOG_LEVEL for itself and
    # the main.py it starts).
    assert "cpu_feature_guard" not in result.stderr and "absl::InitializeLog" not in result.stderr
    assert "oneDNN" not in result.stdout + result.stderr


def test_rungan_1_input_dir_hr_is_the_input_not_the_demo_clip(tmp_path):
    """The fresh-machine report: ``runGan.py 1 --input_dir_HR bikes --input_dir_len 2`` used to
    super-resolve the demo clip into results/bikes/ (the default --input_dir_LR won). Now the
    HR frames are degraded and super-resolved: two frames of the HR size, named after them."""
    import cv2
    bikes = tmp_path / "bikes"
    bikes.mkdir()
    for i in range(3):
        cv2.imwrite(str(bikes / f"bike_{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    work = tmp_path / "work"
    work.mkdir()
    result = _rungan(["1", "--input_dir_HR", str(bikes), "--input_dir_len", "2", "--output_ext",
                      "png", "--noprogress"], str(work))
    assert result.returncode == 0, result.stderr[-2000:]
    out = work / "results" / "bikes"
    frames = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    assert frames == ["output_bike_000.png", "output_bike_001.png"]
    assert cv2.imread(str(out / frames[0])).shape == (48, 64, 3)
    assert sorted(os.listdir(work / "results")) == ["bikes", "log"]     # no demo outputs


def test_shipped_block_counts_match_the_checkpoints():
    for kind, blocks in demo.SHIPPED_BLOCKS.items():
        assert demo.checkpoint_num_resblock(demo.shipped_checkpoint(kind)) == blocks


def test_readme_figure_is_the_demo_comparison_layout():
    """The README figure is write_comparison's output for the demo clip: its bicubic half and
    its layout are recomputed here exactly (the 'ours' half needs the network; the offline
    runGan test compares the whole image)."""
    from lib.io.frame_io import list_frames, read_image_rgb8
    figure = read_image_rgb8(demo.README_FIGURE)
    lrs = list_frames(demo.DEMO_LR)
    lr = read_image_rgb8(lrs[len(lrs) // 2])
    fake_sr = demo.bicubic_x4(lr)
    made = demo.side_by_side(lr, fake_sr, labels=("bicubic", "ours (shipped TecoGAN)"),
                             box=demo.DEMO_BOX, gap=demo.DEMO_GAP)
    assert made.shape == figure.shape
    width = demo.DEMO_BOX[3]
    left = slice(0, width + demo.DEMO_GAP)
    assert labelled_figure_differences(made[:, left], figure[:, left],
                                       [(0, width, "bicubic")]) == []
    # The label comparison, tolerant of how OpenCV draws glyphs, still sees another word.
    for word in ("bilinear", "bicubic x4", "Bicubic"):
        other = demo.side_by_side(lr, fake_sr, labels=(word, "ours (shipped TecoGAN)"),
                                  box=demo.DEMO_BOX, gap=demo.DEMO_GAP)
        assert labelled_figure_differences(other[:, left], figure[:, left],
                                           [(0, width, "bicubic")]) != [], word
