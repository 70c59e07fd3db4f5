"""Video output that plays everywhere: H.264 4:2:0 by default, the source's sound, its frame rate."""
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import shared_path
from inference_helpers import inference_config, save_random_model
from lib.io.video_io import VideoWriter, ffmpeg_exe, iter_video_frames, probe_video


def ffmpeg_streams(path):
    """The stream lines ``ffmpeg -i`` prints for ``path``."""
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True,
                          text=True).stderr
    return [line.strip() for line in text.splitlines() if re.search(r"Stream #\d+:\d+", line)]


@pytest.fixture(scope="module")
def small_clip_with_sound(tmp_path_factory):
    """realshort.mp4 (36 frames, 30.02 fps, AAC sound) scaled to 32x24, its audio copied."""
    source = shared_path("data", "videos", "realshort.mp4")
    path = str(tmp_path_factory.mktemp("clip") / "small.mp4")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", source, "-vf", "scale=32:24",
                    "-c:v", "libx264", "-crf", "10", "-c:a", "copy", path], check=True)
    return path


def test_default_mp4_is_yuv420p_h264_with_the_sound_and_rate(tmp_path, small_clip_with_sound,
                                                             capsys):
    from lib.infer.driver import run_inference
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    result = run_inference(inference_config(input_dir_LR=small_clip_with_sound,
                                           output_dir=str(tmp_path / "o"), checkpoint=ckpt,
                                           num_resblock=2, output_ext="mp4", video_crf=18))
    out = str(tmp_path / "o" / "output_small.mp4")
    printed = capsys.readouterr().out
    assert f"writing video {out}" in printed and "saving image" not in printed
    assert printed.rstrip().endswith(f"output: {out}")
    assert "frame number 36 (+5 warm-up steps)" in printed and result["clip_frames"] == 36
    streams = ffmpeg_streams(out)
    video = [s for s in streams if "Video:" in s]
    audio = [s for s in streams if "Audio:" in s]
    assert len(video) == 1 and "h264" in video[0] and "yuv420p" in video[0]
    assert "128x96" in video[0] and "30.02 fps" in video[0]
    assert len(audio) == 1 and "aac" in audio[0]
    assert probe_video(out)["frames"] == 36
    assert len(list(iter_video_frames(out))) == 36


def test_lossless_444_stays_available(tmp_path, small_clip_with_sound):
    frames = list(iter_video_frames(small_clip_with_sound))[:4]
    path = str(tmp_path / "lossless.mkv")
    with VideoWriter(path, 30.0, 32, 24, crf=0, audio_from=small_clip_with_sound,
                     audio_seconds=4 / 30.0) as out:
        for frame in frames:
            out.write(frame)
    streams = ffmpeg_streams(path)
    assert any("yuv444p" in s for s in streams if "Video:" in s)
    assert any("aac" in s for s in streams if "Audio:" in s)     # mkv copies the codec


def test_audio_the_container_refuses_is_reencoded_to_aac(tmp_path):
    # A source whose sound is PCM (fine in mkv, not in mp4): the mp4 gets AAC.
    source = str(tmp_path / "pcm.mkv")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=16x16:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "0.4",
                    "-c:v", "libx264", "-c:a", "pcm_s16le", source], check=True)
    assert probe_video(source)["audio_codec"] == "pcm_s16le"
    path = str(tmp_path / "out.mp4")
    with VideoWriter(path, 25.0, 16, 16, audio_from=source, audio_seconds=0.4) as out:
        for value in range(10):
            out.write(np.full((16, 16, 3), value * 20, np.uint8))
    audio = [s for s in ffmpeg_streams(path) if "Audio:" in s]
    assert len(audio) == 1 and "aac" in audio[0]
    assert probe_video(path)["frames"] == 10


def test_ntsc_rates_are_exact_fractions():
    from lib.io.video_io import rate_argument
    assert rate_argument(29.97) == "30000/1001"
    assert rate_argument(23.976) == "24000/1001"
    assert rate_argument(30.02) == "30.02" and rate_argument(25) == "25.0"
    assert os.path.basename(ffmpeg_exe())


