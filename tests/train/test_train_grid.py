"""The two training options against the GAN stage's 4-pixel grid, and the diagnostic's measure.

``--vgg_shift``: the perceptual loss on crops whose phase cycles with the step (without it, the
original, the perceptual network's max-pool grid always meets the generator's 4-pixel upsampling
grid at the same phase). Checked: the phase schedule, the crop, that a training step uses the
step's phase (and only with the flag), that a resumed run continues exactly.

``--upsampling_lr_scale``: the learning rate of the generator's upsampling layers (where the grid
forms) times a factor; 0 freezes them, 1 is the original's update op.

``--phase_loss``: the grid measure of metrics/grid_phase.py as a loss term (checked against it),
in the generator loss only when asked for.
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from train_helpers import make_scenes, straight_and_resumed


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("shift_scenes"))
    return make_scenes(root, "bikes.mp4", count=3, frames=6, size=(64, 56))


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory):
    from lib.models.checkpoint import save_official
    from train_helpers import fixture_vgg_weights
    prefix = os.path.join(str(tmp_path_factory.mktemp("vgg")), "vgg_19.ckpt")
    save_official(fixture_vgg_weights(check=False), prefix, write_state_file=False)
    return prefix


def test_phase_schedule_visits_all_16_pairs_then_repeats():
    from lib.train.teco_model import vgg_phase
    pairs = [tuple(vgg_phase(step).numpy()) for step in range(32)]
    assert sorted(set(pairs[:16])) == [(y, x) for y in range(4) for x in range(4)]
    assert pairs[16:] == pairs[:16]
    assert tuple(vgg_phase(tf.constant(10 ** 6 + 5, tf.int64)).numpy()) == pairs[(10 ** 6 + 5) % 16]


def test_shifted_crop_is_the_slice():
    from lib.train.teco_model import shifted_crop
    frames = np.random.default_rng(0).normal(size=(2, 12, 16, 3)).astype(np.float32)
    for dy, dx in [(0, 0), (1, 3), (3, 2)]:
        out = shifted_crop(tf.constant(frames), tf.constant([dy, dx]))
        assert out.shape == (2, 8, 12, 3)
        np.testing.assert_array_equal(out.numpy(), frames[:, dy:dy + 8, dx:dx + 12])


def _tiny_teco(vgg_shift):
    from lib.train.config import TrainConfig
    from lib.train.teco_step import build
    config = TrainConfig(batch_size=1, RNN_N=3, crop_size=8, num_resblock=1, pingpang=True,
                         pp_scaling=0.5, vgg_scaling=0.2, ratio=0.01, learning_rate=1e-4,
                         vgg_shift=vgg_shift)
    return build(config, seed=1)


@pytest.mark.parametrize("vgg_shift", [False, True])
def test_a_step_compares_the_crop_of_its_own_phase(vgg_shift):
    from lib.train.teco_model import vgg_phase
    rng = np.random.default_rng(4)
    inputs = tf.constant(rng.uniform(0, 1, (1, 3, 8, 8, 3)).astype(np.float32))
    targets = tf.constant(rng.uniform(-1, 1, (1, 3, 32, 32, 3)).astype(np.float32))
    model, state, step = _tiny_teco(vgg_shift)
    for global_step in (0, 7):
        state.global_step.assign(global_step)
        offset = vgg_phase(global_step)
        shifted = float(model.forward(inputs, targets, 1.0, vgg_offset=offset)[0]["vgg_all"])
        whole = float(model.forward(inputs, targets, 1.0)[0]["vgg_all"])
        assert abs(shifted - whole) > 1e-4 * abs(whole)      # the crop changes the loss
        logged = float(step.train(inputs, targets)["vgg_all"])   # before this step's update
        expected = shifted if vgg_shift else whole
        assert logged == pytest.approx(expected, rel=1e-5)


def test_a_shifted_run_resumes_exactly(scenes, random_vgg, tmp_path):
    """4 steps straight == 2 steps, stop, resume, 2 more: the phase comes from the step."""
    messages = straight_and_resumed(scenes, str(tmp_path), 2, ratio=0.01, pingpang=True,
                                    pp_scaling=0.5, vgg_scaling=0.2, vgg_ckpt=random_vgg,
                                    vgg_shift=True, max_iter=4, save_freq=2, learning_rate=1e-3)
    assert any("resumed from" in m for m in messages)
    with open(tmp_path / "straight" / "run.json") as f:
        assert json.load(f)["settings"]["vgg_shift"] is True
    reader_a = tf.train.load_checkpoint(str(tmp_path / "straight" / "model-4"))
    reader_b = tf.train.load_checkpoint(str(tmp_path / "split" / "model-4"))
    names = [n for n in reader_a.get_variable_to_shape_map() if "generator" in n]
    assert names
    for name in names:
        np.testing.assert_array_equal(reader_a.get_tensor(name), reader_b.get_tensor(name))


def test_run_json_leaves_the_setting_out_when_off():
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import run_identity
    off = run_identity(TrainConfig(), DataConfig(), RunConfig())["settings"]
    on = run_identity(TrainConfig(vgg_shift=True), DataConfig(), RunConfig())["settings"]
    assert "vgg_shift" not in off and on["vgg_shift"] is True


def test_grid_gradient_measure_finds_a_planted_phase_pattern():
    """benchmarks/grid_gradients.phase_pattern: a field with +1 on columns x % 4 == 1 and -1 on
    x % 4 == 2 (grey) reads back as that pattern; a smooth field reads as none."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    from grid_gradients import phase_pattern
    field = np.zeros((2, 32, 48, 3))
    field[:, :, 1::4] = 1.0
    field[:, :, 2::4] = -1.0
    cols, rows, scale = phase_pattern(field)
    assert cols[1] > 0.5 and cols[2] < -0.5 and abs(cols[0]) < 0.2 and abs(cols[3]) < 0.2
    assert np.abs(rows).max() < 1e-9 and scale == pytest.approx(0.5)
    y, x = np.mgrid[0:32, 0:48]
    smooth = np.repeat((np.sin(x / 7.0) + np.cos(y / 9.0))[None, :, :, None], 3, axis=3)
    cols, rows, _ = phase_pattern(np.repeat(smooth, 2, axis=0))
    assert np.abs(cols).max() < 0.05 and np.abs(rows).max() < 0.05   # planted: 1.0


