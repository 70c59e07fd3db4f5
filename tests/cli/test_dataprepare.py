"""dataPrepare.py: official list, local files, the real yt-dlp generic extractor on 127.0.0.1."""
import os
import re

import cv2
import numpy as np
import pytest

import dataPrepare
from lib.io.frame_io import read_image_rgb8
from lib.io.video_list import OFFICIAL_VIDEOS, official_videos, read_video_list, scene_ids
from lib.errors import UserError
from tests.local_http import running_server


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def videos(shared):
    return {name: shared("data", "videos", name + ".mp4") for name in ("cockatoo", "bigbuckbunny")}


def run(tmp_path, lines, *flags, out="out"):
    listing = tmp_path / f"list_{out}.txt"
    listing.write_text("\n".join(lines) + "\n")
    disk = tmp_path / out
    status = dataPrepare.main(["--video_list", str(listing), "--disk_path", str(disk), *flags])
    # one log per minute of the start (logfile_%m%d%H%M, appended within the same minute): a
    # rerun in a later minute adds a second file, so take the newest
    logs = sorted((disk / "log").glob("logfile_*.txt"), key=lambda p: p.stat().st_mtime)
    assert logs and all(re.fullmatch(r"logfile_\d{8}\.txt", p.name) for p in logs)
    return status, disk, logs[-1].read_text()


def frames_in(folder):
    """The files of a scene folder but its record of what it holds (.dataprepare.json)."""
    names = sorted(os.listdir(folder))
    assert dataPrepare.STAMP_NAME in names
    return [n for n in names if n != dataPrepare.STAMP_NAME]


def scenes(disk):
    return sorted(p.name for p in disk.iterdir() if p.name.startswith("scene_"))


