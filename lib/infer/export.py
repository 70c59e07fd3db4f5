"""``main.py --mode export``: one recurrent step of TecoGAN/FRVSR as a TensorFlow SavedModel,
a TFLite model (builtin ops only) or an ONNX model (``--format savedmodel|tflite|onnx``).

The step (the SavedModel's ``serving_default`` signature; the same names in TFLite and ONNX) takes the current LR frame and the state (previous
LR frame, previous output) and returns the HR frame and the new state; frame sizes are dynamic.
It is the same arithmetic as ``--mode inference`` (fast generator graph, lib/infer/fastpath.py),
but the legacy resizes, the flow's symmetric padding and the warp are the converter-safe versions
of lib/ops/portable.py (gathers and constant weights; equal to the originals to float rounding),
so the TFLite converter (builtin ops only) and tf2onnx carry the step without changing its numbers;
the warp is not XLA-compiled (the two agree to about 2e-7).

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
import tempfile

import numpy as np
import tensorflow as tf

from lib.errors import UserError
from lib.infer import fastpath
from lib.infer.driver import build_models
from lib.infer.prepare import EXPORT_FORMATS, check_export_config
from lib.io import atomic
from lib.models.networks import MAX_FLOW, deprocess, preprocess
from lib.ops import portable
from lib.ops.layers import lrelu, max_pool_2x2

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
        # FNet's three VALID pools give (h//8*8) x (w//8*8); the original pads SYMMETRIC back.
        flow = portable.symmetric_pad_to(_fnet_flow(self.fnet, tf.concat([prev_lr, lr], axis=-1)),
                                         shape[1], shape[2])
        warped = portable.dense_image_warp(prev_output, portable.upscale_four(flow * 4.0))
        gen_input = tf.concat([lr, tf.nn.space_to_depth(warped, 4)], axis=-1)
        output = deprocess(_generator_output(self.generator, gen_input, lr))
        output_u8 = tf.cast(tf.clip_by_value(output * 255.0, 0.0, 255.0), tf.uint8)
        return {"output": output, "output_uint8": output_u8}


def _fnet_flow(fnet, pair):
    """``FNet.__call__`` with the converter-safe bilinear x2 (lib/models/networks.py)."""
    net = pair
    for conv_1, conv_2 in fnet.encoder:
        net = max_pool_2x2(lrelu(conv_2(lrelu(conv_1(net)))))
    for conv_1, conv_2 in fnet.decoder:
        net = portable.upscale_two(lrelu(conv_2(lrelu(conv_1(net)))))
    net = lrelu(fnet.out_conv1(net))
    return tf.tanh(fnet.out_conv2(net)) * MAX_FLOW


def _generator_output(generator, gen_input, lr):
    """``fastpath.generator_output`` with the converter-safe bicubic x4 skip (``lr`` is
    ``gen_input[..., :3]``, passed as is to spare the converters an ellipsis slice)."""
    features = fastpath.features(generator, gen_input)
    return preprocess(fastpath.upsample(generator, features) + portable.bicubic_four(lr))


FORMATS = EXPORT_FORMATS
# The file each format writes inside --output_dir (the SavedModel is the folder itself).
MODEL_FILES = {"tflite": "tecogan_step.tflite", "onnx": "tecogan_step.onnx"}
FORMAT_NAMES = {"savedmodel": "SavedModel", "tflite": "TFLite model", "onnx": "ONNX model"}
ONNX_OPSET = 17


# Every name an export writes into --output_dir (tf.saved_model.save's four, the converted
# model files, the description): all that --overwrite may replace; anything else there stays.
EXPORT_NAMES = ("saved_model.pb", "fingerprint.pb", "variables", "assets",
                "tecogan_export.json") + tuple(MODEL_FILES.values())


def run_export(config):
    """Build the step of an :class:`lib.infer.config.ExportConfig`'s checkpoint in
    ``config.format``, write it to a new temporary folder next to the target (a unique name:
    lib/io/atomic.py), then move its files in place. With --overwrite only the
    :data:`EXPORT_NAMES` of the target are replaced; on any error (a full disk included) the
    temporary goes and the target is as it was."""
    check_export_config(config)
    generator, fnet = build_models(config.num_resblock, config.checkpoint)
    module = RecurrentStep(generator, fnet)
    target = os.path.abspath(config.output_dir)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with atomic.atomic_folder(target, replace_names=EXPORT_NAMES) as partial:
            {"savedmodel": _write_saved_model, "tflite": _write_tflite,
             "onnx": _write_onnx}[config.format](module, partial)
            _write_description(config, partial)
    except Exception as err:        # noqa: BLE001 (re-raised unless the disk is full)
        if not _is_no_space(err):
            raise
        raise UserError(f"no space left on the device while exporting to '{target}'; nothing "
                        "was written (free some space and run the export again)") from None
    where = os.path.join(target, MODEL_FILES[config.format]) if config.format in MODEL_FILES \
        else target
    print(f"{FORMAT_NAMES[config.format]} of one recurrent step ({config.num_resblock} residual blocks, "
          f"any frame size): {where}")
    return target


def _is_no_space(err):
    """A full disk as Python reports it (OSError ENOSPC/EDQUOT), or as TensorFlow does (its
    errors carry strerror's text)."""
    if isinstance(err, OSError):
        return atomic.is_no_space(err)
    message = getattr(err, "message", None) or str(err)
    return any(text in message for text in ("No space left on device", "Disk quota exceeded"))


def _write_description(config, folder):
    with open(os.path.join(folder, "tecogan_export.json"), "w", encoding="utf-8") as handle:
        json.dump({"checkpoint": os.path.abspath(config.checkpoint),
                   "num_resblock": int(config.num_resblock), "format": config.format,
                   "model": MODEL_FILES.get(config.format, "."), "signature": SIGNATURE,
                   "inputs": ["lr", "prev_lr", "prev_output"],
                   "outputs": ["output", "output_uint8"],
                   "first_frame_state": "zeros", "warmup": "f5..f1 then f0..f(N-1); "
                   "min(5, N-1) warm-up outputs dropped"}, handle, indent=1)


def _write_saved_model(module, folder):
    tf.saved_model.save(module, folder, signatures={SIGNATURE: module.step})


def _write_tflite(module, folder):
    """TFLite flatbuffer, builtin ops only (no SELECT_TF_OPS), float32, dynamic frame size."""
    with tempfile.TemporaryDirectory(prefix="tecogan_export_") as saved:
        _write_saved_model(module, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, MODEL_FILES["tflite"]), "wb") as handle:
        handle.write(flatbuffer)


