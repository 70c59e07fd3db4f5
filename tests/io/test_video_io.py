"""lib/io/video_io.py: probing, exact in-order decoding, writing, and damaged input."""
import os

import cv2
import numpy as np
import pytest

from lib.errors import UserError
from lib.io.video_io import VideoWriter, iter_video_frames, probe_video


def opencv_frames(path):
    cap, frames = cv2.VideoCapture(path), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(bgr[:, :, ::-1])


def test_probe_known_clips(shared):
    info = probe_video(shared("data", "videos", "cockatoo.mp4"))
    assert (info["width"], info["height"], info["frames"]) == (1280, 720, 280)
    assert info["fps"] == pytest.approx(20.0)
    info = probe_video(shared("data", "videos", "realshort.mp4"), count_frames=False)
    assert (info["width"], info["height"], info["frames"]) == (320, 240, None)
    assert info["fps"] == pytest.approx(30.0, abs=0.05)


def test_frames_in_order_identical_to_sequential_opencv(shared):
    path = shared("data", "videos", "realshort.mp4")
    ours = list(iter_video_frames(path))
    ref = opencv_frames(path)
    assert len(ours) == len(ref) == 36
    assert all(f.dtype == np.uint8 and f.shape == (240, 320, 3) for f in ours)
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ours[0], ours[-1])
    # stopping early is clean and a new pass starts again from frame 0
    gen = iter_video_frames(path)
    first = next(gen)
    gen.close()
    np.testing.assert_array_equal(first, ours[0])


def test_writer_round_trip_lossless_and_crf(tmp_path, shared):
    src = [f[:121, :161] for f in list(iter_video_frames(shared("data", "videos", "realshort.mp4")))[:6]]
    path = str(tmp_path / "out.mkv")
    with VideoWriter(path, 25, 161, 121, crf=0) as out:   # yuv444p: odd size allowed
        for frame in src:
            out.write(frame)
    info = probe_video(path)
    assert (info["width"], info["height"], info["frames"]) == (161, 121, 6)
    assert info["fps"] == pytest.approx(25.0)
    back = list(iter_video_frames(path))
    assert len(back) == 6
    for a, b in zip(src, back):   # only the RGB<->YUV rounding is lost
        assert np.abs(a.astype(int) - b).max() <= 3
    even = [f[:120, :160] for f in src]
    path = str(tmp_path / "out.mp4")
    with VideoWriter(path, 30, 160, 120, crf=23) as out:
        for frame in even:
            out.write(frame)
    back = list(iter_video_frames(path))
    errors = [np.abs(a.astype(int) - b).mean() for a, b in zip(even, back)]
    assert len(back) == 6 and max(errors) < 8 and max(errors) > 0
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]


def test_writer_rejects_bad_use_and_leaves_no_file(tmp_path):
    with pytest.raises(UserError, match="odd size"):
        VideoWriter(str(tmp_path / "a.mp4"), 25, 161, 120, crf=18)
    with pytest.raises(UserError, match=".mkv"):
        VideoWriter(str(tmp_path / "a.gif"), 25, 16, 16)
    with pytest.raises(UserError, match="expected uint8"):
        with VideoWriter(str(tmp_path / "b.mkv"), 25, 16, 16) as out:
            out.write(np.zeros((16, 16, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_damaged_and_missing_videos_are_user_errors(tmp_path, shared):
    src = list(iter_video_frames(shared("data", "videos", "realshort.mp4")))
    path = tmp_path / "fast.mp4"
    with VideoWriter(str(path), 30, 320, 240, crf=20) as out:   # mp4 with the index first
        for frame in src:
            out.write(frame)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 6 // 10])
    got = []
    with pytest.raises(UserError, match="truncated"):
        for frame in iter_video_frames(str(cut)):
            got.append(frame)
    assert 0 < len(got) < len(src)
    # the original clip keeps its index at the end: cut, it cannot even be opened
    tail_cut = tmp_path / "tail.mp4"
    tail_cut.write_bytes(open(shared("data", "videos", "realshort.mp4"), "rb").read()[:40000])
    with pytest.raises(UserError, match="tail.mp4"):
        probe_video(str(tail_cut))
    with pytest.raises(UserError, match="tail.mp4"):
        list(iter_video_frames(str(tail_cut)))
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(UserError):
        list(iter_video_frames(str(tmp_path / "text.mp4")))
    (tmp_path / "empty.mkv").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        probe_video(str(tmp_path / "empty.mkv"))
    with pytest.raises(UserError, match="does not exist"):
        list(iter_video_frames(str(tmp_path / "nope.mp4")))
