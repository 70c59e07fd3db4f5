"""``--temporal_loss`` (ours): a loss on the part of the error that does not travel with the flow.

``|e_t - W_t(e_{t-1})|^2`` with ``e = generated - target`` and ``W_t`` the generator's own warp:
an error that moves with the content costs nothing, flicker costs its square (checked against
NumPy), the flow gets no gradient from it, and it enters the generator loss only when asked.
Turning a loss term on or off when a run is resumed or branched keeps everything else exact.
"""
import numpy as np
import pytest
import tensorflow as tf

from lib.errors import UserError


def _frames(rng, shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def test_an_error_that_travels_with_the_flow_costs_nothing():
    from lib.ops.warp import dense_image_warp
    from lib.train.losses import temporal_loss
    rng = np.random.default_rng(0)
    batch, frames, size = 2, 4, 24
    flows = rng.uniform(-2.5, 2.5, (batch, frames - 1, 1, 1, 2)).astype(np.float32)
    flows = np.broadcast_to(flows, (batch, frames - 1, size, size, 2)).copy()
    errors = [0.2 * _frames(rng, (batch, size, size, 3))]
    for t in range(1, frames):
        errors.append(dense_image_warp(errors[-1], flows[:, t - 1]).numpy())
    errors = np.stack(errors, axis=1)
    targets = _frames(rng, errors.shape)
    travelling = float(temporal_loss(tf.constant(targets + errors), tf.constant(targets),
                                     tf.constant(flows)))
    assert travelling < 1e-12
    # the same error standing still while the flow says the scene moves is flicker and costs
    standing = np.repeat(errors[:, :1], frames, axis=1)
    assert float(temporal_loss(tf.constant(targets + standing), tf.constant(targets),
                               tf.constant(flows))) > 1e-3


def test_with_no_motion_it_is_the_squared_change_of_the_error():
    from lib.train.losses import temporal_loss
    rng = np.random.default_rng(1)
    targets = _frames(rng, (2, 3, 16, 20, 3))
    generated = targets + 0.1 * _frames(rng, targets.shape)
    still = np.zeros((2, 2, 16, 20, 2), np.float32)
    error = (generated - targets).astype(np.float64)
    expected = np.mean(np.sum(np.square(error[:, 1:] - error[:, :-1]), axis=-1))
    value = float(temporal_loss(tf.constant(generated), tf.constant(targets), tf.constant(still)))
    assert value == pytest.approx(expected, rel=1e-5)
    assert float(temporal_loss(tf.constant(targets), tf.constant(targets),
                               tf.constant(still))) == 0.0


def test_the_l1_norm_is_the_length_of_each_pixels_change():
    from lib.train.losses import CHARBONNIER_EPS, temporal_loss
    rng = np.random.default_rng(4)
    targets = _frames(rng, (2, 3, 16, 20, 3))
    generated = targets + 0.1 * _frames(rng, targets.shape)
    still = np.zeros((2, 2, 16, 20, 2), np.float32)
    change = np.diff((generated - targets).astype(np.float64), axis=1)
    eps = CHARBONNIER_EPS
    expected = np.mean(np.sqrt(np.sum(np.square(change), axis=-1) + eps * eps) - eps)
    value = float(temporal_loss(tf.constant(generated), tf.constant(targets), tf.constant(still),
                                norm="l1"))
    assert value == pytest.approx(expected, rel=1e-5)
    assert float(temporal_loss(tf.constant(targets), tf.constant(targets), tf.constant(still),
                               norm="l1")) == 0.0


def test_l1_pulls_small_and_large_flicker_alike_where_l2_favours_the_large():
    """One pixel flickers by 0.01, another by 0.5: the squared norm's gradient at the large one is
    50 times the small one's (it is ruled by the changes the flow gets wrong); the length's
    gradients are equal (within Charbonnier's epsilon)."""
    from lib.train.losses import temporal_loss
    targets = np.zeros((1, 2, 4, 4, 3), np.float32)
    generated = targets.copy()
    generated[0, 1, 0, 0, 0] = 0.01
    generated[0, 1, 3, 3, 0] = 0.5
    still = np.zeros((1, 1, 4, 4, 2), np.float32)
    ratios = {}
    for norm in ("l2", "l1"):
        frames = tf.Variable(generated)
        with tf.GradientTape() as tape:
            loss = temporal_loss(frames, tf.constant(targets), tf.constant(still), norm=norm)
        grad = tape.gradient(loss, frames).numpy()[0, 1, ..., 0]
        ratios[norm] = grad[3, 3] / grad[0, 0]
    assert ratios["l2"] == pytest.approx(50.0, rel=1e-4)
    assert ratios["l1"] == pytest.approx(1.0, abs=0.01)


def test_it_trains_the_frames_not_the_flow():
    from lib.train.losses import temporal_loss
    rng = np.random.default_rng(2)
    targets = tf.constant(_frames(rng, (1, 3, 12, 12, 3)))
    generated = tf.Variable(targets + 0.1 * _frames(rng, (1, 3, 12, 12, 3)))
    flows = tf.Variable(rng.uniform(-1, 1, (1, 2, 12, 12, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = temporal_loss(generated, targets, flows)
    grad_frames, grad_flows = tape.gradient(loss, [generated, flows])
    assert grad_flows is None
    assert float(tf.reduce_max(tf.abs(grad_frames))) > 0


@pytest.mark.parametrize("weight", [0.0, 3.0])
def test_it_enters_the_generator_loss_only_when_asked(weight):
    from lib.train.config import TrainConfig
    from lib.train.teco_model import TecoModel, loss_names
    config = TrainConfig(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01,
                         temporal_loss=weight)
    model = TecoModel(config, seed=1)
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32))
    targets = tf.constant(_frames(rng, (2, 3, 32, 32, 3)))
    values, totals, _ = model.forward(inputs, targets, 1.0)
    assert ("temporal_loss" in loss_names(config)) == (weight > 0)
    expected = float(values["l2_content_loss"])
    if weight:
        assert float(values["temporal_loss"]) > 0
        expected += weight * float(values["temporal_loss"])
    assert float(totals["gen_loss"]) == pytest.approx(expected, rel=1e-6)


def test_the_weight_is_checked_and_recorded():
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import run_identity
    with pytest.raises(UserError, match="--temporal_loss must be at least 0"):
        TrainConfig(temporal_loss=-0.5).validate()
    on = run_identity(TrainConfig(temporal_loss=2.0), DataConfig(), RunConfig())["settings"]
    off = run_identity(TrainConfig(), DataConfig(), RunConfig())["settings"]
    assert on["temporal_loss"] == 2.0 and "temporal_loss" not in off
    with pytest.raises(UserError, match="--temporal_loss_norm must be one of l2, l1"):
        TrainConfig(temporal_loss=1.0, temporal_loss_norm="l3").validate()
    l1 = run_identity(TrainConfig(temporal_loss=2.0, temporal_loss_norm="l1"), DataConfig(),
                      RunConfig())["settings"]
    assert l1["temporal_loss_norm"] == "l1" and "temporal_loss_norm" not in on


def test_resuming_notes_a_loss_term_turned_on_or_off():
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import changed_settings, run_identity

    def settings(**kw):
        return run_identity(TrainConfig(**kw), DataConfig(), RunConfig())["settings"]
    assert changed_settings(settings(), settings(temporal_loss=4.0, temporal_loss_norm="l1")) == {
        "temporal_loss": (0.0, 4.0), "temporal_loss_norm": ("l2", "l1")}
    assert changed_settings(settings(temporal_loss=24.0), settings()) == {
        "temporal_loss": (24.0, 0.0)}
    assert changed_settings(settings(phase_loss=1.0), settings(phase_loss=1.0)) == {}


def test_frvsr_with_the_term_keeps_one_update_of_each_logged_average():
    """The original updated the logged averages of l2_content_loss and All_loss_Gen twice per step
    only when the generator loss *was* the content loss; with the term on it is not."""
    from lib.train.config import TrainConfig
    from lib.train.teco_step import shared_ema_names
    frvsr = dict(ratio=-0.01)
    assert shared_ema_names(TrainConfig(**frvsr)) == ("l2_content_loss", "All_loss_Gen")
    assert shared_ema_names(TrainConfig(**frvsr, temporal_loss=1.0)) == ()


def _moving_crops(shift, frames=4, size=48, seed=5):
    """Crops of one smooth random texture in [-1, 1], the content moving by ``shift`` = (dy, dx)
    HR pixels per frame (frame t at t * shift), [1, frames, size, size, 3]."""
    import cv2
    rng = np.random.default_rng(seed)
    margin = 4 * frames
    big = cv2.GaussianBlur(rng.uniform(-1, 1, (size + 2 * margin, size + 2 * margin, 3))
                           .astype(np.float32), (0, 0), 1.5)
    big /= np.abs(big).max()
    dy, dx = shift
    crops = [big[margin - t * dy:margin - t * dy + size, margin - t * dx:margin - t * dx + size]
             for t in range(frames)]
    return np.stack(crops)[np.newaxis]


def test_the_targets_flow_carries_each_target_frame_onto_the_next():
    """``--temporal_loss_flow target``: Farneback on the targets, in the warp's convention."""
    from lib.ops.warp import dense_image_warp
    from lib.train.losses import target_flows
    targets = _moving_crops((1, 2))
    flows = target_flows(tf.constant(targets)).numpy()
    assert flows.shape == (1, 3, 48, 48, 2) and flows.dtype == np.float32
    inner = flows[:, :, 8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(1.0, abs=0.1)   # dy
    assert np.median(inner[..., 1]) == pytest.approx(2.0, abs=0.1)   # dx
    carried = dense_image_warp(targets[0, :-1], flows[0]).numpy()
    moved = np.abs(carried - targets[0, 1:])[:, 8:-8, 8:-8].mean()
    still = np.abs(targets[0, :-1] - targets[0, 1:])[:, 8:-8, 8:-8].mean()
    assert moved < 0.1 * still


def test_with_the_targets_flow_only_detail_that_leaves_the_target_costs():
    """An error texture that moves with the target is (nearly) free under the targets' flow,
    while FNet's flow, wrong here (zero), charges it as if it flickered."""
    from lib.train.losses import target_flows, temporal_loss
    targets = _moving_crops((1, 2))
    errors = 0.2 * _moving_crops((1, 2), seed=6)
    generated = tf.constant(targets + errors)
    flows = target_flows(tf.constant(targets))
    follows = float(temporal_loss(generated, tf.constant(targets), flows))
    wrong_flow = float(temporal_loss(generated, tf.constant(targets), tf.zeros_like(flows)))
    assert follows < 0.1 * wrong_flow
    standing = tf.constant(targets + np.repeat(errors[:, :1], 4, axis=1))
    assert float(temporal_loss(standing, tf.constant(targets), flows)) > 0.5 * wrong_flow


def test_the_targets_flow_works_in_the_compiled_step_and_reaches_no_variable():
    from lib.train.config import TrainConfig
    from lib.train.teco_model import TecoModel
    config = TrainConfig(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01,
                         temporal_loss=2.0, temporal_loss_flow="target")
    model = TecoModel(config, seed=1)
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32))
    targets = tf.constant(_frames(rng, (2, 3, 32, 32, 3)))
    eager, _, _ = model.forward(inputs, targets, 1.0)

    @tf.function
    def compiled():
        with tf.GradientTape() as tape:
            values, totals, _ = model.forward(inputs, targets, 1.0)
        grads = tape.gradient(totals["gen_loss"], model.generator_variables())
        return values["temporal_loss"], grads

    value, grads = compiled()
    assert float(value) == pytest.approx(float(eager["temporal_loss"]), rel=1e-5)
    assert float(value) > 0 and all(g is not None for g in grads)
    fnet = TecoModel(TrainConfig(**{**config.__dict__, "temporal_loss_flow": "fnet"}), seed=1)
    other, _, _ = fnet.forward(inputs, targets, 1.0)
    assert float(other["temporal_loss"]) != pytest.approx(float(value), rel=1e-3)


def test_blurring_spares_fine_detail_that_travels_but_not_a_coarse_standing_error():
    """Fine texture (periods of 2.5-4 px) moving by exactly half a pixel per frame: the bilinear
    warp loses much of it, so the unblurred term charges it though it travels with the content;
    blurred (sigma 1.5) that cost nearly vanishes. A coarse error that stands still while the
    content moves (what shifts Farneback's flow) keeps most of its cost."""
    import cv2
    from lib.train.losses import temporal_loss
    size, frames = 40, 3
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)

    def fine(shift):
        wave = sum(np.sin(2 * np.pi * ((yy - shift) / p + xx / q) + k)
                   for k, (p, q) in enumerate([(2.5, 7.0), (3.0, 5.0), (4.0, 3.5)]))
        return np.repeat((0.05 * wave)[..., None], 3, axis=-1).astype(np.float32)
    moving = np.stack([fine(0.5 * t) for t in range(frames)])[np.newaxis]
    flows = np.zeros((1, frames - 1, size, size, 2), np.float32)
    flows[..., 0] = 0.5                                        # the content moves 0.5 px down
    rng = np.random.default_rng(7)
    coarse = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size, 3)).astype(np.float32), (0, 0), 3)
    standing = np.repeat((coarse / np.abs(coarse).max() * 0.2)[np.newaxis, np.newaxis],
                         frames, axis=1)
    targets = tf.zeros_like(moving)

    def cost(errors, sigma):
        return float(temporal_loss(tf.constant(errors), targets, tf.constant(flows),
                                   blur_sigma=sigma))
    assert cost(moving, 0.0) > 1e-3
    assert cost(moving, 1.5) < 0.1 * cost(moving, 0.0)
    assert cost(standing, 1.5) > 0.5 * cost(standing, 0.0)


