"""--mode export: the SavedModel of one recurrent step reproduces --mode inference on a real clip."""
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


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from lib.infer.export import run_export
    checkpoint = demo.shipped_checkpoint()
    target = str(tmp_path_factory.mktemp("export") / "step")
    run_export(ExportConfig(checkpoint=checkpoint, num_resblock=10, output_dir=target,
                            overwrite=False))
    return checkpoint, target


def test_saved_model_equals_inference_mode_on_a_real_clip(tmp_path, exported, monkeypatch):
    import lib.infer.driver as inference
    from lib.infer.export import load_step, run_clip
    checkpoint, target = exported
    clip = _real_clip(str(tmp_path / "clip"))

    # --mode inference, recording the float outputs of every step before quantisation.
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

    monkeypatch.setattr(inference, "make_upscaler", recording_upscaler)
    result = inference.run_inference(inference_config(
        input_dir_LR=clip, output_dir=str(tmp_path / "out"), checkpoint=checkpoint,
        num_resblock=10))
    assert result["clip_frames"] == 7 and len(recorded) == 12
    reference = recorded[5:]                      # the warm-up outputs are dropped

    step = load_step(target)
    frames = [read_image_rgb8(p).astype(np.float32) / 255.0 for p in list_frames(clip)]
    ours = run_clip(step, frames)
    assert len(ours) == len(reference) == 7
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ours, reference))
    assert worst <= 1e-5, worst
    # ... and the saved frames: the exported uint8 output against the PNGs inference wrote.
    saved = [read_image_rgb8(p) for p in list_frames(str(tmp_path / "out"))]
    quantised = [np.clip(o * 255.0, 0, 255).astype(np.uint8) for o in ours]
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(saved, quantised)) <= 1


def test_saved_model_takes_any_frame_size(exported):
    from lib.infer.export import load_step
    step = load_step(exported[1])
    for name in ("lr", "prev_lr", "prev_output"):
        assert step.structured_input_signature[1][name].shape.as_list() == [1, None, None, 3]
    import tensorflow as tf
    lr = tf.random.uniform([1, 24, 40, 3], seed=1)
    out = step(lr=lr, prev_lr=tf.zeros_like(lr), prev_output=tf.zeros([1, 96, 160, 3]))
    assert out["output"].shape == (1, 96, 160, 3) and out["output_uint8"].dtype == tf.uint8
    assert os.path.isfile(os.path.join(exported[1], "tecogan_export.json"))


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
    assert not (tmp_path / "e").exists()
