"""``main.py --mode export``: one recurrent step of TecoGAN/FRVSR as a TensorFlow SavedModel.

The SavedModel's ``serving_default`` signature takes the current LR frame and the state (previous
LR frame, previous output) and returns the HR frame and the new state; frame sizes are dynamic.
It is the same arithmetic as ``--mode inference`` (fast generator graph, lib/infer/fastpath.py);
only the warp is the plain TensorFlow op instead of the XLA-compiled one (portable to TF Serving,
TFLite with select TF ops, tf2onnx; the two agree to about 2e-7).

Inputs (float32, values in [0, 1], batch 1)::

    lr           [1, h, w, 3]    current LR frame (RGB / 255)
    prev_lr      [1, h, w, 3]    previous LR frame
    prev_output  [1, 4h, 4w, 3]  previous ``output`` (unclipped, as returned)

Outputs: ``output`` [1, 4h, 4w, 3] float32 (unclipped: feed it back as ``prev_output``),
``output_uint8`` [1, 4h, 4w, 3] (the frame as --mode inference saves it, trunc(clip(255 x))).

First frame of a clip: ``prev_lr`` and ``prev_output`` all zeros. The warp of an all-zero image
is exactly zero, so this step equals the original's first step (a black warped previous frame).
Like --mode inference, run the clip as f5, f4, f3, f2, f1, f0, f1, f2, ..., f(N-1) (five mirrored
warm-up frames; fewer for clips under six frames: ``min(5, N - 1)``) and drop the warm-up outputs.
"""
import json
import os
import shutil

import tensorflow as tf

from lib.infer import fastpath
from lib.infer.driver import build_models
from lib.infer.prepare import check_export_config
from lib.models.networks import deprocess
from lib.ops.resize import upscale_four
from lib.ops.warp import dense_image_warp

SIGNATURE = "serving_default"


class RecurrentStep(tf.Module):
    """One step of the inference recurrence with dynamic frame size (see the module doc)."""

    def __init__(self, generator, fnet):
        super().__init__(name="tecogan_step")
        self.generator, self.fnet = generator, fnet
        self.step = tf.function(self._step, input_signature=[
            tf.TensorSpec([1, None, None, 3], tf.float32, name="lr"),
            tf.TensorSpec([1, None, None, 3], tf.float32, name="prev_lr"),
            tf.TensorSpec([1, None, None, 3], tf.float32, name="prev_output")])

    def _step(self, lr, prev_lr, prev_output):
        shape = tf.shape(lr)
        pad_h, pad_w = shape[1] % 8, shape[2] % 8
        # FNet's three VALID pools give (h//8*8) x (w//8*8); the original pads SYMMETRIC back.
        flow = self.fnet(tf.concat([prev_lr, lr], axis=-1))
        flow = tf.pad(flow, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="SYMMETRIC")
        warped = dense_image_warp(prev_output, upscale_four(flow * 4.0))
        gen_input = tf.concat([lr, tf.nn.space_to_depth(warped, 4)], axis=-1)
        output = deprocess(fastpath.generator_output(self.generator, gen_input))
        output_u8 = tf.cast(tf.clip_by_value(output * 255.0, 0.0, 255.0), tf.uint8)
        return {"output": output, "output_uint8": output_u8}


def run_export(config):
    """Build the step of an :class:`lib.infer.config.ExportConfig`'s checkpoint, save it next to
    the target folder, then move it in place."""
    check_export_config(config)
    generator, fnet = build_models(config.num_resblock, config.checkpoint)
    module = RecurrentStep(generator, fnet)
    target = os.path.abspath(config.output_dir)
    partial = target.rstrip(os.sep) + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    tf.saved_model.save(module, partial, signatures={SIGNATURE: module.step})
    with open(os.path.join(partial, "tecogan_export.json"), "w", encoding="utf-8") as handle:
        json.dump({"checkpoint": os.path.abspath(config.checkpoint),
                   "num_resblock": int(config.num_resblock), "signature": SIGNATURE,
                   "inputs": ["lr", "prev_lr", "prev_output"],
                   "outputs": ["output", "output_uint8"],
                   "first_frame_state": "zeros", "warmup": "f5..f1 then f0..f(N-1); "
                   "min(5, N-1) warm-up outputs dropped"}, handle, indent=1)
    # The old folder (empty, or replaced with --overwrite) goes only once the new one is complete.
    if os.path.exists(target):
        shutil.rmtree(target)
    os.replace(partial, target)
    print(f"SavedModel of one recurrent step ({config.num_resblock} residual blocks, "
          f"signature '{SIGNATURE}'): {target}")
    return target


def load_step(path):
    """The ``serving_default`` function of an exported step (for Python users and the tests)."""
    return tf.saved_model.load(path).signatures[SIGNATURE]


def run_clip(step, frames):
    """Run float32 LR frames ([h, w, 3] in [0, 1]) through an exported step exactly as
    --mode inference does; returns the clip's outputs (float32 [4h, 4w, 3], unclipped)."""
    n_warmup = min(5, len(frames) - 1)
    order = list(frames[n_warmup:0:-1]) + list(frames)
    h, w = frames[0].shape[:2]
    prev_lr = tf.zeros([1, h, w, 3])
    prev_out = tf.zeros([1, 4 * h, 4 * w, 3])
    outputs = []
    for i, frame in enumerate(order):
        lr = tf.constant(frame[None], tf.float32)
        prev_out = step(lr=lr, prev_lr=prev_lr, prev_output=prev_out)["output"]
        prev_lr = lr
        if i >= n_warmup:
            outputs.append(prev_out.numpy()[0])
    return outputs
