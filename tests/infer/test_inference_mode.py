"""The whole inference mode: fixture PNGs, official names, real data, video I/O."""
import os

import cv2
import numpy as np
import tensorflow as tf

from conftest import shared_path
from inference_helpers import inference_config, run_main, save_random_model
from lib.infer.driver import run_inference
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.io.frame_source import open_source
from lib.models.checkpoint import load_official, save_official
from lib.models.networks import FNet, Generator, count_parameters


def _listing():
    path = shared_path("fixtures", "official-checkpoint", "TecoGAN.index.listing.txt")
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "float32":
            shape = [int(v) for v in line[line.index("[") + 1:line.index("]")].split(",")]
            out[parts[0]] = shape
    return out


def test_exported_names_and_shapes_equal_official_checkpoint(tmp_path):
    official = _listing()
    generator, fnet = Generator(16), FNet()
    ours = {**generator.official_variables(), **fnet.official_variables()}
    assert len(official) == 100
    assert {k: v.shape.as_list() for k, v in ours.items()} == official
    assert count_parameters(ours.values()) == 3032229
    # Exported bundle: same names and shapes, same byte size as the released data file.
    prefix = save_official(ours, str(tmp_path / "TecoGAN"))
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_variable_to_shape_map() == official
    assert os.path.getsize(prefix + ".data-00000-of-00001") == 12128916


def test_export_import_round_trip(tmp_path):
    generator, fnet = Generator(10, seed=5), FNet(seed=5)
    src = {**generator.official_variables(), **fnet.official_variables()}
    save_official(src, str(tmp_path / "m"))
    g2, f2 = Generator(10, seed=6), FNet(seed=6)
    dst = {**g2.official_variables(), **f2.official_variables()}
    assert load_official(dst, str(tmp_path)) == []        # a folder with a 'checkpoint' file
    for name in src:
        np.testing.assert_array_equal(src[name].numpy(), dst[name].numpy(), err_msg=name)


def test_whole_mode_reproduces_original_pngs(tmp_path):
    root = shared_path("fixtures", "tf1-inference")
    flags = inference_config(input_dir_LR=os.path.join(root, "inputs"),
                            output_dir=str(tmp_path / "out"),
                            checkpoint=os.path.join(root, "model", "TecoGAN-random"))
    result = run_inference(flags)
    assert result["frames"] == 13
    expected = list_frames(os.path.join(root, "outputs"))
    produced = list_frames(str(tmp_path / "out"))
    assert [os.path.basename(p) for p in produced] == [os.path.basename(p) for p in expected]
    diffs = np.concatenate([np.abs(read_image_rgb8(a).astype(int) - read_image_rgb8(b)).ravel()
                            for a, b in zip(produced, expected)])
    assert diffs.max() <= 1
    assert (diffs > 0).mean() < 1e-3
    log = open(tmp_path / "out" / "log" / "logfile.txt").read()
    assert "Warming up 5" in log and "frame number 8 (+5 warm-up steps)" in log


def test_input_dir_hr_degrades_to_official_lr():
    gt = shared_path("data", "Vid4", "GT", "calendar")
    lr = shared_path("data", "Vid4", "LR", "calendar")
    source = open_source(None, gt, -1)
    official = list_frames(lr)
    assert len(source) == len(official) == 41
    assert source.size == (180, 144)
    for (name, frame), path in zip(source, official):
        np.testing.assert_array_equal(frame, read_image_rgb8(path), err_msg=name)


def _tiny_clip(folder, n=7, size=(24, 16), seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    base = rng.integers(0, 256, size=(size[1] + 8, size[0] + 8, 3), dtype=np.uint8)
    for i in range(n):
        frame = np.roll(base, i, axis=1)[:size[1], :size[0]]
        cv2.imwrite(os.path.join(folder, f"frame_{i + 1:03d}.png"), frame)
    return folder


def test_short_clip_keeps_every_output_and_input_dir_len(tmp_path):
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    clip = _tiny_clip(str(tmp_path / "clip"), n=3)
    run_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / "o"),
                                  checkpoint=ckpt, num_resblock=2))
    names = sorted(os.listdir(tmp_path / "o"))
    assert [n for n in names if n.endswith(".png")] == [f"output_frame_00{i}.png" for i in (1, 2, 3)]
    run_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / "o2"),
                                  checkpoint=ckpt, num_resblock=2, input_dir_len=2,
                                  output_name="x", output_ext="jpg"))
    assert sorted(n for n in os.listdir(tmp_path / "o2") if n.endswith(".jpg")) == \
        ["x_frame_001.jpg", "x_frame_002.jpg"]


def test_video_in_video_out_equals_frames(tmp_path):
    from lib.io.video_io import iter_video_frames, probe_video
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    clip = _tiny_clip(str(tmp_path / "clip"), n=6, size=(32, 24))
    # Frames -> lossless video -> our mode with video input and lossless video output.
    from lib.io.video_io import VideoWriter
    video = str(tmp_path / "clip.mkv")
    with VideoWriter(video, 10.0, 32, 24, crf=0) as writer:
        for path in list_frames(clip):
            writer.write(read_image_rgb8(path))
    decoded = list(iter_video_frames(video))
    run_inference(inference_config(input_dir_LR=video, output_dir=str(tmp_path / "v"),
                                  checkpoint=ckpt, num_resblock=2, output_ext="mkv"))
    out_video = str(tmp_path / "v" / "output_clip.mkv")
    info = probe_video(out_video)
    assert (info["width"], info["height"]) == (128, 96)
    assert abs(info["fps"] - 10.0) < 1e-6
    # The same decoded frames as a folder through the PNG path give the same pixels.
    frames_dir = tmp_path / "decoded"
    frames_dir.mkdir()
    for i, frame in enumerate(decoded):
        cv2.imwrite(str(frames_dir / f"{i + 1:04d}.png"), frame[:, :, ::-1])
    run_inference(inference_config(input_dir_LR=str(frames_dir), output_dir=str(tmp_path / "p"),
                                  checkpoint=ckpt, num_resblock=2))
    pngs = [read_image_rgb8(p) for p in list_frames(str(tmp_path / "p"))]
    out_frames = list(iter_video_frames(out_video))
    assert len(out_frames) == len(pngs) == 6
    for a, b in zip(out_frames, pngs):
        # lossless x264 in RGB-equivalent yuv444: at most rounding of the colour conversion
        assert np.abs(a.astype(int) - b).max() <= 3


def test_cli_end_to_end_and_help(tmp_path):
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    clip = _tiny_clip(str(tmp_path / "clip"), n=6)
    result = run_main(["--input_dir_LR", clip, "--output_dir", str(tmp_path / "out"),
                       "--checkpoint", ckpt, "--num_resblock", "2", "--output_ext", "png",
                       "--noprogress"])
    assert result.returncode == 0, result.stderr
    assert "total time" in result.stdout and "frame number 6 (+5 warm-up steps)" in result.stdout
    assert len(list_frames(str(tmp_path / "out"))) == 6
    help_text = run_main(["--help"]).stdout
    for flag in ("input_dir_LR", "input_dir_HR", "output_ext", "num_resblock", "checkpoint"):
        assert flag in help_text
