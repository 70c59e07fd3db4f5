"""Issue 19: what --overwrite may remove, whose outputs a folder holds, and one run per folder.

Cases nn01/nn01b/nn03 (output folder = input folder), nn04 (damaged manifest), nn11 (another
checkpoint, same clip), nx01 (two runs into one folder). Each refusal: one ``error:`` line (or
one UserError) and every file as it was."""
import json
import os

import pytest

from inference_helpers import inference_config, save_random_model
from lib.errors import UserError
from lib.infer.prepare import prepare_inference
from lock_helpers import hold_folder_lock
from test_output_safety import _cli, _clip, _hashes, _one_error


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("model") / "model"))


def _run(model, clip, out, **extra):
    from lib.infer.driver import run_inference
    return run_inference(inference_config(input_dir_LR=clip, output_dir=out, checkpoint=model,
                                          num_resblock=2, **extra))


def _frames_named_like_outputs(folder, n=3):
    """A clip whose own frames are called output_*.png (what the original wrote)."""
    _clip(folder, n=n)
    for i in range(n):
        os.rename(os.path.join(folder, f"{i + 1:04d}.png"),
                  os.path.join(folder, f"output_{i + 1:04d}.png"))
    return folder


def test_output_folder_that_is_the_input_folder_is_refused(tmp_path, model):
    clip = _frames_named_like_outputs(str(tmp_path / "clip"))
    os.symlink(clip, str(tmp_path / "alias"))
    before = _hashes(tmp_path)
    for out, extra in ((clip, ["--overwrite"]),                 # nn01: inputs were deleted
                       (str(tmp_path / "alias"), ["--overwrite"]),   # nn01b: by another name
                       (clip + "/.", []),                        # nn03: outputs mixed in
                       (clip, ["--output_ext", "mp4"])):
        line = _one_error(_cli(model, clip, out, *extra))
        assert "is the input folder" in line, line
    assert _hashes(tmp_path) == before


def test_output_onto_an_input_frame_is_refused(tmp_path, model):
    clip = _clip(str(tmp_path / "clip"))
    out = tmp_path / "o"
    out.mkdir()
    os.symlink(os.path.join(clip, "0001.png"), str(out / "output_0001.png"))
    before = _hashes(tmp_path)
    with pytest.raises(UserError, match="would be written over the input"):
        prepare_inference(inference_config(input_dir_LR=clip, output_dir=str(out),
                                           checkpoint=model, num_resblock=2, overwrite=True))
    assert _hashes(tmp_path) == before


def test_damaged_manifest_means_unknown_owner(tmp_path, model):
    a, b = _clip(str(tmp_path / "a"), seed=1), _clip(str(tmp_path / "b"), seed=2)
    out = str(tmp_path / "out")
    _run(model, a, out)
    manifest = os.path.join(out, ".tecogan_outputs.json")
    with open(manifest, "w") as handle:
        handle.write('{"output_*.png": {"input": ')             # nn04: cut short
    (tmp_path / "out" / "output_mine.png").write_bytes(b"user file")
    before = _hashes(out)
    with pytest.raises(UserError, match="manifest .* is damaged"):
        _run(model, b, out)
    assert _hashes(out) == before
    # --overwrite: the planned names are replaced, nothing else (not provably ours) is removed
    _run(model, b, out, overwrite=True)
    after = _hashes(out)
    assert after["output_mine.png"] == before["output_mine.png"]
    assert after["output_0001.png"] != before["output_0001.png"]
    assert json.load(open(manifest))["output_*.png"]["input"] == os.path.realpath(b)


def test_overwrite_removes_only_files_the_manifest_lists(tmp_path, model):
    a = _clip(str(tmp_path / "a"), n=6, seed=1)
    b = _clip(str(tmp_path / "b"), n=3, seed=2)
    out = tmp_path / "out"
    _run(model, a, str(out))
    (out / "output_notes.png").write_bytes(b"user file, same prefix")
    (out / "model.index").write_bytes(b"a checkpoint")
    manifest = out / ".tecogan_outputs.json"
    records = json.loads(manifest.read_text())      # a tampered list must not widen the removal
    records["output_*.png"]["files"] += ["model.index", "../a/0001.png"]
    manifest.write_text(json.dumps(records))
    _run(model, b, str(out), overwrite=True)
    left = sorted(os.listdir(out))
    assert "output_notes.png" in left and "model.index" in left
    assert "output_0004.png" not in left and "output_0003.png" in left   # a's frame 4-6 went
    assert len(os.listdir(a)) == 6


def test_another_checkpoint_for_the_same_clip_is_another_run(tmp_path, model):
    other = save_random_model(str(tmp_path / "m2" / "model"), seed=7)
    clip = _clip(str(tmp_path / "clip"))
    out = str(tmp_path / "out")
    _run(model, clip, out)
    _run(model, clip, out)                  # the same run again (a rerun after a kill): fine
    before = _hashes(out)
    with pytest.raises(UserError, match="made by another run .*checkpoint"):   # nn11
        _run(other, clip, out)
    assert _hashes(out) == before
    _run(other, clip, out, overwrite=True)
    assert _hashes(out)["output_0001.png"] != before["output_0001.png"]


