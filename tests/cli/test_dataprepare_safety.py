"""dataPrepare.py on bad inputs and reruns: one error line or a per-scene/per-video reason, and
nothing the user had is lost or taken for a complete scene. Tiny clips (64x48, 30 frames)."""
import errno
import json
import os
import subprocess

import numpy as np
import pytest

import dataPrepare
from lib.errors import UserError
from lib.io import atomic
from lib.io.folder_lock import FolderLock
from lib.io.frame_io import read_image_rgb8
from tests.local_http import clear_proxies, running_server

STAMP = dataPrepare.STAMP_NAME


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    clear_proxies(monkeypatch)


def make_clip(path, size="64x48", frames=30, source="testsrc"):
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
                    f"{source}=size={size}:rate=10", "-frames:v", str(frames), "-pix_fmt",
                    "yuv420p", str(path)], check=True)
    return str(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {"a": make_clip(folder / "a.mp4"),
            "b": make_clip(folder / "b.mp4", source="mandelbrot")}


def prepare(tmp_path, lines, *flags, disk="disk", duration="5"):
    """(exit status, disk folder, text of the newest log) of one in-process run."""
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    disk = tmp_path / disk
    status = dataPrepare.main(["--video_list", str(listing), "--disk_path", str(disk),
                               "--duration", duration, "--min_size", "0", *flags])
    logs = sorted((disk / "log").glob("logfile_*.txt"), key=lambda p: p.stat().st_mtime)
    return status, disk, logs[-1].read_text()


def frames(scene):
    return sorted(n for n in os.listdir(scene) if n.startswith("col_high_"))


def snapshot(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


def cli(*args):
    from cli_helpers import run_cli
    return run_cli(["dataPrepare.py", *args])


# ----------------------------------------------------------------------------- flags, outputs

def test_scale_that_leaves_no_pixel_is_the_videos_reason(tmp_path, clips):
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 10"], "--scale", "0.01")
    assert status == 1
    assert "--scale 0.01 makes its 64x48 frames smaller than one pixel" in log
    assert not [n for n in os.listdir(disk) if n.startswith("scene_")]     # no empty folders
    # extract_scenes refuses too (the size was unknown before decoding), creating nothing
    results, damaged = dataPrepare.extract_scenes(clips["a"], [(str(tmp_path / "s"), 0)], 3, "a",
                                                  scale=0.01)
    assert "smaller than one pixel" in results[str(tmp_path / "s")] and not damaged
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("kind", ["file", "dangling_link"])
def test_scene_path_that_is_not_a_folder_is_that_scenes_reason(tmp_path, clips, kind):
    disk = tmp_path / "disk"
    disk.mkdir()
    blocker = disk / "scene_2000"
    if kind == "file":
        blocker.write_text("mine")
    else:
        blocker.symlink_to(tmp_path / "nowhere")
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 10"])
    assert status == 1
    assert f"folder {blocker}: INCOMPLETE - {blocker} is a " in log
    assert "not a folder; move it away" in log
    assert frames(disk / "scene_2001") == [f"col_high_{i:04d}.png" for i in range(5)]
    assert os.path.islink(blocker) if kind != "file" else blocker.read_text() == "mine"


def test_unwritable_disk_path_summary_dir_and_log_name(tmp_path):
    from cli_helpers import assert_one_error
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'a.mp4'} 0\n")
    # /proc/self exists and nobody (root included) may create files in it
    status, out, err = cli("--video_list", listing, "--disk_path", "/proc/self",
                           "--summary_dir", tmp_path / "log")
    assert_one_error(status, out, err, "--disk_path folder '/proc/self' is not writable")
    status, out, err = cli("--video_list", listing, "--disk_path", tmp_path / "disk",
                           "--summary_dir", "/proc/self")
    assert_one_error(status, out, err, "--summary_dir folder '/proc/self' is not writable")
    assert not (tmp_path / "disk").exists()          # the folder made for nothing is gone
    # the log file's name is taken by a folder (this minute's and the next two)
    import datetime
    logs = tmp_path / "logs"
    now = datetime.datetime.now()
    for minutes in range(3):
        stamp = (now + datetime.timedelta(minutes=minutes)).strftime("%m%d%H%M")
        (logs / f"logfile_{stamp}.txt").mkdir(parents=True)
    with pytest.raises(UserError, match="cannot write the log file .*choose another --summary_dir"):
        dataPrepare.main(["--video_list", str(listing), "--disk_path", str(tmp_path / "disk"),
                          "--summary_dir", str(logs)])


def test_full_disk_while_logging_is_one_error_line(tmp_path, clips, monkeypatch, capsys):
    from lib.errors import run_cli
    real_open = open

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def write(self, text):
            return self.handle.write(text)

        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):        # the unflushed rest fails again, as a real full disk does
            self.handle.close()
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        return Full(handle) if os.path.basename(str(path)).startswith("logfile_") else handle

    monkeypatch.setattr(dataPrepare, "open", fake_open, raising=False)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{clips['a']} 0\n")
    with pytest.raises(SystemExit) as exit_:
        run_cli(dataPrepare.main, ["--video_list", str(listing), "--disk_path",
                                   str(tmp_path / "disk"), "--duration", "2", "--min_size", "0"])
    assert exit_.value.code == 2
    errors = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert len(errors) == 1 and errors[0].startswith(
        "error: no space left on device while writing the log file "), errors
    assert not (tmp_path / "disk" / dataPrepare.LOCK_NAME).exists()       # lock released


