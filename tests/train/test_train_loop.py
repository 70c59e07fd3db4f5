"""The training loop on real scenes: losses, checkpoints, summaries, resume, Ctrl+C, NaN, bad input.

Scenes are cut from ../shared/data/videos (skipped without it); every run is tiny (HR crops of 40
pixels, LR 8x8, one or two residual blocks) so the whole file stays well under a minute of CPU.
"""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, shared_path
from train_helpers import make_scenes, tiny_configs, train_flags

from lib.errors import UserError
from lib.project import main_command


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("video_scenes"))
    return make_scenes(root, "bikes.mp4", count=3, frames=6, size=(64, 56))


@pytest.fixture(scope="module")
def frvsr_run(scenes, tmp_path_factory):
    """20 FRVSR steps with summaries and checkpoints every 10 steps."""
    from lib.train.trainer import train
    out = str(tmp_path_factory.mktemp("frvsr_run"))
    configs = tiny_configs(scenes, out, max_iter=20, summary_freq=10, save_freq=10,
                           display_freq=5, gif_summaries=True, learning_rate=5e-4, num_resblock=1)
    trainer = train(*configs)
    return out, trainer


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory):
    """A VGG19 checkpoint in slim naming with random weights (the fixture's rule, no sha check)."""
    from lib.models.checkpoint import save_official
    from train_helpers import fixture_vgg_weights
    prefix = os.path.join(str(tmp_path_factory.mktemp("vgg")), "vgg_19.ckpt")
    save_official(fixture_vgg_weights(check=False), prefix, write_state_file=False)
    return prefix


def test_short_training_lowers_the_loss(frvsr_run):
    _, trainer = frvsr_run
    losses = [h["l2_content_loss"] for h in trainer.history]
    assert len(losses) == 20 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses


def test_checkpoints_summaries_and_log_are_written(frvsr_run):
    from lib.train.summaries import read_events
    out, trainer = frvsr_run
    for step in (0, 10, 20):
        assert os.path.exists(os.path.join(out, "state", f"ckpt-{step}.index"))
        assert os.path.exists(os.path.join(out, f"model-{step}.index"))
    assert tf.train.latest_checkpoint(out).endswith("model-20")
    reader = tf.train.load_checkpoint(os.path.join(out, "model-20"))
    names = reader.get_variable_to_shape_map()
    assert "generator/generator_unit/resblock_1/conv_1/Conv/weights" in names
    assert "fnet/autoencode_unit/output_stage/conv2/Conv/biases" in names
    assert int(reader.get_tensor("get_learning_rate_and_global_step/global_step")) == 20
    identity = json.load(open(os.path.join(out, "run.json")))
    assert identity["model"] == "FRVSR" and identity["structure"]["num_resblock"] == 1

    events = read_events(os.path.join(out, "log"))
    assert [s for s, _ in events["learning_rate"]] == [10, 20]
    for name in ("l2_content_loss", "l2_warp_loss", "All_loss_Gen", "val_l2_content_loss"):
        assert len(events[name]) == 2, name
    # EMA-averaged (decay 0.99 from 0): far below the raw losses after 10 steps
    assert events["l2_content_loss"][0][1] < np.mean(
        [h["l2_content_loss"] for h in trainer.history[:10]])
    for name in ("LR", "HR", "Generated", "WarpPreGen"):
        step, images = events[f"{name}/gif"][0]
        assert step == 10 and images[2].startswith(b"GIF"), name
        assert len(images) == 2 + 2                       # width, height, one GIF per sequence
    log = open(os.path.join(out, "log", "logfile.txt")).read()
    assert "progress  epoch" in log and "Validation data scalars" in log
    assert "tData count = 6" in log


def test_inference_runs_on_the_trained_model(frvsr_run, tmp_path):
    from lib.flags import config_from_flags
    from lib.infer.config import InferenceConfig
    from lib.infer.driver import run_inference
    from lib.io.frame_io import list_frames, read_image_rgb8
    out, _ = frvsr_run
    calendar = shared_path("data", "Vid4", "LR", "calendar")
    flags = train_flags(mode="inference", input_dir_LR=calendar, input_dir_len=2,
                        output_dir=str(tmp_path), output_ext="png", num_resblock=1,
                        checkpoint=os.path.join(out, "model-20"), progress=False)
    run_inference(config_from_flags(InferenceConfig, flags))
    frames = list_frames(str(tmp_path))
    assert len(frames) == 2
    image = read_image_rgb8(frames[0])
    assert image.shape == (576, 720, 3) and 20 < image.mean() < 235


