"""--precision bf16 (mixed-precision training) and --ema_decay (an average of G and FNet).

bf16 is checked against fp32 on the original graph's fixture batch (one step) and on a tiny
200-step run; the fp32 graph itself stays exactly the original's (tests/train/test_train_fixture.py,
unchanged). The average is checked against its definition, across a kill and a resume, and as a
model that inference and export_inference_weights load.
"""
import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import shared_path
from train_helpers import (fixture_batch, fixture_config, fixture_root, load_fixture_weights,
                           make_scenes, straight_and_resumed, tiny_configs)

from lib.errors import UserError

# bf16 keeps 8 significant bits: each conv output is rounded to ~0.4 %. Measured on the fixture
# batch (bf16 against fp32, 2 CPU threads, oneDNN): forward losses within 0.44 % (the warp loss;
# the others within 0.2 %), t_balance_raw (a difference of two means of ~0.6) within 8.6e-4
# absolute; after one Adam step, the warp loss within 4.7 % (Adam moves every weight by +-lr
# whatever the gradient's size, so rounding-level gradients flip direction), the others 0.35 %.
BF16_FORWARD_RTOL = 1e-2
BF16_T_BALANCE_ATOL = 2e-3
BF16_POST_STEP_RTOL = 1e-2
BF16_POST_STEP_WARP_RTOL = 1e-1
# Tiny 200-step runs (same data, same seed): the mean content loss of the last 50 steps of the
# bf16 run within this fraction of fp32's (measured: 0.0317 against 0.0318, 0.4 %).
BF16_CURVE_BAND = 0.15


def _one_step(variant, precision):
    from lib.train.teco_step import build
    config = dataclasses.replace(fixture_config(variant), precision=precision)
    model, _, step = build(config)
    load_fixture_weights(model)
    inputs, targets = fixture_batch()
    before = {k: float(v) for k, v in step.train(inputs, targets).items()
              if np.ndim(v) == 0 and v.dtype.is_floating}
    after = {k: float(v) for k, v in step.evaluate(inputs, targets).items()}
    return model, before, after


@pytest.mark.parametrize("variant", ["frvsr", "tecogan"])
def test_bf16_step_tracks_fp32_on_the_fixture_batch(variant):
    fixture_root()
    model32, before32, after32 = _one_step(variant, "fp32")
    model16, before16, after16 = _one_step(variant, "bf16")
    assert model16.generator.compute_dtype == tf.bfloat16
    assert model16.generator.resblocks[0][0].compute_dtype == tf.bfloat16
    assert model32.generator.resblocks[0][0].compute_dtype == tf.float32
    differ = 0
    for name, value in before32.items():
        if name in ("learning_rate", "dt_ratio"):
            continue
        if name == "t_balance_raw":
            assert abs(before16[name] - value) <= BF16_T_BALANCE_ATOL, name
        else:
            assert before16[name] == pytest.approx(value, rel=BF16_FORWARD_RTOL), name
        differ += before16[name] != value
    assert differ > 0      # bf16 really ran (identical numbers would mean fp32 everywhere)
    for name, value in after32.items():
        rtol = BF16_POST_STEP_WARP_RTOL if name == "l2_warp_loss" else BF16_POST_STEP_RTOL
        assert after16[name] == pytest.approx(value, rel=rtol), name
    # variables, and so Adam's state and the checkpoints, stay float32
    assert all(v.dtype == tf.float32 for v in model16.official_variables().values())


def test_fp32_graph_has_no_bfloat16():
    """--precision fp32 (the default) adds no cast: the graph is the original's."""
    from lib.models.networks import Generator
    gen = Generator(2)
    graph = tf.function(gen).get_concrete_function(
        tf.TensorSpec([1, 8, 8, 51], tf.float32)).graph
    assert not [op for op in graph.get_operations() if op.type == "Cast"]
    gen16 = Generator(2, compute_dtype=tf.bfloat16)
    graph16 = tf.function(gen16).get_concrete_function(
        tf.TensorSpec([1, 8, 8, 51], tf.float32)).graph
    convs = [op for op in graph16.get_operations() if op.type == "Conv2D"]
    assert convs and all(op.get_attr("T") == tf.bfloat16 for op in convs)
    assert gen16(tf.zeros([1, 8, 8, 51])).dtype == tf.float32


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    shared_path("data", "videos")
    root = str(tmp_path_factory.mktemp("ema_scenes"))
    return make_scenes(root, "bikes.mp4", count=3, frames=6, size=(64, 56))


def test_bf16_200_steps_track_fp32(scenes, tmp_path):
    from lib.train.trainer import train
    curves = {}
    for precision in ("fp32", "bf16"):
        trainer = train(*tiny_configs(scenes, str(tmp_path / precision), max_iter=200,
                                      precision=precision, display_freq=1000),
                        log=lambda *a: None)
        curves[precision] = np.array([h["l2_content_loss"] for h in trainer.history])
    fp32, bf16 = curves["fp32"], curves["bf16"]
    assert len(fp32) == len(bf16) == 200 and np.all(np.isfinite(bf16))
    print("content loss, first 10 / last 50 steps: fp32", fp32[:10].mean(), fp32[-50:].mean(),
          "bf16", bf16[:10].mean(), bf16[-50:].mean())
    assert bf16[-50:].mean() < 0.9 * bf16[:10].mean()      # it learns (measured 0.77)
    assert abs(bf16[-50:].mean() - fp32[-50:].mean()) <= BF16_CURVE_BAND * fp32[-50:].mean(), (
        fp32[-50:].mean(), bf16[-50:].mean())


