"""Inference never loses what the user had: bad output paths, other clips' outputs, interrupted
runs, odd inputs. Each CLI case: exit status 2, one ``error:`` line, pre-existing files unchanged."""
import hashlib
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT
from inference_helpers import (inference_config, run_main, save_random_model,
                               write_random_clip)
from lib.errors import UserError
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.infer.prepare import prepare_inference


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("model") / "model"))


def _clip(folder, **kwargs):
    write_random_clip(folder, **kwargs)
    return folder


def _hashes(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                out[os.path.relpath(path, root)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


def _one_error(result):
    lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def _cli(model, clip, out, *extra):
    return run_main(["--input_dir_LR", clip, "--output_dir", out, "--checkpoint", model,
                     "--num_resblock", "2", "--output_ext", "png", "--noprogress"] + list(extra))


def test_output_paths_that_cannot_be_folders(tmp_path, model):
    clip = _clip(str(tmp_path / "clip"))
    (tmp_path / "afile").write_text("keep me")
    before = _hashes(tmp_path)
    line = _one_error(_cli(model, clip, str(tmp_path / "afile")))
    assert "afile" in line and "is a file" in line
    line = _one_error(_cli(model, clip, str(tmp_path / "afile" / "out")))
    assert "afile" in line and "is a file" in line
    line = _one_error(_cli(model, clip, "/proc/tecogan_out"))
    assert "/proc/tecogan_out" in line and "not writable" in line
    assert _hashes(tmp_path) == before


def test_rungan_1_when_results_is_a_file(tmp_path):
    (tmp_path / "results").write_text("my notes")
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "runGan.py"), "1"],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    line = _one_error(result)
    assert "./results" in line and "not a folder" in line
    assert (tmp_path / "results").read_text() == "my notes"


@pytest.mark.parametrize("mode", ["inference", "train", "export"])
def test_num_resblock_zero_or_negative(tmp_path, model, mode):
    clip = _clip(str(tmp_path / "clip"))
    for blocks in ("0", "-3"):
        result = run_main(["--mode", mode, "--input_dir_LR", clip, "--output_dir",
                           str(tmp_path / "o"), "--checkpoint", model, "--num_resblock", blocks])
        assert "--num_resblock must be at least 1" in _one_error(result)
    assert not (tmp_path / "o").exists()


def _png_claiming(path, width, height):
    import struct
    import zlib
    data = bytearray(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    open(path, "wb").write(bytes(data))


def test_huge_and_truncated_png_named_before_any_work(tmp_path, model):
    clip = _clip(str(tmp_path / "clip"))
    _png_claiming(str(tmp_path / "clip" / "0004.png"), 60000, 60000)
    with pytest.raises(UserError, match=r"0004.png' claims 60000x60000 pixels.*OpenCV"):
        prepare_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / "o"),
                                          checkpoint=model, num_resblock=2))
    clip2 = _clip(str(tmp_path / "clip2"))
    data = open(os.path.join(clip2, "0005.png"), "rb").read()
    open(os.path.join(clip2, "0005.png"), "wb").write(data[: len(data) - 30])
    line = _one_error(_cli(model, clip2, str(tmp_path / "o")))
    assert "0005.png" in line and "truncated" in line
    assert not (tmp_path / "o").exists()


def test_other_clip_with_same_names_and_size_is_not_overwritten(tmp_path, model):
    out = str(tmp_path / "out")
    a, b = _clip(str(tmp_path / "a"), seed=1), _clip(str(tmp_path / "b"), seed=2)
    from lib.infer.driver import run_inference
    run_inference(inference_config(input_dir_LR=a, output_dir=out, checkpoint=model,
                                  num_resblock=2))
    before = _hashes(out)
    with pytest.raises(UserError, match="another clip.*--overwrite"):
        run_inference(inference_config(input_dir_LR=b, output_dir=out, checkpoint=model,
                                      num_resblock=2))
    assert _hashes(out) == before
    # --overwrite, but the checkpoint is missing: refused before anything is deleted
    line = _one_error(_cli(str(tmp_path / "nomodel"), b, out, "--overwrite"))
    assert "model/shipped/TecoGAN_ours" in line and "--num_resblock 10" in line
    assert _hashes(out) == before
    run_inference(inference_config(input_dir_LR=b, output_dir=out, checkpoint=model,
                                  num_resblock=2, overwrite=True))
    assert _hashes(out) != before and len(list_frames(out)) == 6


def test_killed_run_leftovers_do_not_block_a_rerun(tmp_path, model):
    from lib.infer.driver import run_inference
    out = tmp_path / "out"
    clip = _clip(str(tmp_path / "clip"))
    run_inference(inference_config(input_dir_LR=clip, output_dir=str(out), checkpoint=model,
                                  num_resblock=2))
    good = read_image_rgb8(str(out / "output_0002.png"))
    # What kill -9 leaves: a half-written temporary and (from older versions) a 0-byte frame.
    (out / "output_0002.png").write_bytes(b"")
    (out / "output_0003.png.partial").write_bytes(b"\x89PNG half")
    os.remove(out / ".tecogan_outputs.json")     # even without the manifest
    run_inference(inference_config(input_dir_LR=clip, output_dir=str(out), checkpoint=model,
                                  num_resblock=2))
    np.testing.assert_array_equal(read_image_rgb8(str(out / "output_0002.png")), good)
    assert not [n for n in os.listdir(out) if n.endswith(".partial")]


def test_frames_appear_only_complete(tmp_path, monkeypatch):
    from lib.io import frame_io
    target = str(tmp_path / "f.png")

    def killed(src, dst):
        raise KeyboardInterrupt        # the process dies between writing and renaming

    monkeypatch.setattr(frame_io.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        frame_io.write_image_rgb8_atomic(target, np.zeros((4, 4, 3), np.uint8))
    # issue 19 (i32): the temporary goes too; only SIGKILL can leave one behind
    assert os.listdir(tmp_path) == []


def test_quiet_cases_of_inputs(tmp_path, model):
    clip = _clip(str(tmp_path / "clip"))
    os.symlink(str(tmp_path / "gone.png"), os.path.join(clip, "0007.png"))
    os.symlink(os.path.join(clip, "loop.png"), os.path.join(clip, "loop.png"))
    os.mkfifo(os.path.join(clip, "0008.png"))
    notes = []
    prepared = prepare_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / "o"),
                                                 checkpoint=model, num_resblock=2),
                                 report=notes.append)
    assert len(prepared.source) == 6 and len(notes) == 1
    for part in ("0007.png (dangling link)", "loop.png (symlink loop)", "0008.png (FIFO)"):
        assert part in notes[0]
    for length in ("0", "-2"):
        line = _one_error(_cli(model, clip, str(tmp_path / "o"), "--input_dir_len", length))
        assert "--input_dir_len must be a positive number" in line
    line = _one_error(_cli(model, clip, str(tmp_path / "o"), "--output_pre", "../../x"))
    assert "leads outside --output_dir" in line
    assert not (tmp_path / "o").exists() and not (tmp_path.parent / "x").exists()


def test_bad_path_is_answered_without_importing_tensorflow(tmp_path):
    code = ("import runpy, sys\n"
            f"sys.argv = ['main.py', '--input_dir_LR', {str(tmp_path / 'nope')!r}, "
            f"'--output_dir', {str(tmp_path / 'o')!r}, '--checkpoint', 'x']\n"
            "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
            "except SystemExit as exit:\n    print('exit', exit.code)\n"
            "print('tensorflow loaded:', 'tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=900)
    assert "exit 2" in result.stdout and "tensorflow loaded: False" in result.stdout
    assert "does not exist" in result.stderr