def test_tecogan_from_frvsr_with_missing_blocks(frvsr_run, scenes, random_vgg, tmp_path):
    """--pre_trained_model from the 1-block FRVSR into 2 blocks: zero fill (original) is reported;
    --init_missing_resblocks gives blocks that learn. VGG, ping-pong, D all on."""
    from lib.train.teco_step import build
    from lib.train.start_weights import load_pretrained
    from lib.train.trainer import train
    frvsr_out, _ = frvsr_run
    start = os.path.join(frvsr_out, "model-20")
    # the original's zero fill, and why it is a trap: the block can never learn its convs
    config, _, _ = tiny_configs(scenes, str(tmp_path / "zero"), ratio=0.01, num_resblock=2)
    model, _, _ = build(config)
    messages = []
    missing = load_pretrained(model, start, log=messages.append)
    assert sorted(missing) == sorted(n for n in model.generator.official_variables()
                                     if "/resblock_2/" in n)
    assert sum("Assign Zero" in m for m in messages) == 4
    assert not np.any(model.generator.resblocks[1][0].kernel.numpy())
    # our option: identity blocks that can learn
    messages = []
    run = train(*tiny_configs(scenes, str(tmp_path / "teco"), ratio=0.01, num_resblock=2,
                              pingpang=True, pp_scaling=0.5, vgg_scaling=0.2,
                              vgg_ckpt=random_vgg, pre_trained_model=True, checkpoint=start,
                              init_missing_resblocks=True, max_iter=3, learning_rate=5e-5),
                log=messages.append)
    assert any("keeps its Glorot" in m for m in messages)
    assert any("VGG19 restored" in m for m in messages)
    conv_1, conv_2 = run.model.generator.resblocks[1]
    assert np.any(conv_1.kernel.numpy()) and np.any(conv_2.kernel.numpy())
    history = run.history
    assert len(history) == 3 and all(np.isfinite(list(h.values())).all() for h in history)
    assert set(history[0]) >= {"vgg_all", "PingPang", "t_discrim_loss", "D_layer_loss_sum"}
    assert int(run.state.with_d_counter.numpy()) + int(run.state.without_d_counter.numpy()) == 3