def test_training_precision_and_ema_are_checked():
    from lib.train.config import TrainConfig
    with pytest.raises(UserError, match="fp16 is for inference only"):
        TrainConfig(precision="fp16").validate()
    for decay in (-0.1, 1.0, 2.0):
        with pytest.raises(UserError, match="--ema_decay must be in"):
            TrainConfig(ema_decay=decay).validate()
    TrainConfig(precision="bf16", ema_decay=0.999).validate()


def test_bf16_note_only_on_cpus_without_bf16(monkeypatch, tmp_path):
    from lib.train import strategy
    from lib.train.strategy import bf16_note
    assert bf16_note("fp32", flags=set(), gpus=[]) is None
    assert "slower" in bf16_note("bf16", flags={"avx2", "fma"}, gpus=[])
    assert bf16_note("bf16", flags={"avx512_bf16"}, gpus=[]) is None
    assert bf16_note("bf16", flags={"amx_bf16"}, gpus=[]) is None
    assert bf16_note("bf16", flags={"avx2"}, gpus=["GPU:0"]) is None
    # flags=None reads this machine's /proc/cpuinfo (whatever CPU runs the tests) ...
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    read_flags = strategy.cpu_flags
    monkeypatch.setattr(strategy, "cpu_flags", lambda: read_flags(str(cpuinfo)))
    assert "slower" in bf16_note("bf16", gpus=[])
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert bf16_note("bf16", gpus=[]) is None
    # ... and where it cannot be read the CPU is unknown: say nothing
    cpuinfo.unlink()
    assert bf16_note("bf16", gpus=[]) is None


def test_weight_average_follows_its_definition():
    """shadow = w_1 after the first step, then shadow -= (shadow - w_t) * (1 - decay)."""
    from lib.train.config import TrainConfig
    from lib.train.teco_step import build
    decay = 0.6
    config = TrainConfig(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1, ratio=-0.01,
                         learning_rate=1e-3, ema_decay=decay)
    model, _, step = build(config)
    rng = np.random.default_rng(3)
    inputs = rng.uniform(0, 1, (2, 3, 8, 8, 3)).astype(np.float32)
    targets = rng.uniform(-1, 1, (2, 3, 32, 32, 3)).astype(np.float32)
    average = step.weight_average
    names = average.names
    weights = {**model.generator.official_variables(), **model.fnet.official_variables()}
    expected = None
    for _ in range(3):
        step.train(inputs, targets)
        now = {n: weights[n].numpy() for n in names}
        expected = now if expected is None else {
            n: expected[n] - (expected[n] - now[n]) * np.float32(1 - decay) for n in names}
    shadows = average.official_variables()
    assert set(shadows) == set(names) and len(names) == len(weights)
    for n in names:
        np.testing.assert_allclose(shadows[n].numpy(), expected[n], rtol=1e-6, atol=1e-7)
    moved = [n for n in names if not np.array_equal(shadows[n].numpy(), weights[n].numpy())]
    assert moved       # the average lags behind the weights


def _tensors(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_weight_average_resumes_exactly_and_exports(scenes, tmp_path):
    """6 steps straight == 3 steps, stop, resume, 3 more (with --deterministic): the state and
    model_ema-6 are identical; model_ema-N loads for inference and exports like model-N."""
    from lib.models.checkpoint import export_inference_weights
    from lib.models.networks import FNet, Generator
    messages = straight_and_resumed(scenes, str(tmp_path), 3, max_iter=6, save_freq=3,
                                    ema_decay=0.5, learning_rate=1e-3)
    assert any("resumed from" in m for m in messages)
    names = sorted(os.listdir(tmp_path / "straight"))
    assert "model_ema-3.index" in names and "model_ema-6.index" in names
    assert "model_ema-0.index" not in names        # nothing averaged before the first step
    a = _tensors(str(tmp_path / "straight" / "model_ema-6"))
    b = _tensors(str(tmp_path / "split" / "model_ema-6"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    raw = _tensors(str(tmp_path / "straight" / "model-6"))
    assert any(not np.array_equal(a[k], raw[k]) for k in a if k in raw)
    official = set(Generator(1).official_variables()) | set(FNet().official_variables())
    assert official <= set(a)
    prefix, blocks = export_inference_weights(str(tmp_path / "straight" / "model_ema-6"),
                                              str(tmp_path / "exported" / "ema"))
    assert blocks == 1 and set(_tensors(prefix)) == official
    for name in official:
        np.testing.assert_array_equal(_tensors(prefix)[name], a[name])


def test_average_added_to_a_run_without_one_and_never_dropped_silently(scenes, tmp_path):
    from lib.train.trainer import train
    out = str(tmp_path / "run")
    train(*tiny_configs(scenes, out, max_iter=2, save_freq=2), log=lambda *a: None)
    messages = []
    train(*tiny_configs(scenes, out, max_iter=4, save_freq=2, ema_decay=0.9),
          log=messages.append)
    assert any("no weight average" in m for m in messages)
    assert os.path.exists(os.path.join(out, "model_ema-4.index"))
    with pytest.raises(UserError, match="--ema_decay"):
        train(*tiny_configs(scenes, out, max_iter=6, save_freq=2), log=lambda *a: None)
