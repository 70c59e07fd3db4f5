"""A video input that gives fewer frames than were counted before the run: the run says so,
and the manifest and the sound describe the frames written (the count feeds both)."""
import json
import os
import re
import subprocess

from inference_helpers import inference_config, save_random_model
from lib.io import frame_source
from lib.io.video_io import ffmpeg_exe, iter_video_frames


def test_fewer_frames_than_counted(tmp_path, monkeypatch, capsys):
    from lib.infer.driver import run_inference
    clip = str(tmp_path / "clip.mkv")           # 6 frames at 25 fps, with sound
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=16x16:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                    "-frames:v", "6", "-t", "1", "-c:v", "libx264", "-c:a", "aac", clip],
                   check=True)
    real_probe = frame_source.probe_video
    monkeypatch.setattr(frame_source, "probe_video",       # a count that overstates the clip
                        lambda path: {**real_probe(path), "frames": 9})
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    out = tmp_path / "o"
    result = run_inference(inference_config(input_dir_LR=clip, output_dir=str(out),
                                            checkpoint=ckpt, num_resblock=2, output_ext="mp4"))
    printed = capsys.readouterr().out
    assert "gave 6 frames, not the 9 counted before the run" in printed, printed
    assert "frame number 6 (+5 warm-up steps)" in printed and result["clip_frames"] == 6
    video = str(out / "output_clip.mp4")
    assert len(list(iter_video_frames(video))) == 6
    manifest = json.loads((out / ".tecogan_outputs.json").read_text())
    assert manifest["output_clip.mp4"]["frames"] == 6
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", video], capture_output=True,
                          text=True).stderr
    seconds = float(re.search(r"Duration: 00:00:([\d.]+)", text).group(1))
    assert seconds < 0.33, text                  # the sound cut to 6 frames (0.24 s), not 9
    # frames out: the manifest lists the frames written, not the ones counted
    run_inference(inference_config(input_dir_LR=clip, output_dir=str(tmp_path / "f"),
                                   checkpoint=ckpt, num_resblock=2))
    record = json.loads((tmp_path / "f" / ".tecogan_outputs.json").read_text())["output_*.png"]
    assert record["frames"] == 6 and len(record["files"]) == 6
    assert len([n for n in os.listdir(tmp_path / "f") if n.endswith(".png")]) == 6
