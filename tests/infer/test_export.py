"""--mode export: the exported step (SavedModel, TFLite, ONNX) reproduces --mode inference on a real
clip."""
import dataclasses
import json
import os

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT
from inference_helpers import inference_config, run_main
from lib.infer import demo
from lib.infer.config import ExportConfig
from lib.io.frame_io import list_frames, read_image_rgb8

# A real clip (the shipped demo frames), cropped small; 36 x 52 is not a multiple of 8, so the
# flow padding runs, and 7 frames give the full 5-frame warm-up.
CROP = (slice(60, 96), slice(120, 172))


def _real_clip(folder, n=7):
    os.makedirs(folder)
    for path in list_frames(demo.DEMO_LR)[:n]:
        cv2.imwrite(os.path.join(folder, os.path.basename(path)), cv2.imread(path)[CROP])
    return folder


# The formats' extra packages (requirements-export.txt); without them the format's test skips.
NEEDS = {"savedmodel": (), "tflite": (), "onnx": ("tf2onnx", "onnx", "onnxruntime")}
# Largest difference to --mode inference's float outputs over the clip. The SavedModel is the
# same TensorFlow kernels; TFLite (XNNPACK) and ONNX Runtime sum the convolutions in their own
# order (measured: under 1e-6 after 12 recurrent steps); a grey level is 1/255 = 4e-3.
TOLERANCE = {"savedmodel": 1e-5, "tflite": 1e-5, "onnx": 1e-5}


def _needs(fmt):
    for name in NEEDS[fmt]:
        pytest.importorskip(name, reason=f"--format {fmt} needs {name} "
                            "(pip install -r requirements-export.txt)")


@pytest.fixture(scope="module")
def export_shipped(tmp_path_factory):
    """``export_shipped(fmt)``: the shipped model exported in ``fmt`` (once per module)."""
    from lib.infer.export import run_export
    checkpoint, done = demo.shipped_checkpoint(), {}

    def export(fmt):
        if fmt not in done:
            target = str(tmp_path_factory.mktemp(f"export_{fmt}") / "step")
            run_export(ExportConfig(checkpoint=checkpoint, num_resblock=10, output_dir=target,
                                    overwrite=False, format=fmt))
            done[fmt] = target
        return done[fmt]
    return export


@pytest.fixture(scope="module")
def inference_reference(tmp_path_factory):
    """--mode inference on the real clip with the shipped model: the clip's folder, the float
    outputs of every step before quantisation (warm-up dropped) and the saved frames."""
    import lib.infer.driver as inference
    tmp_path = tmp_path_factory.mktemp("inference")
    clip = _real_clip(str(tmp_path / "clip"))
    recorded = []
    make_upscaler = inference.make_upscaler

    def recording_upscaler(*args, **kwargs):
        upscaler = make_upscaler(*args, **kwargs)
        for name in ("first_u8", "next_u8"):
            def call(*inputs, fn=getattr(upscaler, name)):
                out, out_u8 = fn(*inputs)
                recorded.append(out.numpy()[0])
                return out, out_u8
            setattr(upscaler, name, call)
        return upscaler

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(inference, "make_upscaler", recording_upscaler)
        result = inference.run_inference(inference_config(
            input_dir_LR=clip, output_dir=str(tmp_path / "out"),
            checkpoint=demo.shipped_checkpoint(), num_resblock=10))
    assert result["clip_frames"] == 7 and len(recorded) == 12
    saved = [read_image_rgb8(p) for p in list_frames(str(tmp_path / "out"))]
    return clip, recorded[5:], saved                  # the warm-up outputs are dropped


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "onnx"])
def test_export_equals_inference_mode_on_a_real_clip(fmt, export_shipped, inference_reference):
    """The README's recurrence through the exported model (SavedModel in TensorFlow, .tflite in
    the LiteRT interpreter, .onnx in ONNX Runtime) against --mode inference: float outputs within
    TOLERANCE, the model's own uint8 frames within 1 level of the frames inference saved."""
    from lib.infer.export import MODEL_FILES, load_step, run_clip_steps
    _needs(fmt)
    clip, reference, saved = inference_reference
    target = export_shipped(fmt)
    if fmt in MODEL_FILES:
        assert os.path.isfile(os.path.join(target, MODEL_FILES[fmt]))
    frames = [read_image_rgb8(p).astype(np.float32) / 255.0 for p in list_frames(clip)]
    results = run_clip_steps(load_step(target), frames)
    assert len(results) == len(reference) == len(saved) == 7
    worst = max(float(np.abs(r["output"][0] - ref).max()) for r, ref in zip(results, reference))
    print(f"{fmt}: largest difference to --mode inference {worst:.2e}")
    assert worst <= TOLERANCE[fmt], worst
    quantised = [r["output_uint8"][0] for r in results]
    assert all(q.dtype == np.uint8 for q in quantised)
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(saved, quantised)) <= 1


