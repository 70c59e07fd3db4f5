"""Bad input for inference: each case gives a clear UserError (CLI: one line, exit 2)."""
import os
import shutil

import cv2
import numpy as np
import pytest

from inference_helpers import (inference_config, run_main, save_random_model,
                               write_random_clip)
from lib.errors import UserError
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.infer.driver import run_inference


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("model") / "model"))


def _run(model, **kw):
    return run_inference(inference_config(checkpoint=model, num_resblock=2, **kw))


def test_missing_and_empty_input(tmp_path, model):
    with pytest.raises(UserError, match="does not exist"):
        _run(model, input_dir_LR=str(tmp_path / "nope"), output_dir=str(tmp_path / "o"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a frame")
    with pytest.raises(UserError, match="no .png frames"):
        _run(model, input_dir_LR=str(tmp_path / "empty"), output_dir=str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_mixed_frame_sizes_named(tmp_path, model):
    write_random_clip(str(tmp_path / "c"))
    cv2.imwrite(str(tmp_path / "c" / "0004.png"), np.zeros((24, 16, 3), np.uint8))
    with pytest.raises(UserError, match=r"'0004.png' is 16x24"):
        _run(model, input_dir_LR=str(tmp_path / "c"), output_dir=str(tmp_path / "o"))


def test_grey_rgba_and_16bit_frames_give_the_rgb_result(tmp_path, model):
    rgb = write_random_clip(str(tmp_path / "rgb"))
    grey_frames = [f[:, :, :1].repeat(3, axis=2) for f in rgb]
    for name, convert in (("grey", lambda f: f[:, :, 0]),
                          ("rgba", lambda f: np.dstack([f, np.full(f.shape[:2], 7, np.uint8)])),
                          ("deep", lambda f: f.astype(np.uint16) * 257)):
        os.makedirs(tmp_path / name)
        source = grey_frames if name == "grey" else rgb
        for i, frame in enumerate(source):
            cv2.imwrite(str(tmp_path / name / f"{i + 1:04d}.png"), convert(frame))
    # Reading: each variant decodes to the RGB uint8 it stands for.
    for name in ("rgba", "deep"):
        for path, frame in zip(list_frames(str(tmp_path / name)), rgb):
            np.testing.assert_array_equal(read_image_rgb8(path)[:, :, ::-1], frame)
    for path, frame in zip(list_frames(str(tmp_path / "grey")), grey_frames):
        np.testing.assert_array_equal(read_image_rgb8(path), frame)
    # Whole runs: 16-bit gives exactly the 8-bit outputs (the original produced white frames).
    _run(model, input_dir_LR=str(tmp_path / "rgb"), output_dir=str(tmp_path / "o8"))
    _run(model, input_dir_LR=str(tmp_path / "deep"), output_dir=str(tmp_path / "o16"))
    for a, b in zip(list_frames(str(tmp_path / "o8")), list_frames(str(tmp_path / "o16"))):
        np.testing.assert_array_equal(read_image_rgb8(a), read_image_rgb8(b))


def test_truncated_and_fake_images(tmp_path, model):
    write_random_clip(str(tmp_path / "c"))
    data = open(tmp_path / "c" / "0003.png", "rb").read()
    open(tmp_path / "c" / "0003.png", "wb").write(data[: len(data) // 2])
    with pytest.raises(UserError, match="0003.png"):
        _run(model, input_dir_LR=str(tmp_path / "c"), output_dir=str(tmp_path / "o"))
    write_random_clip(str(tmp_path / "d"))
    (tmp_path / "d" / "0002.png").write_bytes(b"this is not a png")
    with pytest.raises(UserError, match="0002.png"):
        _run(model, input_dir_LR=str(tmp_path / "d"), output_dir=str(tmp_path / "o"))


def test_truncated_video(tmp_path, model):
    from lib.io.video_io import VideoWriter
    video = str(tmp_path / "clip.mp4")
    frames = write_random_clip(str(tmp_path / "c"), n=20, size=(32, 32))
    with VideoWriter(video, 10.0, 32, 32, crf=20) as writer:
        for frame in frames:
            writer.write(frame)
    data = open(video, "rb").read()
    open(video, "wb").write(data[: len(data) // 3])
    with pytest.raises(UserError, match="clip.mp4"):
        _run(model, input_dir_LR=video, output_dir=str(tmp_path / "o"))


def test_checkpoint_missing_truncated_and_wrong_size(tmp_path, model):
    write_random_clip(str(tmp_path / "c"))
    common = dict(input_dir_LR=str(tmp_path / "c"), output_dir=str(tmp_path / "o"))
    with pytest.raises(UserError, match="not found"):
        run_inference(inference_config(checkpoint=str(tmp_path / "none"), **common))
    with pytest.raises(UserError, match="2 residual blocks.*--num_resblock 16"):
        run_inference(inference_config(checkpoint=model, num_resblock=16, **common))
    broken = str(tmp_path / "broken" / "model")
    os.makedirs(os.path.dirname(broken))
    for ext in (".index", ".data-00000-of-00001"):
        shutil.copy(model + ext, broken + ext)
    data = open(broken + ".data-00000-of-00001", "rb").read()
    open(broken + ".data-00000-of-00001", "wb").write(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        run_inference(inference_config(checkpoint=broken, num_resblock=2, **common))
    open(broken + ".index", "wb").write(b"garbage")
    with pytest.raises(UserError, match="cannot be read"):
        run_inference(inference_config(checkpoint=broken, num_resblock=2, **common))
    # a healthy checkpoint in a folder whose name TensorFlow would read as a file pattern: the
    # name is the problem, not the file (which TF would report as not found)
    patterned = str(tmp_path / "take[2]" / "model")
    os.makedirs(os.path.dirname(patterned))
    for ext in (".index", ".data-00000-of-00001"):
        shutil.copy(model + ext, patterned + ext)
    with pytest.raises(UserError, match=r"holds \[: TensorFlow reads checkpoint paths as file"):
        run_inference(inference_config(checkpoint=patterned, num_resblock=2, **common))


def test_checkpoint_with_other_shapes(tmp_path):
    import tensorflow as tf
    from lib.models.checkpoint import save_official
    from lib.models.networks import FNet, Generator
    generator, fnet = Generator(2), FNet()
    variables = {**generator.official_variables(), **fnet.official_variables()}
    name = "fnet/autoencode_unit/encoder_1/conv_1/Conv/weights"
    variables[name] = tf.zeros([3, 3, 6, 16])
    prefix = save_official(variables, str(tmp_path / "odd"))
    write_random_clip(str(tmp_path / "c"))
    with pytest.raises(UserError, match=f"'{name}' has shape \\[3, 3, 6, 16\\]"):
        run_inference(inference_config(checkpoint=prefix, num_resblock=2,
                                      input_dir_LR=str(tmp_path / "c"),
                                      output_dir=str(tmp_path / "o")))


def test_output_folder_of_another_clip(tmp_path, model):
    write_random_clip(str(tmp_path / "a"))
    write_random_clip(str(tmp_path / "b"), n=6)
    for i in range(6):
        os.rename(tmp_path / "b" / f"{i + 1:04d}.png", tmp_path / "b" / f"b{i + 1:02d}.png")
    out = str(tmp_path / "o")
    _run(model, input_dir_LR=str(tmp_path / "a"), output_dir=out)
    first = open(os.path.join(out, "output_0001.png"), "rb").read()
    _run(model, input_dir_LR=str(tmp_path / "a"), output_dir=out)      # same clip: fine
    with pytest.raises(UserError, match="another clip.*--overwrite"):
        _run(model, input_dir_LR=str(tmp_path / "b"), output_dir=out)
    assert open(os.path.join(out, "output_0001.png"), "rb").read() == first   # untouched
    write_random_clip(str(tmp_path / "big"), size=(24, 16))
    with pytest.raises(UserError, match="another size"):
        _run(model, input_dir_LR=str(tmp_path / "big"), output_dir=out)
    _run(model, input_dir_LR=str(tmp_path / "b"), output_dir=out, overwrite=True)
    assert sorted(n for n in os.listdir(out) if n.endswith(".png")) == \
        [f"output_b{i:02d}.png" for i in range(1, 7)]


def test_cli_reports_one_line_and_exit_code(tmp_path, model):
    result = run_main(["--input_dir_LR", str(tmp_path / "missing"), "--output_dir",
                       str(tmp_path / "o"), "--checkpoint", model, "--num_resblock", "2"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error_lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    assert len(error_lines) == 1 and "does not exist" in error_lines[0]