def clip_with_audio(folder, name, *audio_args):
    """A 10-frame 16x16 clip at 25 fps with a sine tone encoded by ``audio_args``."""
    path = str(folder / name)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=16x16:rate=25:duration=0.4", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    *audio_args, path], check=True)
    return path


@pytest.mark.parametrize("case", ["adpcm_into_mkv", "16ch_into_mp4", "16ch_pcm_into_mkv"])
def test_sound_the_container_or_encoder_refuses_still_lands(tmp_path, capsys, case):
    """nv09 (ADPCM into mkv), nv14 (16 channels into AAC): the sound is probed first and
    re-encoded to what the container and encoder take (downmixed to stereo); the video is
    written with sound, and nothing of ffmpeg's is printed."""
    from lib.infer.driver import run_inference
    sources = {
        "adpcm_into_mkv": ("adpcm.avi", ["-c:a", "adpcm_ima_wav"], "mkv"),
        "16ch_into_mp4": ("c16.mkv", ["-af", "aformat=channel_layouts=hexadecagonal",
                                      "-c:a", "pcm_s16le"], "mp4"),
        "16ch_pcm_into_mkv": ("c16.avi", ["-ac", "16", "-c:a", "pcm_s16le"], "mkv"),
    }
    name, audio_args, ext = sources[case]
    source = clip_with_audio(tmp_path, name, *audio_args)
    ckpt = save_random_model(str(tmp_path / "m" / "model"))
    run_inference(inference_config(input_dir_LR=source, output_dir=str(tmp_path / "o"),
                                   checkpoint=ckpt, num_resblock=2, output_ext=ext,
                                   progress=False))
    out = str(tmp_path / "o" / f"output_{os.path.splitext(name)[0]}.{ext}")
    captured = capsys.readouterr()
    assert "[" not in captured.err and "without sound" not in captured.out, captured
    audio = [s for s in ffmpeg_streams(out) if "Audio:" in s]
    if case == "16ch_pcm_into_mkv":         # Matroska takes it as it is: copied, all 16
        assert len(audio) == 1 and "pcm_s16le" in audio[0] and "9.1.6" in audio[0], audio
    else:
        assert len(audio) == 1 and "aac" in audio[0], audio
    if case == "16ch_into_mp4":
        assert "stereo" in audio[0]
    assert probe_video(out)["frames"] == 10
    assert sorted(os.listdir(tmp_path / "o")) == sorted(
        n for n in os.listdir(tmp_path / "o") if not n.endswith(".partial"))


def test_sound_that_cannot_be_carried_at_all_leaves_the_video(tmp_path, capsys, monkeypatch):
    """When no way of carrying the sound works, the video is written without it, with one line
    saying so."""
    import lib.io.video_io as video_io
    source = clip_with_audio(tmp_path, "a.mkv", "-c:a", "pcm_s16le")
    broken = ["-c:a", "no_such_encoder"]
    monkeypatch.setattr(video_io, "audio_codec_arguments", lambda *a: broken)
    monkeypatch.setattr(video_io, "FALLBACK_AUDIO", ["-c:a", "also_no_such_encoder"])
    path = str(tmp_path / "out.mp4")
    frames = list(iter_video_frames(source))
    with VideoWriter(path, 25.0, 16, 16, audio_from=source) as out:
        for frame in frames:
            out.write(frame)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [f"note: the sound of '{source}' (pcm_s16le, mono) cannot be carried into "
                       "'out.mp4'; the video was written without sound"]
    streams = ffmpeg_streams(path)
    assert not [s for s in streams if "Audio:" in s] and probe_video(path)["frames"] == 10
    assert os.listdir(tmp_path) == ["a.mkv", "out.mp4"] or sorted(os.listdir(tmp_path)) == \
        ["a.mkv", "out.mp4"]
