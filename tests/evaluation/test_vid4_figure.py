"""The temporal-profile figure of resources/make_vid4_figure.py: one row per frame, in order."""
import importlib.util
import os

import numpy as np

from conftest import REPO_ROOT


def _module():
    path = os.path.join(REPO_ROOT, "resources", "make_vid4_figure.py")
    spec = importlib.util.spec_from_file_location("make_vid4_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_stacks_the_middle_row_of_each_frame_over_time():
    fig = _module()
    top, left, size, stretch = 10, 20, fig.SIZE, fig.PROFILE_STRETCH
    frames = []
    for t in range(5):
        image = np.zeros((top + size + 10, left + size + 10, 3), np.uint8)
        image[top + size // 2, left:left + size] = 10 * t + 1       # the profiled row
        image[top + size // 2, left + 3] = 200                      # a marker inside the crop
        image[top + size // 2 - 1, left:left + size] = 99           # a neighbour row: not used
        frames.append(image)
    out = fig.profile(frames, top, left)
    assert out.shape == (5 * stretch, size, 3)
    for t in range(5):
        block = out[t * stretch:(t + 1) * stretch]
        assert (block[:, 3] == 200).all()
        assert (np.delete(block, 3, axis=1) == 10 * t + 1).all()


def _run(args):
    import subprocess
    import sys
    path = os.path.join(REPO_ROOT, "resources", "make_vid4_figure.py")
    return subprocess.run([sys.executable, path] + args, capture_output=True, text=True,
                          timeout=300)


def test_results_entry_without_name_or_folder_is_named():
    fig = _module()
    assert fig.parse_results(["TecoGAN=a/b", "x=y=z"]) == [("TecoGAN", "a/b"), ("x", "y=z")]
    for bad in ("bad", "=dir", "name="):
        try:
            fig.parse_results([bad])
        except fig.UserError as err:
            assert f"'{bad}' is not NAME=DIR" in str(err)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_bad_output_paths_are_one_error_line_before_any_frame_is_read(tmp_path):
    """A folder as --output, or a missing folder for --profile_output: said first (the input
    roots here do not exist, so reading any frame would give another error)."""
    good = str(tmp_path / "fig.png")
    for args, flag in (([f"--output={tmp_path}", f"--profile_output={good}"], "--output"),
                       ([f"--output={good}", f"--profile_output={tmp_path}/no/p.png"],
                        "--profile_output")):
        done = _run(["--lr_root", "/nonexistent", "--hr_root", "/nonexistent",
                     "--results", "x=/nonexistent"] + args)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], \
            done.stderr
        assert "Traceback" not in done.stderr
    assert sorted(os.listdir(tmp_path)) == []