def _one_step_weights(scale):
    from lib.train.config import TrainConfig
    from lib.train.teco_step import build
    config = TrainConfig(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01,
                         learning_rate=1e-3, upsampling_lr_scale=scale)
    model, _, step = build(config, seed=2)
    rng = np.random.default_rng(5)
    inputs = rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32)
    targets = rng.uniform(-1, 1, (2, 3, 32, 32, 3)).astype(np.float32)
    weights = model.generator.official_variables()
    before = {n: v.numpy() for n, v in weights.items()}
    step.train(inputs, targets)
    return {n: v.numpy() - before[n] for n, v in weights.items()}


def test_upsampling_lr_scale_scales_only_the_upsampling_updates():
    from lib.train.teco_step import UPSAMPLING_SCOPES
    full, half, frozen = (_one_step_weights(s) for s in (1.0, 0.5, 0.0))
    upsampling = [n for n in full if any(s in n for s in UPSAMPLING_SCOPES)]
    assert len(upsampling) == 6          # two transposed convolutions and the output conv
    for name in full:
        if name in upsampling:
            assert np.any(full[name])
            # atol: w + d - w in float32
            np.testing.assert_allclose(half[name], 0.5 * full[name], rtol=1e-5, atol=1e-8)
            assert not np.any(frozen[name]), name
        else:       # the same first step everywhere else
            np.testing.assert_array_equal(half[name], full[name])
            np.testing.assert_array_equal(frozen[name], full[name])


def test_upsampling_lr_scale_is_checked_and_recorded():
    from lib.errors import UserError
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import run_identity
    with pytest.raises(UserError, match="--upsampling_lr_scale must be at least 0"):
        TrainConfig(upsampling_lr_scale=-0.5).validate()
    TrainConfig(upsampling_lr_scale=0.0).validate()
    off = run_identity(TrainConfig(), DataConfig(), RunConfig())["settings"]
    on = run_identity(TrainConfig(upsampling_lr_scale=0.0), DataConfig(), RunConfig())["settings"]
    assert "upsampling_lr_scale" not in off and on["upsampling_lr_scale"] == 0.0


