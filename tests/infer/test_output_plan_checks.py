"""OutputPlan's up-front checks (no TensorFlow): a shorter rerun, the user's files under planned
names, colliding input names, folders and over-long names where outputs go. Each refusal is one
UserError before anything on disk changes."""
import os

import numpy as np
import pytest

from conftest import REPO_ROOT
from inference_helpers import run_main, write_random_clip
from lib.errors import UserError
from lib.io.frame_source import open_source
from lib.io.output_plan import OutputPlan, input_identity
from test_output_safety import _hashes, _one_error

SHIPPED = os.path.join(REPO_ROOT, "model", "shipped", "TecoGAN_ours")   # present: only named


def _plan(clip, out, overwrite=False, length=-1, ext="png", name="output"):
    source = open_source(clip, None, length)
    return OutputPlan(out, name, ext, source, overwrite,
                      input_identity(source, SHIPPED, 10)), source


def _write_all(clip, out, length=-1):
    """What a completed run leaves: every frame (zeros of the output size) and the manifest."""
    plan, source = _plan(clip, out, length=length)
    for name in source.names:
        plan.write_frame(name, np.zeros((plan.hr_size[1], plan.hr_size[0], 3), np.uint8))
    plan.close()


def _outputs(out):
    return sorted(n for n in os.listdir(out) if n.endswith(".png"))


def test_shorter_rerun_of_the_same_input_keeps_the_earlier_outputs(tmp_path):
    clip, out = str(tmp_path / "clip"), str(tmp_path / "out")
    write_random_clip(clip, n=6)
    _write_all(clip, out)
    before = _hashes(out)
    with pytest.raises(UserError, match=r"holds 3 recorded outputs of an earlier run of this "
                                        r"input \(6 frames\).*3 frames.*output_0006.png.*"
                                        r"--overwrite removes them"):
        _plan(clip, out, length=3)
    os.remove(os.path.join(clip, "0006.png"))       # the same path, now a shorter clip
    with pytest.raises(UserError, match="holds 1 recorded output of an earlier run"):
        _plan(clip, out)
    assert _hashes(out) == before
    plan, _ = _plan(clip, out, length=3, overwrite=True)
    plan.begin()                                    # --overwrite: removed as before
    plan.close()
    assert _outputs(out) == ["output_0001.png", "output_0002.png", "output_0003.png"]
    _write_all(clip, out, length=3)                 # the same shorter run again: fine
    _write_all(clip, out)                           # a longer one adds frames: fine


def test_shorter_rerun_is_one_error_line(tmp_path):
    clip, out = str(tmp_path / "clip"), str(tmp_path / "out")
    write_random_clip(clip, n=4)
    _write_all(clip, out)
    before = _hashes(out)
    line = _one_error(run_main(["--input_dir_LR", clip, "--output_dir", out, "--checkpoint",
                                SHIPPED, "--num_resblock", "10", "--output_ext", "png",
                                "--input_dir_len", "2", "--noprogress"]))
    assert "2 recorded outputs" in line and "--overwrite removes them" in line, line
    assert _hashes(out) == before


def test_users_files_under_planned_names_without_a_manifest(tmp_path):
    clip, out = str(tmp_path / "clip"), tmp_path / "out"
    write_random_clip(clip, n=3, size=(12, 8))
    out.mkdir()
    (out / "output_0001.png").write_text("my notes, not a frame")
    with pytest.raises(UserError, match=r"'output_0001.png', not an image this run could have"):
        _plan(clip, str(out))
    import cv2
    cv2.imwrite(str(out / "output_0001.png"), np.zeros((32, 48, 3), np.uint8))   # ours: size
    cv2.imwrite(str(out / "output_0002.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(UserError, match=r"'output_0002.png', an image of 10x10, not of this "
                                        r"run's 48x32"):
        _plan(clip, str(out))
    (out / "output_0002.png").write_bytes(b"")  # what a killed pre-atomic version left: ours
    _plan(clip, str(out))[0].close()
    _plan(clip, str(out), overwrite=True)[0].close()    # --overwrite replaces the user's file


def test_input_frames_that_would_share_an_output_name(tmp_path):
    clip = str(tmp_path / "clip")
    write_random_clip(clip, n=3)
    os.rename(os.path.join(clip, "0002.png"), os.path.join(clip, "0002.PNG"))
    write_random_clip(str(tmp_path / "more"), n=3)
    os.rename(str(tmp_path / "more" / "0002.png"), os.path.join(clip, "0002.png"))
    with pytest.raises(UserError, match=r"frames '0002.PNG' and '0002.png' .*same output name"):
        open_source(clip, None)
    open_source(clip, None, 2)              # only 0001 and the first 0002: no collision
    os.remove(os.path.join(clip, "0002.PNG"))
    os.rename(os.path.join(clip, "0003.png"), os.path.join(clip, "A0003.png"))
    os.rename(str(tmp_path / "more" / "0003.png"), os.path.join(clip, "a0003.png"))
    with pytest.raises(UserError, match=r"'A0003.png' and 'a0003.png'"):
        open_source(clip, None)


def test_planned_outputs_that_are_folders(tmp_path):
    clip, out = str(tmp_path / "clip"), tmp_path / "out"
    write_random_clip(clip, n=3)
    (out / "output_clip.mp4").mkdir(parents=True)
    for overwrite in (False, True):
        with pytest.raises(UserError, match=r"output_clip.mp4' exists and is a folder"):
            _plan(clip, str(out), ext="mp4", overwrite=overwrite)
    (out / "output_0002.png").mkdir()
    with pytest.raises(UserError, match=r"output_0002.png' exists and is a folder"):
        _plan(clip, str(out), overwrite=True)
    assert sorted(os.listdir(out)) == ["output_0002.png", "output_clip.mp4"]


def test_names_too_long_for_the_file_system(tmp_path):
    clip, out = str(tmp_path / "clip"), str(tmp_path / "out")
    write_random_clip(clip, n=3)
    name_max = os.pathconf(str(tmp_path), "PC_NAME_MAX")
    # the final name fits (output_name + "_0001.png"), its temporary does not
    long_name = "n" * (name_max - len("_0001.png"))
    with pytest.raises(UserError, match=r"too long: written under a temporary name .*"
                                        r"shorter --output_name \(at most 228 bytes"):
        _plan(clip, out, name=long_name)
    _plan(clip, out, name="n" * 228)[0].close()
    with pytest.raises(UserError, match="folder name .* more than the"):
        _plan(clip, os.path.join(out, "d" * (name_max + 1)))
    assert not os.path.exists(out)