def test_the_blur_keeps_the_flat_field_and_the_default_is_exact():
    from lib.train.losses import blurred, temporal_loss
    flat = tf.fill([2, 12, 14, 3], 0.3)
    np.testing.assert_allclose(blurred(flat, 1.5).numpy(), 0.3, rtol=1e-6)
    rng = np.random.default_rng(8)
    targets = _frames(rng, (1, 3, 16, 16, 3))
    generated = targets + 0.1 * _frames(rng, targets.shape)
    flows = rng.uniform(-1, 1, (1, 2, 16, 16, 2)).astype(np.float32)
    args = (tf.constant(generated), tf.constant(targets), tf.constant(flows))
    assert float(temporal_loss(*args, blur_sigma=0.0)) == float(temporal_loss(*args))
    assert float(temporal_loss(*args, blur_sigma=1.0)) < float(temporal_loss(*args))


def test_the_flow_choice_is_checked_and_recorded():
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import changed_settings, run_identity
    with pytest.raises(UserError, match="--temporal_loss_flow must be one of fnet, target"):
        TrainConfig(temporal_loss=1.0, temporal_loss_flow="gt").validate()

    def settings(**kw):
        return run_identity(TrainConfig(**kw), DataConfig(), RunConfig())["settings"]
    assert "temporal_loss_flow" not in settings(temporal_loss=2.0)
    assert settings(temporal_loss=2.0, temporal_loss_flow="target")["temporal_loss_flow"] == "target"
    assert changed_settings(settings(temporal_loss=8.0),
                            settings(temporal_loss=8.0, temporal_loss_flow="target")) == {
        "temporal_loss_flow": ("fnet", "target")}
    with pytest.raises(UserError, match="--temporal_loss_blur must be at least 0"):
        TrainConfig(temporal_loss=1.0, temporal_loss_blur=-1.0).validate()
    assert settings(temporal_loss=8.0, temporal_loss_blur=1.5)["temporal_loss_blur"] == 1.5
    assert "temporal_loss_blur" not in settings(temporal_loss=8.0)