def frames_by_opencv(path, indices):
    """Independent reference: OpenCV reads sequentially, resize as the original."""
    cap, out, i = cv2.VideoCapture(path), {}, 0
    while i <= max(indices):
        ok, bgr = cap.read()
        assert ok
        if i in indices:
            small = cv2.resize(bgr, (0, 0), fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            out[i] = small[:, :, ::-1]
        i += 1
    return out


# ----------------------------------------------------------------------------- the list

DOC_COUNTS = [5, 14, 11, 21, 6, 15, 6, 5, 6, 14, 10, 8, 13, 3, 12, 13, 6, 25, 14, 20, 12, 17, 7,
              7, 1, 24, 10, 3]


def test_official_list_matches_reference(tmp_path):
    vids = official_videos()
    assert [len(v.starts) for v in vids] == DOC_COUNTS and sum(DOC_COUNTS) == 308
    assert vids[0].source == "https://vimeo.com/121649159"
    assert vids[0].starts == (0, 310, 460, 720, 860)
    ids = scene_ids(vids, 2000)
    first_last = {v.name: (ids[(k, 0)], ids[(k, len(v.starts) - 1)]) for k, v in enumerate(vids)}
    assert first_last["335874600"] == (2030, 2050) and first_last["160578133"] == (2057, 2071)
    assert first_last["181180995"] == (2239, 2255) and first_last["89936769"] == (2305, 2307)
    for _, starts in OFFICIAL_VIDEOS:      # scenes of a video are in order
        assert list(starts) == sorted(starts)
    # original numbering: a failed video shifts the later ones, stable ids do not
    ok = [True] * 28
    ok[1] = False
    assert scene_ids(vids, 2000, ok)[(2, 0)] == 2005 and ids[(2, 0)] == 2019
    # the list written for editing reads back identically
    path = tmp_path / "official.txt"
    assert dataPrepare.main(["--write_video_list", str(path)]) == 0
    back = read_video_list(str(path))
    assert [(v.name, v.source, v.starts) for v in back] == [(v.name, v.source, v.starts)
                                                            for v in vids]


def test_video_list_formats_and_errors(tmp_path):
    (tmp_path / "a.txt").write_text("123456 5,1O\n")
    with pytest.raises(UserError, match="whole numbers"):
        read_video_list(str(tmp_path / "a.txt"))
    (tmp_path / "b.txt").write_text("# my list\n123456 5,10  # vimeo id\nsub/x.mkv name=own 7\n"
                                    "https://h.example/v/x.mp4 1\n'clip one.mp4' 0 20\n")
    vids = read_video_list(str(tmp_path / "b.txt"))
    assert [(v.name, v.source, v.starts) for v in vids] == [
        ("123456", "https://vimeo.com/123456", (5, 10)),
        ("own", str(tmp_path / "sub" / "x.mkv"), (7,)),
        ("x", "https://h.example/v/x.mp4", (1,)),
        ("clip_one", str(tmp_path / "clip one.mp4"), (0, 20))]
    (tmp_path / "c.txt").write_text("a/x.mp4 1\nb/x.mp4 2\n")
    with pytest.raises(UserError, match="name="):
        read_video_list(str(tmp_path / "c.txt"))
    (tmp_path / "d.json").write_text('{"121649159": [0, 310], "local.mp4": [3]}')
    vids = read_video_list(str(tmp_path / "d.json"))
    assert [(v.name, v.starts, v.is_local) for v in vids] == [
        ("121649159", (0, 310), False), ("local", (3,), True)]


# ----------------------------------------------------------------------------- local files

def test_local_files_exact_frames_default_duration_and_rerun(tmp_path, shared):
    vid = videos(shared)
    status, disk, log = run(tmp_path, [f"{vid['cockatoo']} 0 100", f"{vid['bigbuckbunny']} 10"],
                            "--duration", "6", "--start_id", "10")
    assert status == 0
    assert scenes(disk) == ["scene_0010", "scene_0011", "scene_0012"]
    for name in scenes(disk):
        assert frames_in(disk / name) == [f"col_high_{i:04d}.png" for i in range(6)]
    ref = frames_by_opencv(vid["cockatoo"], {100, 105})
    for i, index in ((0, 100), (5, 105)):
        ours = read_image_rgb8(str(disk / "scene_0011" / f"col_high_{i:04d}.png"))
        assert ours.shape == (360, 640, 3)
        np.testing.assert_array_equal(ours, ref[index])
    ref = frames_by_opencv(vid["bigbuckbunny"], {12})
    np.testing.assert_array_equal(read_image_rgb8(str(disk / "scene_0012" / "col_high_0002.png")),
                                  ref[12])
    assert "[Configurations]:" in log and "Done: get 3 valid folders with 6 frames from 2 videos." in log

    # rerun: complete scenes untouched, an incomplete one redone
    os.remove(disk / "scene_0011" / "col_high_0003.png")
    kept = disk / "scene_0010" / "col_high_0002.png"
    os.utime(kept, (1_000_000, 1_000_000))
    listing = tmp_path / "list_out.txt"
    assert dataPrepare.main(["--video_list", str(listing), "--disk_path", str(disk),
                             "--duration", "6", "--start_id", "10"]) == 0
    assert os.stat(kept).st_mtime == 1_000_000
    np.testing.assert_array_equal(read_image_rgb8(str(disk / "scene_0011" / "col_high_0003.png")),
                                  frames_by_opencv(vid["cockatoo"], {103})[103])
    assert frames_in(disk / "scene_0011") == [f"col_high_{i:04d}.png" for i in range(6)]

    # the default duration (120 frames) and a scene past the end of the video reported
    status, disk, log = run(tmp_path, [f"{vid['bigbuckbunny']} 12 20"], out="full")
    assert status == 1
    assert frames_in(disk / "scene_2000") == [f"col_high_{i:04d}.png" for i in range(120)]
    assert "scene_2001: INCOMPLETE" in log and "132 frames" in log
    assert os.path.exists(vid["bigbuckbunny"])      # --REMOVE never deletes local files


# ----------------------------------------------------------------------------- yt-dlp, HTTP

def serve(server, shared):
    for name, path in videos(shared).items():
        server.files[f"/v/{name}.mp4"] = path


def test_ytdlp_generic_download_dead_link_remove_and_rerun(tmp_path, shared):
    pytest.importorskip("yt_dlp")
    with running_server() as server:
        serve(server, shared)
        lines = [server.url("/v/cockatoo.mp4") + " 0 40", server.url("/v/dead.mp4") + " 0",
                 server.url("/v/bigbuckbunny.mp4") + " 3"]
        status, disk, log = run(tmp_path, lines, "--duration", "4", "--jobs", "2", "--REMOVE")
        assert status == 1
        # stable ids: the dead link's scene 2002 is a gap, bigbuckbunny keeps 2003
        assert scenes(disk) == ["scene_2000", "scene_2001", "scene_2003"]
        assert "Skipped invalid link or other error: " + server.url("/v/dead.mp4") in log
        assert "404" in log
        assert frames_in(disk / "scene_2003") == [f"col_high_{i:04d}.png" for i in range(4)]
        np.testing.assert_array_equal(
            read_image_rgb8(str(disk / "scene_2001" / "col_high_0001.png")),
            frames_by_opencv(videos(shared)["cockatoo"], {41})[41])
        # --REMOVE: the downloaded videos are gone
        assert not [n for n in os.listdir(disk) if n.endswith((".mp4", ".part"))]
        assert "remove " in log

        # rerun: complete videos are not fetched again
        count = len([r for r in server.requests if r[1] != "/v/dead.mp4"])
        status, _, _ = run(tmp_path, lines, "--duration", "4", "--REMOVE", out="out")
        assert len([r for r in server.requests if r[1] != "/v/dead.mp4"]) == count

        # the original numbering: bigbuckbunny moves up to 2002
        status, disk2, log2 = run(tmp_path, lines, "--duration", "4", "--original_numbering",
                                  out="orig")
        assert scenes(disk2) == ["scene_2000", "scene_2001", "scene_2002"]
        np.testing.assert_array_equal(
            read_image_rgb8(str(disk2 / "scene_2002" / "col_high_0000.png")),
            read_image_rgb8(str(disk / "scene_2003" / "col_high_0000.png")))
        assert sorted(n for n in os.listdir(disk2) if n.endswith(".mp4")) == [
            "bigbuckbunny.mp4", "cockatoo.mp4"]     # kept without --REMOVE


def test_TEST_mode_writes_nothing_and_logs_plan(tmp_path, shared):
    pytest.importorskip("yt_dlp")
    with running_server() as server:
        serve(server, shared)
        lines = [server.url("/v/cockatoo.mp4") + " 0 40", server.url("/v/dead.mp4") + " 0",
                 f"{videos(shared)['bigbuckbunny']} 3"]
        status, disk, log = run(tmp_path, lines, "--TEST", "--start_id", "7")
    assert sorted(os.listdir(disk)) == ["log"]
    assert "scene_0007" in log and "scene_0008" in log and "scene_0010" in log
    assert "at frame 40 of" in log and "TEST: not written" in log
    assert "Skipped invalid link or other error: " in log and "dead.mp4" in log
    assert "TEST done: 2 of 3 videos reachable; nothing was written." in log
    assert status == 1


def test_help_lists_original_and_new_flags(capsys):
    with pytest.raises(SystemExit):
        dataPrepare.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--start_id", "--duration", "--disk_path", "--summary_dir", "--REMOVE", "--TEST",
                 "--video_list", "--jobs", "--original_numbering", "--write_video_list"):
        assert flag in text
    assert "/mnt/netdisk/data/video/" in text and "2000" in text and "120" in text
    with pytest.raises(UserError, match="--duration"):
        dataPrepare.main(["--duration", "0"])