def test_full_disk_while_writing_frames_says_so(tmp_path, clips, monkeypatch):
    def full(path, data, fsync=True):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_bytes", full)
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0"])
    assert status == 1
    assert "scene_2000: INCOMPLETE - no space left on the device for " in log
    assert frames(disk / "scene_2000") == []


def test_empty_values_negative_min_size_folder_source_and_stdout_list(tmp_path, capsys,
                                                                      monkeypatch):
    for flag in ("--video_list", "--write_video_list"):
        with pytest.raises(UserError, match=f"^{flag} is empty"):
            dataPrepare.main([flag, "", "--disk_path", str(tmp_path / "d")])
    assert not (tmp_path / "d").exists()
    with pytest.raises(UserError, match="--min_size must not be negative"):
        dataPrepare.main(["--min_size", "-1"])
    # '-' writes the list to the terminal, not to a file named '-'
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert dataPrepare.main(["--write_video_list", "-"]) == 0
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "-").exists()
    from lib.io.video_list import official_videos, video_list_text
    assert capsys.readouterr().out == video_list_text(official_videos())
    # without ffmpeg: one line before anything is written (not every video failing, and every
    # download taken for a damaged one)
    import lib.io.video_io as video_io
    (tmp_path / "l.txt").write_text("x.mp4 0\n")
    with monkeypatch.context() as patch, pytest.raises(UserError, match="no ffmpeg binary"):
        patch.setattr(video_io, "find_ffmpeg", lambda: None)
        dataPrepare.main(["--video_list", str(tmp_path / "l.txt"), "--disk_path",
                          str(tmp_path / "d")])
    assert not (tmp_path / "d").exists()
    (tmp_path / "clip_folder").mkdir()
    status, _, log = prepare(tmp_path, [f"{tmp_path / 'clip_folder'} 0"])
    assert status == 1 and "is a folder, not a video file" in log


def test_huge_duration_is_arithmetic_not_a_table(tmp_path, clips):
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 3"], duration="1000000000000")
    assert status == 1
    assert "the video has 30 frames; the scene needs frames 0..999999999999" in log
    assert "the scene needs frames 3..1000000000002" in log


# ----------------------------------------------------------------------------- concurrency

def test_second_run_on_the_same_disk_path_is_refused(tmp_path, clips):
    disk = tmp_path / "disk"
    disk.mkdir()
    with FolderLock(str(disk), "--disk_path folder"):
        with pytest.raises(UserError, match="another run .* is using the --disk_path folder"):
            prepare(tmp_path, [f"{clips['a']} 0"])
        assert not [n for n in os.listdir(disk) if n.startswith("scene_")]