def _saved_state(config, path, seed):
    """A model and training state of ``config`` with distinct values, saved to ``path``."""
    from lib.train.teco_step import build
    model, state, _ = build(config, seed=seed)
    state.global_step.assign(7)
    for i, name in enumerate(sorted(state.loss_ema)):
        state.loss_ema[name].assign(0.5 + i)
    parts = {"state": state, "generator": model.generator, "fnet": model.fnet}
    return model, state, tf.train.Checkpoint(**parts).save(path)


def _restored(config, path, seed):
    from lib.train.run_folder import run_identity
    from lib.train.config import DataConfig, RunConfig
    from lib.train.start_weights import restore_state
    from lib.train.teco_step import build
    model, state, _ = build(config, seed=seed)
    parts = {"state": state, "generator": model.generator, "fnet": model.fnet}
    messages = []
    restore_state(tf.train.Checkpoint(**parts), parts, path,
                  run_identity(config, DataConfig(), RunConfig()), log=messages.append)
    return model, state, messages


@pytest.mark.parametrize("before,after", [(0.0, 2.0), (2.0, 0.0)])
def test_a_loss_term_turned_on_or_off_at_a_resume_keeps_the_rest_exact(tmp_path, before, after):
    from lib.train.config import TrainConfig
    tiny = dict(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01)
    saved_model, saved_state, path = _saved_state(TrainConfig(**tiny, temporal_loss=before),
                                                  str(tmp_path / "ckpt"), seed=1)
    model, state, messages = _restored(TrainConfig(**tiny, temporal_loss=after), path, seed=2)
    word = "starts at 0" if after else "is dropped"
    assert any("temporal_loss" in m and word in m for m in messages)
    assert int(state.global_step.numpy()) == 7
    for mine, theirs in zip(model.generator.variables, saved_model.generator.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    for name, average in state.loss_ema.items():
        expected = saved_state.loss_ema[name].numpy() if name in saved_state.loss_ema else 0.0
        assert float(average.numpy()) == float(expected)


def test_a_checkpoint_of_another_model_is_still_refused(tmp_path):
    from lib.train.config import TrainConfig
    tiny = dict(batch_size=2, RNN_N=3, crop_size=8, ratio=-0.01)
    _, _, path = _saved_state(TrainConfig(**tiny, num_resblock=1), str(tmp_path / "ckpt"), 1)
    with pytest.raises(UserError, match="does not fit this model"):
        _restored(TrainConfig(**tiny, num_resblock=2, temporal_loss=1.0), path, seed=2)