def test_scale_keeps_small_clips_whole(tmp_path, shared):
    """--scale 1.0 (with --min_size below the clip) writes the decoded frames unresized."""
    vid = videos(shared)
    status, disk, log = run(tmp_path, [f"{vid['cockatoo']} 7"], "--duration", "2", "--scale", "1.0")
    assert status == 0 and "*1 at frame 7" in log
    ref = {}
    cap = cv2.VideoCapture(vid["cockatoo"])
    for i in range(9):
        ok, bgr = cap.read()
        ref[i] = bgr[:, :, ::-1]
    for i in range(2):
        ours = read_image_rgb8(str(disk / "scene_2000" / f"col_high_{i:04d}.png"))
        assert ours.shape == (720, 1280, 3)
        np.testing.assert_array_equal(ours, ref[7 + i])
    with pytest.raises(UserError, match="--scale"):
        dataPrepare.main(["--scale", "0", "--disk_path", str(tmp_path / "x")])


# ----------------------------------------------------------------------------- bad lists, outputs

def _cli(*args):
    from cli_helpers import run_cli
    return run_cli(["dataPrepare.py", *args])


def test_write_video_list_never_replaces_a_file_without_overwrite(tmp_path):
    from cli_helpers import assert_one_error, tree_hashes
    edited = tmp_path / "videos.txt"
    edited.write_text("my_own.mp4 0 120\n")            # the user's edited list
    before = tree_hashes(tmp_path)
    status, stdout, stderr = _cli("--write_video_list", edited)
    assert_one_error(status, stdout, stderr, f"--write_video_list '{edited}' exists already",
                     "--overwrite")
    assert tree_hashes(tmp_path) == before
    status, stdout, stderr = _cli("--write_video_list", edited, "--overwrite")
    assert status == 0, stderr
    assert [v.name for v in read_video_list(str(edited))] == [v.name for v in official_videos()]
    assert sorted(os.listdir(tmp_path)) == ["videos.txt"]     # no temporary file left