def test_frames_have_unique_temporaries_and_old_ones_go(tmp_path, clips, monkeypatch):
    status, disk, _ = prepare(tmp_path, [f"{clips['a']} 0"])
    assert status == 0
    scene = disk / "scene_2000"
    # a frame lost and an older version's temporary left: the redo writes whole frames again
    os.remove(scene / "col_high_0003.png")
    (scene / ".partial_col_high_0003.png").write_bytes(b"half")
    written = []
    real = atomic.atomic_file

    def spy(path, *args, **kwargs):
        written.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(atomic, "atomic_file", spy)
    status, disk, _ = prepare(tmp_path, [f"{clips['a']} 0"])
    assert status == 0
    assert os.listdir(scene) and not [n for n in os.listdir(scene) if "partial" in n]
    assert str(scene / "col_high_0003.png") in written


# ----------------------------------------------------------------------------- scene records

def test_rerun_with_other_settings_refuses_stale_scenes_until_overwrite(tmp_path, clips):
    status, disk, _ = prepare(tmp_path, [f"{clips['a']} 0 10"], "--scale", "1.0")
    assert status == 0
    scene = disk / "scene_2000"
    stamp = json.loads((scene / STAMP).read_text())
    assert stamp == {"source": clips["a"], "start": 0, "duration": 5, "scale": 1.0}
    before = snapshot(scene)
    for flags, lines, what in ((["--scale", "0.5"], [f"{clips['a']} 0 10"], "scale 1.0"),
                               (["--scale", "1.0"], [f"{clips['a']} 2 10"], "at frame 0"),
                               (["--scale", "1.0"], [f"{clips['b']} 0 10"], clips["a"])):
        status, disk, log = prepare(tmp_path, lines, *flags)
        assert status == 1
        assert "scene_2000: INCOMPLETE - it holds frames of" in log and what in log
        assert "move it away or pass --overwrite" in log and "complete already" not in log
        assert snapshot(scene) == before
    # a shorter --duration: also refused, and with --overwrite the old frames all go
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 10"], "--scale", "0.5",
                                "--overwrite", duration="3")
    assert status == 0 and "replacing its frames: --overwrite" in log
    assert frames(scene) == [f"col_high_{i:04d}.png" for i in range(3)]
    assert read_image_rgb8(str(scene / "col_high_0000.png")).shape == (24, 32, 3)
    assert json.loads((scene / STAMP).read_text())["duration"] == 3


def test_original_numbering_rerun_never_mislabels_scenes(tmp_path, clips):
    a = tmp_path / "a_late.mp4"          # missing on the first run
    lines = [f"{a} 0", f"{clips['b']} 0"]
    status, disk, _ = prepare(tmp_path, lines, "--original_numbering")
    assert status == 1
    b_frames = snapshot(disk / "scene_2000")          # B took 2000
    make_clip(a)
    status, disk, log = prepare(tmp_path, lines, "--original_numbering")
    assert status == 1
    # A may not take B's scene
    assert f"scene_2000: INCOMPLETE - it holds frames of {clips['b']}" in log
    assert snapshot(disk / "scene_2000") == b_frames
    assert json.loads((disk / "scene_2001" / STAMP).read_text())["source"] == clips["b"]


def test_frames_without_record_are_refused_or_kept(tmp_path, clips):
    disk = tmp_path / "disk"
    mine = disk / "scene_2000"
    mine.mkdir(parents=True)
    (mine / "col_high_0000.png").write_bytes(b"my own frame")
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 10"])
    assert status == 1
    assert ("scene_2000: INCOMPLETE - it holds 1 frame(s) that dataPrepare has no record of "
            "writing") in log
    assert (mine / "col_high_0000.png").read_bytes() == b"my own frame"
    assert frames(disk / "scene_2001") == [f"col_high_{i:04d}.png" for i in range(5)]
    status, disk, log = prepare(tmp_path, [f"{clips['a']} 0 10"], "--overwrite")
    assert status == 0 and (mine / STAMP).exists()
    assert read_image_rgb8(str(mine / "col_high_0000.png")).shape == (24, 32, 3)

    # a complete folder without a record (older version, original script) is kept as it was
    os.remove(mine / STAMP)
    before = snapshot(mine)
    status, disk, log = prepare(tmp_path, [f"{clips['b']} 0 10"], "--overwrite")
    assert "scene_2000: complete, no record of its source" in log
    assert snapshot(mine) == before and status == 0


