"""Training after accidents: damaged frames, damaged or half-written checkpoints, unusable output
folders, --max_iter at or below the saved step. Each ends in one ``error:`` line (exit status 2)
or a logged recovery, and leaves every file the user had byte-identical.

Scenes are random 60x60 images made here (no shared data needed); runs are a few tiny steps.
"""
import os
import shutil

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli, tree_hashes
from train_helpers import tiny_configs

TRAIN = ["main.py", "--mode", "train", "--str_dir", "2000", "--end_dir", "2001",
         "--end_dir_val", "1999", "--max_frm", "5", "--RNN_N", "3", "--crop_size", "8",
         "--batch_size", "2", "--num_resblock", "1", "--ratio", "-0.01", "--learning_rate", "5e-4",
         "--decay_rate", "1.0", "--stair", "--display_freq", "1000", "--summary_freq", "1000",
         "--notest_inference", "--nogif_summaries", "--queue_thread", "1", "--deterministic"]


def make_data(root):
    import cv2
    rng = np.random.default_rng(3)
    for scene in (2000, 2001):
        folder = os.path.join(root, f"scene_{scene:04d}")
        os.makedirs(folder)
        base = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
        for f in range(6):
            cv2.imwrite(os.path.join(folder, f"col_high_{f:04d}.png"),
                        np.roll(base, (f, 2 * f), axis=(0, 1)))
    return root


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory):
    return make_data(str(tmp_path_factory.mktemp("scenes")))


@pytest.fixture
def data(clean_data, tmp_path):
    """A private copy that a test may damage."""
    return shutil.copytree(clean_data, str(tmp_path / "data"))


def tensors(prefix):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


# -- frames ---------------------------------------------------------------------------------------