@pytest.mark.parametrize("case", ["parent_file", "folder", "proc"])
def test_write_video_list_where_no_file_can_be(tmp_path, case):
    from cli_helpers import assert_one_error, tree_hashes
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"user data")
    target, fragment = {
        "parent_file": (blocker / "videos.txt", f"'{blocker}' is a file, not a folder"),
        "folder": (tmp_path, "is a folder; give a file name"),
        "proc": ("/proc/x/videos.txt", "the folder '/proc/x' does not exist")}[case]
    before = tree_hashes(tmp_path)
    status, stdout, stderr = _cli("--write_video_list", target)
    assert_one_error(status, stdout, stderr, fragment)
    assert tree_hashes(tmp_path) == before


def test_binary_video_list_is_a_clear_error(tmp_path, shared):
    from cli_helpers import assert_one_error, tree_hashes
    video = shared("data", "videos", "cockatoo.mp4")
    disk = tmp_path / "disk"
    before = tree_hashes(tmp_path)
    status, stdout, stderr = _cli("--video_list", video, "--disk_path", disk)
    assert_one_error(status, stdout, stderr, f"video list '{video}' is not a UTF-8 text file",
                     "not a video")
    assert tree_hashes(tmp_path) == before and not disk.exists()
    (tmp_path / "nul.txt").write_bytes(b"123456 0\x00\n")
    with pytest.raises(UserError, match="NUL bytes"):
        read_video_list(str(tmp_path / "nul.txt"))


def test_unbalanced_quote_names_the_line_and_the_quote(tmp_path):
    from cli_helpers import assert_one_error, tree_hashes
    listing = tmp_path / "videos.txt"
    listing.write_text("123456 0\n\"my clip.mp4 0 120\n")
    before = tree_hashes(tmp_path)
    status, stdout, stderr = _cli("--video_list", listing, "--disk_path", tmp_path / "disk")
    assert_one_error(status, stdout, stderr, f"{listing}:2: unbalanced \" quote at column 1",
                     '"my clip.mp4 0 120')
    assert tree_hashes(tmp_path) == before
    listing.write_text("'my clip.mp4 0\n")
    with pytest.raises(UserError, match="videos.txt:1: unbalanced ' quote"):
        read_video_list(str(listing))
    listing.write_text("Bob's_clip.mp4 0\n")         # a quote inside a name is no quoting
    assert read_video_list(str(listing))[0].source == str(tmp_path / "Bob's_clip.mp4")
