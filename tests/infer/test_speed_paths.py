"""The fast inference path equals the literal graph; fixed shapes trace once; uint8 in the graph."""
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SHARED
from inference_helpers import inference_config, save_random_model
from lib.models.checkpoint import load_official
from lib.io.frame_io import list_frames, read_image_rgb8, to_uint8_truncated
from lib.infer.driver import run_inference
from lib.models.networks import FNet, Generator
from lib.infer.recurrent import RecurrentUpscaler, warmup_order

TOL = 1e-5
FIXTURE = os.path.join(SHARED, "fixtures", "tf1-inference")


def _fixture_or_random():
    """16-block models and frames: the TF1 fixture's when ../shared is there, else random."""
    generator, fnet = Generator(16, seed=2), FNet(seed=2)
    ckpt = os.path.join(FIXTURE, "model", "TecoGAN-random")
    if os.path.exists(ckpt + ".index"):
        load_official({**generator.official_variables(), **fnet.official_variables()}, ckpt)
        frames = [read_image_rgb8(p).astype(np.float32) / 255.0
                  for p in list_frames(os.path.join(FIXTURE, "inputs"))]
    else:
        generator.output_conv.kernel.assign(generator.output_conv.kernel * 0.08)
        rng = np.random.default_rng(0)
        base = rng.random((52, 70, 3)).astype(np.float32)
        frames = [np.roll(base, i, axis=1)[:44, :60] for i in range(8)]
    return generator, fnet, [f for f, _ in warmup_order(frames)]


def _run(upscaler, sequence, u8=False):
    prev = out = None
    outs = []
    for step, frame in enumerate(sequence):
        cur = tf.constant(frame[None])
        if u8:
            out, out_u8 = upscaler.first_u8(cur) if step == 0 else \
                upscaler.next_u8(prev, cur, out)
            outs.append((out.numpy()[0], out_u8.numpy()[0]))
        else:
            out = upscaler.first(cur) if step == 0 else upscaler.next(prev, cur, out)
            outs.append(out.numpy()[0])
        prev = cur
    return outs


def test_fast_path_equals_literal_graph_free_running():
    generator, fnet, sequence = _fixture_or_random()
    height, width = sequence[0].shape[:2]
    literal = RecurrentUpscaler(generator, fnet, height, width, fast=False)
    fast = RecurrentUpscaler(generator, fnet, height, width)
    assert fast.fast and not literal.fast
    expected, got = _run(literal, sequence), _run(fast, sequence)
    assert len(got) == 13
    for step, (a, b) in enumerate(zip(expected, got)):
        assert np.abs(a - b).max() <= TOL, f"step {step}: {np.abs(a - b).max()}"
    # fixed shapes: one trace per function for the whole clip
    assert fast.first.experimental_get_tracing_count() == 1
    assert fast.next.experimental_get_tracing_count() == 1


def test_uint8_in_graph_is_the_original_save_img():
    generator, fnet, sequence = _fixture_or_random()
    height, width = sequence[0].shape[:2]
    upscaler = RecurrentUpscaler(generator, fnet, height, width)
    for out, out_u8 in _run(upscaler, sequence[:4], u8=True):
        np.testing.assert_array_equal(out_u8, to_uint8_truncated(out))


def _clip(folder, n=6, size=(40, 32)):
    import cv2
    rng = np.random.default_rng(3)
    os.makedirs(folder, exist_ok=True)
    base = rng.integers(0, 256, size=(size[1] + 8, size[0] + 8, 3), dtype=np.uint8)
    for i in range(n):
        cv2.imwrite(os.path.join(folder, f"{i + 1:04d}.png"),
                    np.roll(base, i, axis=1)[:size[1], :size[0]])
    return folder


def test_whole_mode_fast_tiled_and_literal_agree(tmp_path):
    ckpt = save_random_model(str(tmp_path / "m" / "model"), num_resblock=3)
    clip = _clip(str(tmp_path / "clip"))
    outputs = {}
    for name, extra in (("literal", dict(fast_path=False, tile=-1)),
                        ("fast", dict(fast_path=True, tile=-1)),
                        ("tiled", dict(fast_path=True, tile=8))):
        result = run_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / name),
                                               checkpoint=ckpt, num_resblock=3, **extra))
        assert result["tiles"] == (1 if name != "tiled" else 4 * 5)
        outputs[name] = np.stack([read_image_rgb8(p) for p in list_frames(str(tmp_path / name))])
    for name in ("fast", "tiled"):
        diff = np.abs(outputs[name].astype(int) - outputs["literal"])
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, name   # truncation at a boundary


def test_bf16_runs_close_to_fp32():
    generator, fnet, sequence = _fixture_or_random()
    height, width = sequence[0].shape[:2]
    fp32 = _run(RecurrentUpscaler(generator, fnet, height, width), sequence[:6])
    bf16 = _run(RecurrentUpscaler(generator, fnet, height, width, precision="bf16"), sequence[:6])
    diff = np.abs(np.stack(fp32) - np.stack(bf16))
    assert 0 < diff.mean() < 0.05


def test_bad_tile_and_precision_are_reported(tmp_path):
    from lib.errors import UserError
    with pytest.raises(UserError, match="--tile"):
        run_inference(inference_config(input_dir_LR=str(tmp_path), output_dir=str(tmp_path / "o"),
                                      checkpoint="x", tile=-5))
    assert not (tmp_path / "o").exists()
    generator, fnet = Generator(1), FNet()
    with pytest.raises(ValueError, match="precision"):
        RecurrentUpscaler(generator, fnet, 16, 16, precision="fp8")