def test_second_run_into_a_locked_folder_is_refused(tmp_path, model):
    clip = _clip(str(tmp_path / "clip"))
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_folder_lock(str(out))
    try:
        before = _hashes(out)
        with pytest.raises(UserError, match=rf"another run \(PID {holder.pid} on .*is using"):
            _run(model, clip, str(out))
        assert _hashes(out) == before
    finally:
        holder.kill()                        # dies holding it: the lock file stays behind
        holder.wait()
    assert os.path.exists(out / ".tecogan.lock")
    _run(model, clip, str(out))             # stale: taken over (with a note), then released
    assert not os.path.exists(out / ".tecogan.lock")
    assert len([n for n in os.listdir(out) if n.endswith(".png")]) == 6


def test_a_run_that_checked_before_another_finished_checks_again(tmp_path, model):
    """nx01: both runs pass the early checks on an empty folder; the later one is refused when
    its first frame is ready, under the folder's lock."""
    from lib.infer.driver import run_inference
    a, b = _clip(str(tmp_path / "a"), seed=1), _clip(str(tmp_path / "b"), seed=2)
    out = str(tmp_path / "out")
    config_b = inference_config(input_dir_LR=b, output_dir=out, checkpoint=model, num_resblock=2)
    prepared_b = prepare_inference(config_b)
    _run(model, a, out)
    outputs = lambda: {k: v for k, v in _hashes(out).items() if not k.startswith("log/")}
    before = outputs()           # the log file (appended to) also tells of the refused run
    with pytest.raises(UserError, match="another clip"):
        run_inference(config_b, prepared_b)
    assert outputs() == before


def test_full_disk_mid_run_is_one_error_and_leaves_no_temporary(tmp_path, model, monkeypatch):
    """i32: the disk fills while frame 3 is written: one UserError, frames 1-2 kept whole, no
    temporary of this run left; the rerun after freeing space completes the clip."""
    import errno
    from lib.io import atomic
    clip = _clip(str(tmp_path / "clip"))
    out = tmp_path / "out"
    real_write_bytes, calls = atomic.write_bytes, []

    def filling(path, data, fsync=True):
        calls.append(path)
        if len(calls) == 3:
            with atomic.atomic_file(path) as handle:
                handle.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_bytes(path, data, fsync)
    monkeypatch.setattr(atomic, "write_bytes", filling)
    with pytest.raises(UserError, match="no space left on the device for .*output_0003.png"):
        _run(model, clip, str(out))
    left = sorted(os.listdir(out))
    assert [n for n in left if "partial" in n or n.startswith(".tecogan.lock")] == []
    assert "output_0001.png" in left and "output_0003.png" not in left
    monkeypatch.undo()
    _run(model, clip, str(out))
    assert len([n for n in os.listdir(out) if n.endswith(".png")]) == 6


def test_video_output_through_a_unique_temporary(tmp_path, monkeypatch):
    from lib.io import video_io
    (tmp_path / "clip.mp4.partial").write_text("a user's file of the old temporary name")
    seen = []
    real_popen = video_io.subprocess.Popen
    monkeypatch.setattr(video_io.subprocess, "Popen",
                        lambda cmd, **kw: seen.append(cmd[-1]) or real_popen(cmd, **kw))
    import numpy as np
    with video_io.VideoWriter(str(tmp_path / "clip.mp4"), 25, 16, 16, crf=0) as writer:
        writer.write(np.zeros((16, 16, 3), np.uint8))
    target = [c for c in seen if c.endswith(".partial")]
    assert len(target) == 1 and os.path.basename(target[0]).startswith(".clip.mp4.")
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "clip.mp4.partial"]
    assert (tmp_path / "clip.mp4.partial").read_text().startswith("a user's file")


@pytest.mark.parametrize("signal_name, inside_tensorflow", [("SIGTERM", False), ("SIGINT", True)])
def test_a_kill_mid_run_releases_the_folder_and_leaves_no_temporary(tmp_path, model, signal_name,
                                                                     inside_tensorflow):
    """SIGTERM or Ctrl+C during the clip ends the run with exit 130: frames written so far are
    whole, no temporary, no lock file; the rerun completes the clip. A signal that lands inside
    TensorFlow's code waits for the frame to finish (lib/interrupts.py)."""
    import subprocess
    import sys
    from conftest import REPO_ROOT
    clip = _clip(str(tmp_path / "clip"))
    out = str(tmp_path / "out")
    code = f"""
import os, signal, sys
import tensorflow as tf
sys.path.insert(0, {REPO_ROOT!r})
from lib.errors import run_cli
from lib.infer import driver
from inference_helpers import inference_config
real, steps = driver._recurrent_step, []
def step(*args):
    steps.append(1)
    if len(steps) == 8:           # the third frame of the clip (after 5 warm-up steps)
        kill = lambda _: os.kill(os.getpid(), signal.{signal_name})
        tf.nest.map_structure(kill, [0]) if {inside_tensorflow} else kill(0)
    return real(*args)
driver._recurrent_step = step
run_cli(driver.run_inference, inference_config(input_dir_LR={clip!r}, output_dir={out!r},
        checkpoint={model!r}, num_resblock=2))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=900, cwd=os.path.join(REPO_ROOT, "tests"))
    assert result.returncode == 130 and "interrupted" in result.stderr, result.stderr[-2000:]
    assert ("inference stops when this frame is done" in result.stderr) == inside_tensorflow
    left = os.listdir(out)
    assert [n for n in left if "partial" in n or "lock" in n] == []
    assert len([n for n in left if n.endswith(".png")]) < 6
    _run(model, clip, out)
    assert len([n for n in os.listdir(out) if n.endswith(".png")]) == 6
