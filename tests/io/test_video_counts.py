"""The frame count of a video is what decodes (an edit list can hide demuxed packets), and a
finished or moved-away video output is one error line, never a traceback or a stray temporary."""
import os
import subprocess

import numpy as np
import pytest

from lib.errors import UserError
from lib.io.video_io import VideoWriter, ffmpeg_exe, iter_video_frames, probe_video


def _ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """The probe's clip: 2 s at 25 fps, x264 with B-frames and one GOP, cut by stream copy.
    The cut keeps the packets back to the keyframe and an edit list that hides them."""
    folder = tmp_path_factory.mktemp("cut")
    whole, cut = str(folder / "g.mp4"), str(folder / "cut.mp4")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x24:rate=25", "-f", "lavfi", "-i",
            "sine=frequency=440", "-t", "2", "-c:v", "libx264", "-bf", "3", "-g", "50",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", whole)
    _ffmpeg("-ss", "0.52", "-i", whole, "-t", "0.4", "-c", "copy", cut)
    return cut


def test_edit_list_clip_counts_the_frames_that_decode(cut_clip):
    decoded = len(list(iter_video_frames(cut_clip)))
    assert decoded < 20                     # 12 here; 25 packets
    assert probe_video(cut_clip)["frames"] == decoded


def test_matroska_keeps_the_packet_count(tmp_path):
    path = str(tmp_path / "c.mkv")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=25", "-frames:v", "7",
            "-c:v", "libx264", path)
    assert probe_video(path)["frames"] == 7


def _writer(path, audio_from=None):
    writer = VideoWriter(path, 25.0, 16, 16, crf=0, audio_from=audio_from, audio_seconds=0.2)
    for value in range(3):
        writer.write(np.full((16, 16, 3), value * 40, np.uint8))
    return writer


@pytest.mark.parametrize("with_sound", [False, True])
def test_a_target_that_became_a_folder_is_one_error_and_no_temporary(tmp_path, cut_clip,
                                                                     with_sound):
    target = tmp_path / "out.mp4"
    writer = _writer(str(target), audio_from=cut_clip if with_sound else None)
    target.mkdir()                          # appears while the video is encoded
    with pytest.raises(UserError, match=r"cannot write video .*out.mp4'"):
        writer.close()
    assert os.listdir(tmp_path) == ["out.mp4"] and os.listdir(target) == []