def _all_tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_killed_run_resumes_exactly(scenes, tmp_path, monkeypatch):
    """4 steps straight == 2 steps, a crash after step 3 (lost), resume, 2 more steps."""
    from tensorflow.python.framework import config as tf_config

    import lib.train.trainer as trainer_module
    kw = dict(ratio=0.01, pingpang=True, pp_scaling=0.5, max_iter=4, save_freq=2, display_freq=3,
              learning_rate=1e-3, deterministic=True)
    try:
        trainer_module.train(*tiny_configs(scenes, str(tmp_path / "straight"), **kw),
                             log=lambda *a: None)

        def crash(self, step, *args):
            raise RuntimeError("killed")
        monkeypatch.setattr(trainer_module.Trainer, "display", crash)
        with pytest.raises(RuntimeError, match="killed"):
            trainer_module.train(*tiny_configs(scenes, str(tmp_path / "killed"), **kw),
                                 log=lambda *a: None)
        monkeypatch.undo()
        assert sorted(os.listdir(tmp_path / "killed" / "state")) == [
            "checkpoint", "ckpt-0.data-00000-of-00001", "ckpt-0.index",
            "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
        messages = []
        trainer_module.train(*tiny_configs(scenes, str(tmp_path / "killed"), **kw),
                             log=messages.append)
    finally:
        tf_config.disable_op_determinism()
    assert any("resumed from" in m and "ckpt-2" in m for m in messages)
    straight = _all_tensors(str(tmp_path / "straight" / "state" / "ckpt-4"))
    resumed = _all_tensors(str(tmp_path / "killed" / "state" / "ckpt-4"))
    assert straight.keys() == resumed.keys() and len(straight) > 150
    different = [k for k in straight if not np.array_equal(straight[k], resumed[k])]
    assert not different, different[:5]
    a = _all_tensors(str(tmp_path / "straight" / "model-4"))
    b = _all_tensors(str(tmp_path / "killed" / "model-4"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_ctrl_c_saves_the_checkpoint_and_runs_the_test_inference(scenes, tmp_path):
    import cv2
    # 12 small LR frames stand in for LR/calendar (the test inference takes the first 10)
    test_input = tmp_path / "lr"
    test_input.mkdir()
    frame = cv2.imread(os.path.join(scenes, "scene_2000", "col_high_0000.png"))
    for i in range(12):
        cv2.imwrite(str(test_input / f"{i + 1:04d}.png"), np.roll(frame, i, axis=1)[:16, :24])
    out = str(tmp_path / "run")
    cmd = main_command(["--mode", "train", "--output_dir", out,
                        "--input_video_dir", scenes, "--str_dir", "2000", "--end_dir", "2001",
                        "--end_dir_val", "1999", "--max_frm", "5", "--RNN_N", "3", "--crop_size",
                        "8", "--batch_size", "2", "--num_resblock", "1", "--ratio", "-0.01",
                        "--max_iter", "100000", "--display_freq", "1", "--save_freq", "100000",
                        "--test_input_dir", str(test_input)])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    # Ctrl+C as in a terminal: SIGINT at its default in the child even when the suite itself
    # runs as a background job ('pytest &' ignores SIGINT, and children would inherit that).
    child = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("global_step 3"):
                child.send_signal(signal.SIGINT)
                break
        rest, _ = child.communicate(timeout=240)
    finally:
        if child.poll() is None:
            child.kill()
    output = "".join(lines) + rest
    assert child.returncode == 130, output[-2000:]
    steps = [int(n[len("ckpt-"):-len(".index")]) for n in os.listdir(os.path.join(out, "state"))
             if n.endswith(".index")]
    last = max(steps)
    assert last >= 3 and f"interrupted at step {last}" in output
    assert os.path.exists(os.path.join(out, f"model-{last}.index"))
    test_frames = sorted(os.listdir(os.path.join(out, "train")))
    assert f"{last:09d}_0010.jpg" in test_frames and f"{last:09d}_0011.jpg" not in test_frames
    assert "000000000_0001.jpg" in test_frames            # the initial model-0 test


def sigint_dropped_in_a_finalizer():
    """Python may run the SIGINT handler inside a ``__del__``, where its KeyboardInterrupt is
    dropped ("Exception ignored"); once in the full suite the run trained on."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)                           # the handler runs here, in this try
    except KeyboardInterrupt:
        pass


def sigint_inside_tensorflow():
    """The handler runs while TensorFlow's Python code is on the stack (as in the eager fast
    path's ``TensorShape.__len__``): it only records the signal (lib/interrupts.py)."""
    def signal_and_wait(_):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    tf.nest.map_structure(signal_and_wait, [0])


@pytest.mark.parametrize("lose_the_raise", [sigint_dropped_in_a_finalizer,
                                            sigint_inside_tensorflow])
def test_an_interrupt_that_raised_nothing_still_stops_training(scenes, tmp_path, monkeypatch,
                                                               lose_the_raise):
    """runGan.py forwards a signal once, so a SIGINT whose KeyboardInterrupt was not raised (or
    was dropped) must still stop the run at the end of its step, with the checkpoint."""
    import lib.interrupts
    import lib.train.trainer as trainer_module
    real_step = trainer_module.Trainer.train_step

    def step_then_lose_a_sigint(self, batch, step):
        result = real_step(self, batch, step)
        if step == 1:                           # during the 2nd step
            lose_the_raise()
        return result
    monkeypatch.setattr(trainer_module.Trainer, "train_step", step_then_lose_a_sigint)
    out = str(tmp_path / "run")
    messages = []
    with pytest.raises(KeyboardInterrupt):
        trainer_module.train(*tiny_configs(scenes, out, max_iter=6, save_freq=1000),
                             log=messages.append)
    assert "interrupted at step 2: saving the checkpoint" in messages
    assert os.path.exists(os.path.join(out, "model-2.index"))
    assert not os.path.exists(os.path.join(out, "model-6.index"))
    # outside training, SIGINT is back to what it was
    assert signal.getsignal(signal.SIGINT) is not lib.interrupts._on_signal


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(scenes, tmp_path):
    from lib.train.trainer import train
    out = str(tmp_path / "nan")
    with pytest.raises(UserError, match="not finite at step 2") as err:
        train(*tiny_configs(scenes, out, learning_rate=1e30, max_iter=5, save_freq=1),
              log=lambda *a: None)
    assert "ckpt-1" in str(err.value)
    assert sorted(n for n in os.listdir(os.path.join(out, "state")) if n.endswith(".index")) == [
        "ckpt-0.index", "ckpt-1.index"]
    weights = _all_tensors(os.path.join(out, "model-1"))
    assert all(np.all(np.isfinite(v)) for v in weights.values())


# -- bad input ----------------------------------------------------------------------------------

def test_vgg_without_checkpoint_names_the_url(scenes, tmp_path):
    from lib.train.trainer import train
    with pytest.raises(UserError, match="vgg_19_2016_08_28.tar.gz"):
        train(*tiny_configs(scenes, str(tmp_path / "o"), ratio=0.01, vgg_scaling=0.2,
                             vgg_ckpt=str(tmp_path / "vgg_19.ckpt")), log=lambda *a: None)
    assert not os.path.exists(tmp_path / "o")             # nothing written before the check


def test_no_scenes_and_short_scenes(scenes, tmp_path, monkeypatch):
    from lib.train.trainer import train
    with pytest.raises(UserError, match="no training scenes found"):
        train(*tiny_configs(str(tmp_path), str(tmp_path / "o")), log=lambda *a: None)
    with pytest.raises(UserError, match="too short"):
        train(*tiny_configs(scenes, str(tmp_path / "o"), max_frm=119), log=lambda *a: None)
    monkeypatch.delenv("TECOGAN_TRAIN_DATA", raising=False)
    with pytest.raises(UserError, match="TECOGAN_TRAIN_DATA"):
        train(*tiny_configs("", str(tmp_path / "o")), log=lambda *a: None)


def test_checkpoint_of_the_other_model_size(frvsr_run, scenes, tmp_path):
    from lib.train.trainer import train
    frvsr_out, _ = frvsr_run
    # full restore (--nopre_trained_model) of a 1-block run into 2 blocks
    with pytest.raises(UserError, match="another model.*num_resblock 1 \\(this model: 2\\)"):
        train(*tiny_configs(scenes, str(tmp_path / "a"), num_resblock=2,
                             checkpoint=os.path.join(frvsr_out, "model-20")), log=lambda *a: None)
    # the same from the weights-only export (no training state next to it)
    lone = str(tmp_path / "lone" / "model-20")
    os.makedirs(os.path.dirname(lone))
    for suffix in (".index", ".data-00000-of-00001"):
        with open(os.path.join(frvsr_out, "model-20" + suffix), "rb") as src, \
                open(lone + suffix, "wb") as dst:
            dst.write(src.read())
    with pytest.raises(UserError, match="1 residual blocks.*--num_resblock 2"):
        train(*tiny_configs(scenes, str(tmp_path / "c"), num_resblock=2, checkpoint=lone),
              log=lambda *a: None)
    # the original 16-block TecoGAN into a 10-block model, with --pre_trained_model
    fixture = os.path.join(shared_path("fixtures", "tf1-training", "model"),
                           "TecoGAN-train-random")
    with pytest.raises(UserError, match="16 residual blocks, more than --num_resblock 10"):
        train(*tiny_configs(scenes, str(tmp_path / "b"), num_resblock=10, pre_trained_model=True,
                             checkpoint=fixture), log=lambda *a: None)


def test_output_folder_of_another_run(frvsr_run, scenes, tmp_path):
    from lib.models.checkpoint import save_official
    from lib.train.trainer import train
    frvsr_out, _ = frvsr_run
    with pytest.raises(UserError, match="belongs to another run.*FRVSR, 1 residual blocks"):
        train(*tiny_configs(scenes, frvsr_out, num_resblock=2), log=lambda *a: None)
    with pytest.raises(UserError, match="belongs to another run"):
        train(*tiny_configs(scenes, frvsr_out, ratio=0.01, num_resblock=1), log=lambda *a: None)
    foreign = tmp_path / "foreign"
    save_official({"x": tf.zeros([1])}, str(foreign / "model-5"))
    with pytest.raises(UserError, match="checkpoints of another run"):
        train(*tiny_configs(scenes, str(foreign)), log=lambda *a: None)
