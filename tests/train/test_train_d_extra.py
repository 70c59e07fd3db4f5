"""``--D_extra_updates N`` (ours): N discriminator-only updates before each training step.

A D-only update must be exactly the D half of a training step (same gradient, same Adam update,
same ``--Dbalance`` rule, same BatchNorm statistics) and touch nothing else: not the generator,
FNet, the step count, the counters or the logged averages. The trainer runs N of them per step.
"""
import os

import numpy as np
import pytest
import tensorflow as tf

from train_helpers import make_scenes, tiny_configs

from lib.errors import UserError

TINY_GAN = dict(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=0.01, pingpang=True,
                pp_scaling=0.5, learning_rate=1e-3)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    inputs = tf.constant(rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32))
    targets = tf.constant(rng.uniform(-1, 1, (2, 3, 32, 32, 3)).astype(np.float32))
    return inputs, targets


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _d_state(model, state):
    opt = state.opt_discriminator
    bn = [x for b in model.discriminator.batch_norms() for x in (b.moving_mean,
                                                                 b.moving_variance)]
    return _values(model.discriminator_variables() + opt.m + opt.v + bn +
                   [opt.beta1_power, opt.beta2_power])


def _everything_but_d(model, state):
    return _values(model.generator_variables() + model.fnet_variables() +
                   [state.global_step, state.with_d_counter, state.without_d_counter,
                    state.t_balance_ema] + [state.loss_ema[k] for k in sorted(state.loss_ema)])


def test_a_d_only_update_is_the_d_half_of_a_training_step():
    from lib.train.config import TrainConfig
    from lib.train.teco_step import build
    config = TrainConfig(**TINY_GAN)
    batch = _batch()
    model_a, state_a, step_a = build(config, seed=3)
    model_b, state_b, step_b = build(config, seed=3)
    start = _d_state(model_a, state_a)
    others = _everything_but_d(model_a, state_a)
    out = step_a.train_discriminator(*batch)
    assert bool(out["with_d"].numpy()) and bool(out["finite"].numpy())
    full = step_b.train(*batch)
    assert bool(full["with_d"].numpy())
    # the full step moved D; the D-only update moved it the same way
    after_a, after_b = _d_state(model_a, state_a), _d_state(model_b, state_b)
    assert any(not np.array_equal(x, y) for x, y in zip(start, after_b))
    for x, y in zip(after_a, after_b):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    assert float(out["t_discrim_loss"]) == pytest.approx(float(full["t_discrim_loss"]), rel=1e-5)
    # and nothing else moved
    for x, y in zip(others, _everything_but_d(model_a, state_a)):
        np.testing.assert_array_equal(x, y)


def test_a_d_only_update_obeys_dbalance():
    from lib.train.config import TrainConfig
    from lib.train.teco_step import build
    model, state, step = build(TrainConfig(**TINY_GAN, Dbalance=0.4), seed=1)
    state.t_balance_ema.assign(0.5)     # D is ahead: the original would not update it
    before = _d_state(model, state)
    out = step.train_discriminator(*_batch(1))
    assert not bool(out["with_d"].numpy())
    for x, y in zip(before, _d_state(model, state)):
        np.testing.assert_array_equal(x, y)


def test_the_option_is_checked_and_recorded():
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.run_folder import changed_settings, run_identity
    with pytest.raises(UserError, match="--D_extra_updates must be at least 0"):
        TrainConfig(D_extra_updates=-1).validate()
    with pytest.raises(UserError, match="needs the discriminator"):
        TrainConfig(ratio=-0.01, D_extra_updates=1).validate()

    def settings(**kw):
        return run_identity(TrainConfig(**kw), DataConfig(), RunConfig())["settings"]
    assert settings(D_extra_updates=2)["D_extra_updates"] == 2
    assert "D_extra_updates" not in settings()
    assert changed_settings(settings(), settings(D_extra_updates=1)) == {
        "D_extra_updates": (0, 1)}


def test_the_trainer_runs_them_before_each_step(tmp_path):
    from lib.train.trainer import train
    scenes = make_scenes(str(tmp_path / "scenes"), "bikes.mp4", count=3, frames=6,
                         size=(64, 56))
    steps = 3
    # --Dbalance above any t_balance: every D update is applied, so each is counted
    run = train(*tiny_configs(scenes, str(tmp_path / "run"), max_iter=steps, D_extra_updates=2,
                              Dbalance=100.0, **TINY_GAN), log=lambda *a: None)
    state = run.state
    assert int(state.global_step.numpy()) == steps
    assert int(state.with_d_counter.numpy()) == steps     # the steps' own D updates only
    applied = round(np.log(float(state.opt_discriminator.beta1_power.numpy())) / np.log(0.9)) - 1
    assert applied == 3 * steps                           # 2 extra + 1 per step
    assert round(np.log(float(state.opt_generator.beta1_power.numpy())) / np.log(0.9)) - 1 == steps
    with open(os.path.join(tmp_path, "run", "run.json")) as handle:
        assert '"D_extra_updates": 2' in handle.read()