def test_truncated_frame_is_refused_before_any_work(data, tmp_path):
    frame = os.path.join(data, "scene_2001", "col_high_0004.png")
    with open(frame, "rb") as handle:
        raw = handle.read()
    with open(frame, "wb") as handle:
        handle.write(raw[:len(raw) // 2])
    before = tree_hashes(data)
    out = tmp_path / "run"
    status, stdout, stderr = run_cli(TRAIN + ["--input_video_dir", data, "--output_dir", out,
                                              "--max_iter", "2"])
    assert_one_error(status, stdout, stderr, f"training frame '{frame}' is truncated")
    assert tree_hashes(data) == before
    assert not out.exists()                    # refused before the run folder was made


def test_frames_of_another_size_or_empty_are_refused(data, tmp_path):
    import cv2

    from lib.errors import UserError
    from lib.train.trainer import train
    odd = os.path.join(data, "scene_2000", "col_high_0003.png")
    cv2.imwrite(odd, np.zeros((60, 64, 3), np.uint8))
    with pytest.raises(UserError, match="col_high_0003.png' is 64x60 but col_high_0000.png"):
        train(*tiny_configs(data, str(tmp_path / "a")), log=lambda *a: None)
    open(odd, "wb").close()
    with pytest.raises(UserError, match="col_high_0003.png' is not a PNG image"):
        train(*tiny_configs(data, str(tmp_path / "b")), log=lambda *a: None)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_frame_damaged_inside_names_the_file_during_training(data, tmp_path):
    # damage inside the image data: header and end marker intact, so only decoding finds it
    frame = os.path.join(data, "scene_2000", "col_high_0002.png")
    with open(frame, "rb") as handle:
        raw = bytearray(handle.read())
    middle = len(raw) // 2
    raw[middle:middle + 32] = bytes(32)
    with open(frame, "wb") as handle:
        handle.write(raw)
    before = tree_hashes(data)
    out = str(tmp_path / "run")
    # no moving first frame: every sequence holding frame 2 decodes it (3 of the 8 per epoch)
    status, stdout, stderr = run_cli(TRAIN + ["--input_video_dir", data, "--output_dir", out,
                                              "--max_iter", "8", "--save_freq", "1",
                                              "--nomovingFirstFrame"])
    line = assert_one_error(status, stdout, stderr,
                            f"training frame '{frame}' cannot be decoded (Invalid PNG data",
                            "replace it or remove its scene", "the last checkpoint is")
    assert "Optimization starts" in stdout        # found mid-training, not at the start
    assert tree_hashes(data) == before
    saved = line.split("the last checkpoint is '")[1].split("'")[0]
    assert os.path.exists(saved + ".index")


# -- checkpoints ----------------------------------------------------------------------------------

def train_in_process(data, out, messages=None, **overrides):
    """The trainer in this process (one TensorFlow start for several runs), deterministic."""
    from tensorflow.python.framework import config as tf_config

    from lib.train.trainer import train
    kw = dict(max_iter=4, save_freq=2, display_freq=1000, learning_rate=5e-4,
              deterministic=True, queue_thread=1)
    kw.update(overrides)
    try:
        return train(*tiny_configs(data, str(out), end_dir_val=1999, **kw),
                     log=(messages.append if messages is not None else lambda *a: None))
    finally:
        tf_config.disable_op_determinism()


@pytest.fixture(scope="module")
def straight(clean_data, tmp_path_factory):
    """4 steps in one go: the reference for the recovered runs."""
    out = str(tmp_path_factory.mktemp("straight") / "run")
    train_in_process(clean_data, out)
    return out


def test_truncated_checkpoint_falls_back_and_interrupted_save_is_cleaned(clean_data, straight,
                                                                          tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(straight, out)
    data_file = os.path.join(out, "state", "ckpt-4.data-00000-of-00001")
    with open(data_file, "rb") as handle:
        raw = handle.read()
    with open(data_file, "wb") as handle:
        handle.write(raw[:len(raw) // 2])
    damaged = tree_hashes(data_file, os.path.join(out, "state", "ckpt-4.index"))
    # what a kill during a save leaves behind
    os.makedirs(os.path.join(out, "state", "ckpt-6_temp"))
    with open(os.path.join(out, "state", "ckpt-6_temp", "part-00000-of-00001.index"), "wb") as h:
        h.write(b"half")
    messages = []
    train_in_process(clean_data, out, messages)
    text = "\n".join(messages)
    assert "removed 1 leftover(s) of a save that was interrupted: state/ckpt-6_temp" in text
    assert f"checkpoint '{out}/state/ckpt-4' is damaged" in text
    assert f"resumed from '{out}/state/ckpt-2' at step 2" in text
    assert not os.path.exists(os.path.join(out, "state", "ckpt-6_temp"))
    # the damaged files are kept, unchanged, out of the way
    kept = {os.path.join(out, "state", "damaged", os.path.basename(p)): h
            for p, h in damaged.items()}
    assert tree_hashes(*kept) == kept
    # and the recovered run ends exactly where the uninterrupted one did
    a, b = tensors(os.path.join(straight, "state", "ckpt-4")), \
        tensors(os.path.join(out, "state", "ckpt-4"))
    assert a.keys() == b.keys() and len(a) > 50
    assert [k for k in a if not np.array_equal(a[k], b[k])] == []


def test_max_iter_at_or_below_the_saved_step(clean_data, straight, tmp_path):
    before = tree_hashes(straight)
    status, stdout, stderr = run_cli(TRAIN + ["--input_video_dir", clean_data, "--output_dir",
                                              straight, "--max_iter", "3"])
    assert_one_error(status, stdout, stderr, "--max_iter 3 is below step 4",
                     "give --max_iter above 4")
    assert tree_hashes(straight) == before
    messages = []
    trainer = train_in_process(clean_data, straight, messages, max_iter=4)
    assert trainer.final_step == 4 and trainer.history == []
    assert any("at step 4 = --max_iter already: nothing to do" in m for m in messages)
    assert tree_hashes(straight) == before


# -- output folders -------------------------------------------------------------------------------

def _blocked_outputs(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"user data")
    return {"file": (blocker, "it is a file, not a folder"),
            "parent_file": (blocker / "run", f"'{blocker}' is a file, not a folder"),
            "proc": ("/proc/x/out", "No such file or directory")}


def test_unusable_output_dir(clean_data, tmp_path):
    from lib.errors import UserError
    from lib.train.trainer import train
    cases = _blocked_outputs(tmp_path)
    before = tree_hashes(tmp_path, clean_data)
    out, reason = cases["proc"]
    status, stdout, stderr = run_cli(TRAIN + ["--input_video_dir", clean_data, "--output_dir",
                                              out, "--max_iter", "2"])
    assert_one_error(status, stdout, stderr, f"cannot create the --output_dir folder '{out}'",
                     reason)
    for case in ("file", "parent_file"):
        out, reason = cases[case]
        with pytest.raises(UserError) as err:
            train(*tiny_configs(clean_data, str(out)), log=lambda *a: None)
        assert f"cannot create the --output_dir folder '{out}'" in str(err.value)
        assert reason in str(err.value)
    # --summary_dir too (the run folder itself is fine: left as it was, i.e. not created)
    summary = tmp_path / "ok_run" / "log_is_a_file"
    summary.parent.mkdir()
    summary.write_bytes(b"user data")
    with pytest.raises(UserError, match="cannot create the --summary_dir folder"):
        train(*tiny_configs(clean_data, str(tmp_path / "new_run"), summary_dir=str(summary)),
              log=lambda *a: None)
    assert not (tmp_path / "new_run").exists()
    assert {p: h for p, h in tree_hashes(tmp_path, clean_data).items() if p in before} == before


def test_damaged_checkpoint_index_is_set_aside_and_rebuilt(clean_data, straight, tmp_path):
    """nt26: a damaged ``state/checkpoint`` (binary junk, text junk, empty) is moved to
    ``state/damaged/`` and rebuilt from the checkpoints on disk, with one log line."""
    import tensorflow as tf
    for case, junk in {"binary": b"\xff\xfe\x00garbage\x80", "text": b"not a state {",
                       "empty": b""}.items():
        out = str(tmp_path / case)
        shutil.copytree(straight, out)
        index = os.path.join(out, "state", "checkpoint")
        with open(index, "wb") as handle:
            handle.write(junk)
        messages = []
        trainer = train_in_process(clean_data, out, messages)      # at --max_iter: no steps
        assert trainer.final_step == 4
        lines = [m for m in messages if "checkpoint index" in m]
        assert len(lines) == 1 and "is damaged" in lines[0], messages
        assert "rebuilt from the 3 checkpoint(s) on disk" in lines[0]     # steps 0, 2, 4
        with open(os.path.join(out, "state", "damaged", "checkpoint"), "rb") as handle:
            assert handle.read() == junk
        state = tf.train.get_checkpoint_state(os.path.join(out, "state"))
        assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == \
            ["ckpt-0", "ckpt-2", "ckpt-4"]
        assert os.path.basename(state.model_checkpoint_path) == "ckpt-4"


def test_damaged_checkpoint_index_cli_resumes(clean_data, straight, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(straight, out)
    with open(os.path.join(out, "state", "checkpoint"), "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n\xff\xff")
    status, stdout, stderr = run_cli(TRAIN + ["--input_video_dir", clean_data, "--output_dir",
                                              out, "--max_iter", "4", "--save_freq", "2"])
    assert status == 0 and "Traceback" not in stdout + stderr, stdout + stderr
    assert "checkpoint index" in stdout and "nothing to do" in stdout


def test_damaged_state_file_of_a_checkpoint_folder_is_one_error(straight, tmp_path):
    """The run folder's TF1 ``checkpoint`` file, read when a folder is given as --checkpoint."""
    from lib.errors import UserError
    from lib.models.checkpoint import resolve_checkpoint
    from lib.train.run_folder import find_state_for
    folder = str(tmp_path / "run")
    shutil.copytree(straight, folder)
    for name in ("checkpoint", os.path.join("state", "checkpoint")):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(b"\xff\xfe junk")
    before = tree_hashes(folder)
    with pytest.raises(UserError, match="'checkpoint' file of checkpoint folder .* is damaged"):
        resolve_checkpoint(folder)
    # --checkpoint <run folder> for training: the newest state checkpoint on disk
    assert find_state_for(folder) == os.path.join(folder, "state", "ckpt-4")
    assert tree_hashes(folder) == before


def test_full_disk_during_a_save_is_undone_and_the_rerun_resumes_exactly(clean_data, straight,
                                                                         tmp_path, monkeypatch):
    """nt11: the disk fills up while model-4 is written (after state/ckpt-4 was): one error,
    the save of step 4 undone (no file naming a missing one), and after freeing space the rerun
    resumes from step 2 and ends exactly as the uninterrupted run."""
    import errno

    import tensorflow as tf

    import lib.train.trainer as trainer_module
    from lib.errors import UserError
    real_save_official = trainer_module.save_official

    def full_disk_at_step_4(variables, prefix, **kwargs):
        if prefix.endswith("model-4"):
            with open(prefix + ".data-00000-of-00001", "wb") as handle:
                handle.write(b"half of a model")         # what the failed write left
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save_official(variables, prefix, **kwargs)

    out = str(tmp_path / "run")
    monkeypatch.setattr(trainer_module, "save_official", full_disk_at_step_4)
    with pytest.raises(UserError) as err:
        train_in_process(clean_data, out)
    message = str(err.value)
    assert message.startswith(f"no space left on device while writing the checkpoint of step 4 "
                              f"in '{out}'; free space and rerun: the same command;")
    assert f"resumes from the last checkpoint '{out}/state/ckpt-2' (step 2)" in message
    assert sorted(n for n in os.listdir(os.path.join(out, "state"))
                  if not n.startswith("ckpt-0")) == \
        ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
    assert not [n for n in os.listdir(out) if n.startswith("model-4")]
    state = tf.train.get_checkpoint_state(os.path.join(out, "state"))
    assert all(os.path.exists(p + ".index") for p in state.all_model_checkpoint_paths)
    assert os.path.basename(state.model_checkpoint_path) == "ckpt-2"
    assert tf.train.latest_checkpoint(out) == os.path.join(out, "model-2")

    monkeypatch.setattr(trainer_module, "save_official", real_save_official)   # space freed
    messages = []
    train_in_process(clean_data, out, messages)
    assert any(f"resumed from '{out}/state/ckpt-2' at step 2" in m for m in messages), messages
    a, b = tensors(os.path.join(straight, "state", "ckpt-4")), \
        tensors(os.path.join(out, "state", "ckpt-4"))
    assert [k for k in a if not np.array_equal(a[k], b[k])] == []
    assert os.path.exists(os.path.join(out, "model-4.index"))


def test_full_disk_elsewhere_in_the_run_is_one_error(clean_data, straight, tmp_path,
                                                     monkeypatch):
    """A full disk while the run writes anything else (here the source copies) is one error
    saying where the rerun resumes; run.json is written whole or not at all."""
    import errno

    import lib.train.trainer as trainer_module
    from lib.errors import UserError
    out = str(tmp_path / "run")
    shutil.copytree(straight, out)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(trainer_module, "copy_sources", full)
    with pytest.raises(UserError) as err:
        train_in_process(clean_data, out, max_iter=6)
    assert str(err.value) == (f"no space left on device while writing into the run folder "
                              f"'{out}'; free space and rerun: the same command; training "
                              f"resumes from the last checkpoint '{out}/state/ckpt-4' (step 4)")


def test_a_checkpoint_path_read_as_a_pattern_is_never_set_aside_as_damaged(tmp_path):
    """TensorFlow matches checkpoint prefixes as file patterns, so a healthy checkpoint in
    'run[1]' reads as missing; the resume must refuse the name, not move every checkpoint into
    state/damaged/ (what it did before the check)."""
    import tensorflow as tf

    from lib.errors import UserError
    from lib.train.state_checkpoints import resumable_checkpoint
    run = tmp_path / "run[1]"
    tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(str(run / "state" / "ckpt-3"))
    before = tree_hashes(str(run))
    with pytest.raises(UserError, match=r"holds \[: TensorFlow reads checkpoint paths"):
        resumable_checkpoint(str(run), log=lambda *a: None)
    assert tree_hashes(str(run)) == before


def test_a_resume_that_keeps_fewer_checkpoints_says_which_it_will_remove(clean_data, straight,
                                                                         tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(straight, out)              # state/ckpt-0, 2 and 4
    messages = []
    train_in_process(clean_data, out, messages, max_iter=6, keep_checkpoints=1)
    note = [m for m in messages if m.startswith("note: --keep_checkpoints 1")]
    assert note and "holds 3 checkpoints: the next save removes steps 0, 2, 4 (" in note[0]
    assert sorted(os.listdir(os.path.join(out, "state"))) == [
        "checkpoint", "ckpt-6.data-00000-of-00001", "ckpt-6.index"]   # as the note said
    assert sorted(n for n in os.listdir(out) if n.startswith("model-")) == [
        "model-6.data-00000-of-00001", "model-6.index"]
    messages.clear()
    train_in_process(clean_data, out, messages, max_iter=8, keep_checkpoints=1)
    assert not any("--keep_checkpoints" in m for m in messages)   # nothing more to remove
