"""Fidelity against the ORIGINAL TF1 inference graph (../shared/fixtures/tf1-inference).

The fixture ran the original main.py --mode inference with random weights (16 blocks) on 60x44 crops,
so the symmetric flow padding runs. We load its checkpoint through the normal path and compare
every step, free-running and teacher-forced.
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import shared_path
from lib.models.checkpoint import load_official
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.models.networks import FNet, Generator
from lib.infer.recurrent import RecurrentUpscaler, warmup_order
from lib.ops.resize import upscale_four
from lib.ops.warp import dense_image_warp

GEN_ATOL = 1e-4      # fixture README: an independent float32 port reached 1.4e-6
FLOW_ATOL = 1e-3     # px


@pytest.fixture(scope="module")
def fixture():
    root = shared_path("fixtures", "tf1-inference")
    arrays = dict(np.load(os.path.join(root, "arrays.npz")))
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    generator, fnet = Generator(16), FNet()
    load_official({**generator.official_variables(), **fnet.official_variables()},
                  os.path.join(root, "model", "TecoGAN-random"))
    frames = [read_image_rgb8(p).astype(np.float32) / 255.0
              for p in list_frames(os.path.join(root, "inputs"))]
    upscaler = RecurrentUpscaler(generator, fnet, *frames[0].shape[:2])
    return root, arrays, manifest, upscaler, frames


def _steps(frames):
    return [f for f, _ in warmup_order(frames)]


def test_free_running_matches_every_step(fixture):
    _, arrays, _, up, frames = fixture
    sequence = _steps(frames)
    assert len(sequence) == arrays["gen_output"].shape[0] == 13
    prev_lr = prev_out = None
    for step, frame in enumerate(sequence):
        cur = tf.constant(frame[None])
        out = up.first(cur) if step == 0 else up.next(prev_lr, cur, prev_out)
        np.testing.assert_allclose(out.numpy()[0], arrays["gen_output"][step], rtol=0,
                                   atol=GEN_ATOL, err_msg=f"step {step}")
        prev_lr, prev_out = cur, out


def test_teacher_forced_fnet_padding_warp_generator(fixture):
    _, arrays, _, up, frames = fixture
    sequence = _steps(frames)
    sel = list(arrays["sel_steps"])
    for step in range(1, len(sequence)):
        prev = tf.constant(sequence[step - 1][None])
        cur = tf.constant(sequence[step][None])
        raw = up.fnet(tf.concat([prev, cur], -1)).numpy()[0]
        np.testing.assert_allclose(raw, arrays["flow_lr_nopad"][step - 1], atol=FLOW_ATOL)
        padded = up.lr_flow(prev, cur).numpy()[0]
        np.testing.assert_allclose(padded, arrays["flow_lr_pad"][step - 1], atol=FLOW_ATOL)
        # Padding alone, exactly, from the fixture's own unpadded flow.
        ref_pad = tf.pad(arrays["flow_lr_nopad"][step - 1][None], [[0, 0], [0, 4], [0, 4], [0, 0]],
                         mode="SYMMETRIC").numpy()[0]
        np.testing.assert_array_equal(ref_pad, arrays["flow_lr_pad"][step - 1])
        # Warp and generator, fed with the fixture's own tensors.
        hr_flow = upscale_four(arrays["flow_lr_pad"][step - 1][None] * 4.0)
        warped = dense_image_warp(arrays["gen_output"][step - 1][None], hr_flow).numpy()[0]
        if step in sel:
            k = sel.index(step)
            np.testing.assert_allclose(hr_flow.numpy()[0], arrays["flow_hr_sel"][k], atol=FLOW_ATOL)
            np.testing.assert_allclose(warped, arrays["pre_warp_sel"][k], atol=GEN_ATOL)
        out = up.generate(cur, tf.constant(warped[None])).numpy()[0]
        np.testing.assert_allclose(out, arrays["gen_output"][step], atol=GEN_ATOL,
                                   err_msg=f"generator at step {step}")