def _write_onnx(module, folder):
    """ONNX (opset 17) by tf2onnx's Python API; input and output names as the signature's."""
    import tf2onnx  # checked by check_export_config (``pip install tf2onnx onnx``)
    os.makedirs(folder, exist_ok=True)
    tf2onnx.convert.from_function(module.step, input_signature=module.step.input_signature,
                                  opset=ONNX_OPSET,
                                  output_path=os.path.join(folder, MODEL_FILES["onnx"]))


def load_step(path):
    """An exported step as a function ``step(lr=, prev_lr=, prev_output=) -> {"output",
    "output_uint8"}`` of NumPy arrays, whatever the format (``path``: the export folder, or the
    .tflite / .onnx file in it). For Python users and the tests; TFLite runs on ai-edge-litert
    (or tf.lite), ONNX on onnxruntime."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return _saved_model_step(path)
        for name in MODEL_FILES.values():
            if os.path.isfile(os.path.join(path, name)):
                return load_step(os.path.join(path, name))
    elif path.endswith(".tflite"):
        return _tflite_step(path)
    elif path.endswith(".onnx"):
        return _onnx_step(path)
    raise UserError(f"'{path}' is no exported step (a SavedModel folder, or a folder with "
                    f"{' or '.join(MODEL_FILES.values())})")


def _saved_model_step(path):
    signature = tf.saved_model.load(path).signatures[SIGNATURE]

    def step(**inputs):
        return {k: v.numpy() for k, v in signature(**{k: tf.constant(v, tf.float32)
                                                      for k, v in inputs.items()}).items()}
    return step


def _tflite_step(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:                       # TF's own (deprecated) copy of the interpreter
        Interpreter = tf.lite.Interpreter
    # The signature runner resizes the dynamic inputs to each call's frame size.
    runner = Interpreter(model_path=path).get_signature_runner(SIGNATURE)
    return lambda **inputs: runner(**{k: np.asarray(v, np.float32) for k, v in inputs.items()})


def _onnx_step(path):
    try:
        import onnxruntime
    except ImportError:
        raise UserError("running an .onnx step needs onnxruntime: pip install onnxruntime") \
            from None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]

    def step(**inputs):
        values = session.run(names, {k: np.asarray(v, np.float32) for k, v in inputs.items()})
        return dict(zip(names, values))
    return step


def run_clip_steps(step, frames):
    """Run float32 LR frames ([h, w, 3] in [0, 1]) through an exported step (a
    :func:`load_step` function, or a SavedModel's signature) exactly as --mode inference does;
    returns each clip frame's outputs ({"output", "output_uint8"}, batch 1, NumPy)."""
    n_warmup = min(5, len(frames) - 1)
    order = list(frames[n_warmup:0:-1]) + list(frames)
    h, w = frames[0].shape[:2]
    prev_lr = np.zeros([1, h, w, 3], np.float32)
    prev_out = np.zeros([1, 4 * h, 4 * w, 3], np.float32)
    results = []
    for i, frame in enumerate(order):
        lr = np.asarray(frame[None], np.float32)
        result = {k: np.asarray(v) for k, v in
                  step(lr=lr, prev_lr=prev_lr, prev_output=prev_out).items()}
        prev_lr, prev_out = lr, result["output"]
        if i >= n_warmup:
            results.append(result)
    return results


def run_clip(step, frames):
    """:func:`run_clip_steps`' float outputs (float32 [4h, 4w, 3], unclipped)."""
    return [result["output"][0] for result in run_clip_steps(step, frames)]