# ----------------------------------------------------------------------------- downloads

def serve_and_list(server, clips, tmp_path, path="/v/clip.mp4", starts="0"):
    server.files[path] = clips["a"]
    return [server.url(path) + " " + starts]


def test_a_file_dataPrepare_did_not_download_is_never_used_nor_removed(tmp_path, clips):
    pytest.importorskip("yt_dlp")
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "clip.mp4").write_bytes(b"the user's own file")
    with running_server() as server:
        lines = serve_and_list(server, clips, tmp_path)
        status, disk, log = prepare(tmp_path, lines, "--REMOVE")
        assert status == 1
        assert f"'{disk / 'clip.mp4'}' is in the way: dataPrepare did not download it" in log
        assert (disk / "clip.mp4").read_bytes() == b"the user's own file"
        assert not server.requests and not (disk / "scene_2000").exists()

        # once it is moved away, the download is recorded, used, and removed by --REMOVE
        os.rename(disk / "clip.mp4", tmp_path / "kept.mp4")
        status, disk, log = prepare(tmp_path, lines, "--REMOVE", "--jobs", "2")
        assert status == 0 and not (disk / "clip.mp4").exists()
        assert json.loads((disk / dataPrepare.MANIFEST_NAME).read_text()) == {}


def test_damaged_download_is_rejected_and_fetched_again(tmp_path, clips):
    pytest.importorskip("yt_dlp")
    with running_server() as server:
        server.files["/v/clip.mp4"] = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000
        lines = [server.url("/v/clip.mp4") + " 0"]
        status, disk, log = prepare(tmp_path, lines)
        assert status == 1
        assert "so that a rerun downloads it afresh" in log
        assert (disk / "clip.mp4.rejected").exists() and not (disk / "clip.mp4").exists()
        assert json.loads((disk / dataPrepare.MANIFEST_NAME).read_text()) == {}
        server.files["/v/clip.mp4"] = clips["a"]
        status, disk, log = prepare(tmp_path, lines)
        assert status == 0 and frames(disk / "scene_2000")
        manifest = json.loads((disk / dataPrepare.MANIFEST_NAME).read_text())
        assert manifest == {"clip.mp4": {"source": server.url("/v/clip.mp4"),
                                         "size": os.path.getsize(clips["a"])}}


def test_remove_keeps_a_download_whose_scenes_are_incomplete(tmp_path, clips):
    pytest.importorskip("yt_dlp")
    with running_server() as server:
        lines = serve_and_list(server, clips, tmp_path, starts="0 28")
        status, disk, log = prepare(tmp_path, lines, "--REMOVE")
        assert status == 1
        assert f"keep {disk / 'clip.mp4'} for the rerun: 1 of its scenes are incomplete" in log
        assert (disk / "clip.mp4").exists()


def test_refused_scenes_are_not_downloaded_for(tmp_path, clips):
    pytest.importorskip("yt_dlp")
    disk = tmp_path / "disk"
    (disk / "scene_2000").mkdir(parents=True)
    (disk / "scene_2000" / "col_high_0001.png").write_bytes(b"mine")
    with running_server() as server:
        lines = serve_and_list(server, clips, tmp_path)
        status, disk, log = prepare(tmp_path, lines)
        assert status == 1 and not server.requests
        assert "no record of writing" in log and "not downloaded" in log


def test_frames_equal_the_plain_writer(tmp_path, clips):
    """The atomic frame writer gives the bytes of write_image_rgb8 (the original's cv2.imwrite)."""
    from lib.io.frame_io import write_image_rgb8
    status, disk, _ = prepare(tmp_path, [f"{clips['a']} 4"], duration="2")
    image = read_image_rgb8(str(disk / "scene_2000" / "col_high_0001.png"))
    write_image_rgb8(str(tmp_path / "plain.png"), image)
    assert (tmp_path / "plain.png").read_bytes() == (disk / "scene_2000" /
                                                     "col_high_0001.png").read_bytes()
    assert np.array_equal(read_image_rgb8(str(tmp_path / "plain.png")), image)