def test_saved_model_signature_takes_any_frame_size(export_shipped):
    import tensorflow as tf
    target = export_shipped("savedmodel")
    step = tf.saved_model.load(target).signatures["serving_default"]
    for name in ("lr", "prev_lr", "prev_output"):
        assert step.structured_input_signature[1][name].shape.as_list() == [1, None, None, 3]
    lr = tf.random.uniform([1, 24, 40, 3], seed=1)
    out = step(lr=lr, prev_lr=tf.zeros_like(lr), prev_output=tf.zeros([1, 96, 160, 3]))
    assert out["output"].shape == (1, 96, 160, 3) and out["output_uint8"].dtype == tf.uint8
    with open(os.path.join(target, "tecogan_export.json"), encoding="utf-8") as handle:
        assert json.load(handle)["format"] == "savedmodel"


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_converted_step_takes_any_frame_size_and_equals_the_saved_model(fmt, export_shipped):
    """One loaded .tflite / .onnx step, two frame sizes (one not a multiple of 8, so the flow's
    symmetric padding runs) and a moving previous frame (a non-trivial warp), against the
    SavedModel."""
    from lib.infer.export import load_step
    _needs(fmt)
    ours, reference = load_step(export_shipped(fmt)), load_step(export_shipped("savedmodel"))
    rng = np.random.default_rng(5)
    for h, w in ((24, 40), (19, 13)):
        prev_lr = rng.uniform(0, 1, (1, h, w, 3)).astype(np.float32)
        inputs = dict(lr=np.roll(prev_lr, (1, 2), axis=(1, 2)), prev_lr=prev_lr,
                      prev_output=rng.uniform(0, 1, (1, 4 * h, 4 * w, 3)).astype(np.float32))
        got, expected = ours(**inputs), reference(**inputs)
        assert got["output"].shape == expected["output"].shape == (1, 4 * h, 4 * w, 3)
        assert np.abs(got["output"] - expected["output"]).max() <= TOLERANCE[fmt], (h, w)
        assert got["output_uint8"].dtype == np.uint8
        diff = np.abs(got["output_uint8"].astype(int) - expected["output_uint8"])
        assert diff.max() <= 1, (h, w)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_tflite_step_runs_on_tensorflows_interpreter_without_litert(export_shipped, monkeypatch):
    """Without ai-edge-litert, load_step falls back to tf.lite.Interpreter: same numbers."""
    import sys

    from lib.infer.export import load_step
    target = export_shipped("tflite")
    rng = np.random.default_rng(6)
    inputs = dict(lr=rng.uniform(0, 1, (1, 16, 24, 3)).astype(np.float32),
                  prev_lr=rng.uniform(0, 1, (1, 16, 24, 3)).astype(np.float32),
                  prev_output=rng.uniform(0, 1, (1, 64, 96, 3)).astype(np.float32))
    expected = load_step(export_shipped("savedmodel"))(**inputs)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)   # import fails
    got = load_step(target)(**inputs)
    assert np.abs(got["output"] - expected["output"]).max() <= TOLERANCE["tflite"]


def test_onnx_without_tf2onnx_is_one_clear_error(tmp_path, monkeypatch):
    import importlib.util

    import lib.infer.prepare as prepare
    from lib.errors import UserError
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real_find_spec(name, *a))
    config = ExportConfig(checkpoint=os.path.join(REPO_ROOT, "model", "shipped", "TecoGAN_ours"),
                          num_resblock=10, output_dir=str(tmp_path / "e"), format="onnx")
    with pytest.raises(UserError, match="pip install tf2onnx onnx"):
        prepare.check_export_config(config)
    with pytest.raises(UserError, match="--format must be one of savedmodel, tflite, onnx"):
        prepare.check_export_config(dataclasses.replace(config, format="coreml"))
    assert not (tmp_path / "e").exists()


def _error_line(result):
    lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


def test_export_refuses_bad_flags_and_keeps_an_existing_folder(tmp_path):
    shipped = os.path.join(REPO_ROOT, "model", "shipped", "TecoGAN_ours")
    keep = tmp_path / "taken"
    keep.mkdir()
    (keep / "mine.txt").write_text("user's file")
    line = _error_line(run_main(["--mode", "export", "--checkpoint", shipped, "--num_resblock",
                                 "10", "--output_dir", str(keep)]))
    assert "not empty" in line and "--overwrite" in line
    assert (keep / "mine.txt").read_text() == "user's file"
    line = _error_line(run_main(["--mode", "export", "--checkpoint", str(tmp_path / "none"),
                                 "--num_resblock", "10", "--output_dir", str(tmp_path / "e")]))
    assert "model/shipped/TecoGAN_ours" in line and "runGan.py 0" in line
    line = _error_line(run_main(["--mode", "export", "--checkpoint", shipped, "--num_resblock",
                                 "0", "--output_dir", str(tmp_path / "e")]))
    assert "--num_resblock must be at least 1" in line
    line = _error_line(run_main(["--mode", "export", "--format", "coreml", "--checkpoint",
                                 shipped, "--num_resblock", "10", "--output_dir",
                                 str(tmp_path / "e")]))
    assert "--format" in line and "savedmodel|tflite|onnx" in line
    assert not (tmp_path / "e").exists()