def _planted(shape=(2, 3, 32, 48, 3), level=0.3, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.uniform(-1, 1, shape).astype(np.float32)
    frames = targets.copy()
    frames[..., 1::4, :] += level / 127.5          # columns x % 4 == 1 brighter
    frames[..., 2::4, :] -= level / 127.5          # x % 4 == 2 darker
    return frames, targets


def test_phase_loss_is_the_grid_measure_of_the_difference():
    from lib.train.losses import phase_loss
    from metrics.grid_phase import GREY, high_pass
    frames, targets = _planted()
    value = float(phase_loss(tf.constant(frames), tf.constant(targets)))
    cols, rows = [], []
    for diff in (frames - targets).reshape(-1, 32, 48, 3) * 127.5:
        hp = high_pass(diff.astype(np.float64) @ GREY)
        cols.append([hp[:, p::4].mean() for p in range(4)])
        rows.append([hp[p::4, :].mean() for p in range(4)])
    expected = np.mean(np.square(cols)) + np.mean(np.square(rows))
    assert expected > 0.02
    assert value == pytest.approx(expected, rel=1e-4)
    assert float(phase_loss(tf.constant(targets), tf.constant(targets))) == 0.0
    # a smooth difference (brightness ramp) is no grid
    ramp = targets + np.linspace(0, 0.05, 48, dtype=np.float32)[None, None, None, :, None]
    assert float(phase_loss(tf.constant(ramp), tf.constant(targets))) < 0.02 * expected  # edges
    # descent moves the planted phases back: the gradient has the grid's sign
    frames_t = tf.constant(frames)
    with tf.GradientTape() as tape:
        tape.watch(frames_t)
        loss = phase_loss(frames_t, tf.constant(targets))
    grad = tape.gradient(loss, frames_t).numpy()
    assert grad[..., 1::4, :].mean() > 0 > grad[..., 2::4, :].mean()


@pytest.mark.parametrize("weight", [0.0, 2.0])
def test_phase_loss_enters_the_generator_loss_only_when_asked(weight):
    from lib.train.config import TrainConfig
    from lib.train.teco_model import TecoModel, loss_names
    config = TrainConfig(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01,
                         phase_loss=weight)
    model = TecoModel(config, seed=1)
    rng = np.random.default_rng(2)
    inputs = tf.constant(rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32))
    targets = tf.constant(rng.uniform(-1, 1, (2, 3, 32, 32, 3)).astype(np.float32))
    values, totals, _ = model.forward(inputs, targets, 1.0)
    assert ("phase_loss" in loss_names(config)) == (weight > 0)
    expected = float(values["l2_content_loss"])
    if weight:
        assert float(values["phase_loss"]) > 0
        expected += weight * float(values["phase_loss"])
    assert float(totals["gen_loss"]) == pytest.approx(expected, rel=1e-6)


def test_phase_loss_is_checked_and_recorded():
    from lib.errors import UserError
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import run_identity
    with pytest.raises(UserError, match="--phase_loss must be at least 0"):
        TrainConfig(phase_loss=-1.0).validate()
    on = run_identity(TrainConfig(phase_loss=1.0), DataConfig(), RunConfig())["settings"]
    off = run_identity(TrainConfig(), DataConfig(), RunConfig())["settings"]
    assert on["phase_loss"] == 1.0 and "phase_loss" not in off


def test_grid_gradients_bad_input_is_one_error_line(tmp_path):
    from cli_helpers import assert_one_error, run_cli
    script = os.path.join("benchmarks", "grid_gradients.py")
    assert_one_error(*run_cli([script, "--checkpoint", tmp_path / "absent", "--train_data",
                               tmp_path]), "not found")
    assert_one_error(*run_cli([script, "--checkpoint", "model/shipped/FRVSR_ours",
                               "--train_data", tmp_path / "absent"]), "does not exist")
    assert_one_error(*run_cli([script, "--checkpoint", "model/shipped/FRVSR_ours",
                               "--train_data", tmp_path, "--batches", "0"]), "--batches")
