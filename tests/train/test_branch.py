"""``python3 -m lib.train.branch``: a new run folder from step N of another run.

Training the branch must continue exactly as the run did from step N (bit for bit, deterministic
ops), the source must stay as it was, and bad input (a step not on disk, a damaged checkpoint, a
folder in the way, no run at all) must be one clear error with nothing written.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from train_helpers import make_scenes, tiny_configs

from lib.errors import UserError
from lib.train.branch import branch_run

GAN = dict(ratio=0.01, pingpang=True, pp_scaling=0.5, max_iter=4, save_freq=2, display_freq=2,
           learning_rate=1e-3, deterministic=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny deterministic TecoGAN run of 4 steps with state checkpoints at 0, 2 and 4."""
    from tensorflow.python.framework import config as tf_config

    from lib.train.trainer import train
    scenes = make_scenes(str(tmp_path_factory.mktemp("scenes")), "bikes.mp4", count=3, frames=6,
                         size=(64, 56))
    out = str(tmp_path_factory.mktemp("source") / "run")
    try:
        train(*tiny_configs(scenes, out, **GAN), log=lambda *a: None)
    finally:
        tf_config.disable_op_determinism()
    return scenes, out


def _tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _snapshot(folder):
    """Every file under ``folder`` with its bytes' size and modification time."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = (os.path.getsize(path),
                                                     os.stat(path).st_mtime_ns)
    return found


def test_a_branch_continues_exactly_as_the_run_did(run, tmp_path):
    from tensorflow.python.framework import config as tf_config

    from lib.train.trainer import train
    scenes, source = run
    before = _snapshot(source)
    target = str(tmp_path / "branch")
    assert branch_run(source, target, step=2) == 2
    assert _snapshot(source) == before                  # only read
    assert sorted(os.listdir(os.path.join(target, "state"))) == [
        "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    messages = []
    try:
        train(*tiny_configs(scenes, target, **GAN), log=messages.append)
    finally:
        tf_config.disable_op_determinism()
    assert any("resumed from" in m and "ckpt-2" in m for m in messages)
    straight = _tensors(os.path.join(source, "state", "ckpt-4"))
    branched = _tensors(os.path.join(target, "state", "ckpt-4"))
    assert straight.keys() == branched.keys() and len(straight) > 150
    different = [k for k in straight if not np.array_equal(straight[k], branched[k])]
    assert not different, different[:5]
    # the run.json history: the source's start, the branch; an unchanged resume adds nothing
    history = _run_file(target)["history"]
    assert [(h["event"], h["step"]) for h in history] == [("start", 0), ("branch", 2)]
    assert history[0]["from"] is None and history[0]["pre_trained_model"] is False
    assert history[1]["from"] == os.path.abspath(source)


def _run_file(folder):
    with open(os.path.join(folder, "run.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_a_resume_with_changed_settings_is_kept_in_the_history(run, tmp_path):
    from tensorflow.python.framework import config as tf_config

    from lib.train.trainer import train
    scenes, source = run
    target = str(tmp_path / "branch")
    branch_run(source, target, step=2)
    messages = []
    try:
        train(*tiny_configs(scenes, target, **dict(GAN, learning_rate=5e-4, max_iter=3)),
              log=messages.append)
    finally:
        tf_config.disable_op_determinism()
    assert any("changed settings" in m and "learning_rate 0.001 -> 0.0005" in m for m in messages)
    identity = _run_file(target)
    assert identity["settings"]["learning_rate"] == 5e-4
    resume = identity["history"][-1]
    assert [h["event"] for h in identity["history"]] == ["start", "branch", "resume"]
    assert resume["step"] == 2 and resume["changed"] == {"learning_rate": [1e-3, 5e-4]}
    assert resume["time"].endswith("+00:00")                      # UTC, ISO 8601


def test_the_newest_step_by_default_and_an_empty_target_folder_is_used(run, tmp_path):
    _, source = run
    target = tmp_path / "empty"
    target.mkdir()
    assert branch_run(source, str(target)) == 4
    with open(target / "state" / "checkpoint") as handle:
        assert handle.readline().strip() == 'model_checkpoint_path: "ckpt-4"'
    branched, original = _run_file(target), _run_file(source)
    assert branched.pop("history")[-1]["event"] == "branch"
    assert original.pop("history")[-1]["event"] == "start"
    assert branched == original                     # structure and settings as they were


def test_bad_input_is_refused_and_nothing_is_written(run, tmp_path):
    _, source = run
    with pytest.raises(UserError, match=r"no ckpt-3; it has steps 0, 2, 4"):
        branch_run(source, str(tmp_path / "a"), step=3)
    with pytest.raises(UserError, match="is the run itself"):
        branch_run(source, source, step=2)
    with pytest.raises(UserError, match="not a training run folder"):
        branch_run(str(tmp_path), str(tmp_path / "b"))
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not an empty folder"):
        branch_run(source, str(occupied), step=2)
    assert os.listdir(occupied) == ["notes.txt"]
    # a checkpoint whose data file was cut short (a full disk, a copy) is refused
    damaged = str(tmp_path / "damaged_run")
    shutil.copytree(source, damaged)
    data = os.path.join(damaged, "state", "ckpt-2.data-00000-of-00001")
    with open(data, "r+b") as handle:
        handle.truncate(os.path.getsize(data) // 2)
    with pytest.raises(UserError, match="cannot be read whole"):
        branch_run(damaged, str(tmp_path / "c"), step=2)
    # a run.json that is not JSON (its history could not be extended) is refused too
    garbled = str(tmp_path / "garbled_run")
    shutil.copytree(source, garbled)
    with open(os.path.join(garbled, "run.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(UserError, match="run.json' is unreadable"):
        branch_run(garbled, str(tmp_path / "d"), step=2)
    # JSON of another shape: its history cannot be extended either
    for content in ("[]", "null", '{"history": "abc"}', '{"settings": 5}'):
        with open(os.path.join(garbled, "run.json"), "w") as handle:
            handle.write(content)
        with pytest.raises(UserError, match="run.json' is unreadable"):
            branch_run(garbled, str(tmp_path / "d"), step=2)
    # a target inside the source would write into the run a branch only reads
    before = _snapshot(source)
    for inside in ("sub", "state/ckpt-9.index"):
        with pytest.raises(UserError, match="is inside the run"):
            branch_run(source, os.path.join(source, inside), step=2)
    assert _snapshot(source) == before
    # a folder name TensorFlow would read as a file pattern: its checkpoints are never declared
    # damaged (they are not), the name is refused
    patterned = str(tmp_path / "run[1]")
    shutil.copytree(source, patterned)
    with pytest.raises(UserError, match=r"--from '.*run\[1\]' holds \["):
        branch_run(patterned, str(tmp_path / "e"), step=2)
    with pytest.raises(UserError, match=r"--to '.*f\*' holds \*"):
        branch_run(source, str(tmp_path / "f*"), step=2)
    assert sorted(os.listdir(tmp_path)) == ["damaged_run", "garbled_run",
                                            "occupied", "run[1]"]   # no half folders


def test_the_command_line_gives_one_error_line(run, tmp_path):
    _, source = run
    result = subprocess.run(["python3", "-m", "lib.train.branch", "--from", source, "--step",
                             "7", "--to", str(tmp_path / "x")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --step 7: '{source}/state' has no ckpt-7; it has steps 0, 2, 4"]
    assert not os.path.exists(tmp_path / "x")
