"""Training data for TecoGAN: download the training videos and cut them into 120-frame scenes.

Same arguments, defaults and output as the original ``dataPrepare.py``:
``<disk_path>/scene_%04d/col_high_%04d.png``, every frame scaled by 0.5 with INTER_AREA, scene ids
from ``--start_id``, a log ``<summary_dir>/logfile_%m%d%H%M.txt``. Differences (see README):

* downloads use yt-dlp's Python API (youtube-dl if yt-dlp is not installed) with imageio-ffmpeg's
  ffmpeg; ``--jobs N`` downloads N videos at a time while scenes are being cut;
* frames are decoded once, in order, instead of one OpenCV seek per frame (exact and fast);
* scene ids are stable per video: video k always owns the same ids, so a dead link leaves a gap
  instead of moving every later scene between training and validation (``--original_numbering``
  restores the original, consecutive numbering over the videos that worked);
* ``--video_list FILE``: your own URLs or local video files with start frames (replacing dead
  links); ``--write_video_list FILE`` writes the official list as a starting point;
* a rerun skips complete scenes and videos, redoes incomplete scenes and resumes downloads;
  each scene folder records what it holds (``.dataprepare.json``: source, start frame, duration,
  scale), so a rerun with other settings never takes stale scenes for complete ones, and frames
  dataPrepare did not write are never replaced without ``--overwrite``;
* only files dataPrepare downloaded itself (``.dataprepare_downloads.json``) are reused, rejected
  when damaged, or deleted by ``--REMOVE``; one run at a time per ``--disk_path`` (a lock);
* a summary of what succeeded and what failed (exit status 1 when something failed).
"""
import argparse
import datetime
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import Future

from lib.errors import UserError, run_cli
from lib.io import atomic
from lib.io.disk_full import NoSpaceError, is_disk_full, no_space_message
from lib.io.folder_lock import LOCK_NAME, FolderLock
from lib.io.output_paths import prepare_output_dir, remove_if_empty
from lib.io.video_list import (official_videos, read_video_list, scene_ids, video_list_text,
                               write_video_list)

FRAME_NAME = "col_high_%04d.png"
SCENE_NAME = "scene_%04d"
STAMP_NAME = ".dataprepare.json"               # in each scene folder: what its frames are
MANIFEST_NAME = ".dataprepare_downloads.json"  # in --disk_path: the files dataPrepare downloaded
FRAME_FILE = re.compile(r"col_high_\d{4,}\.png")
OLD_PARTIAL = re.compile(r"\.partial_col_high_\d{4,}\.png")   # temporaries of older versions
RERUN = "the same command again (complete scenes are kept)"


def build_parser():
    parser = argparse.ArgumentParser(
        description="Download the TecoGAN training videos and extract scenes of consecutive frames "
                    "as <disk_path>/scene_%04d/col_high_%04d.png (frames scaled by --scale, "
                    "0.5 as the original). Scene ids are stable per video (see "
                    "--original_numbering); a rerun skips complete scenes and resumes downloads.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--start_id", default=2000, type=int,
                        help="id of the first scene (runGan trains on 2000-2250 and validates "
                             "on 2251-2290)")
    parser.add_argument("--duration", default=120, type=int,
                        help="frames per scene (the official start frames assume 120; training "
                             "needs --max_frm = duration - 1)")
    parser.add_argument("--disk_path", default="/mnt/netdisk/data/video/",
                        help="output folder for the videos and the scene folders (created)")
    parser.add_argument("--summary_dir", default="",
                        help="folder of the log file logfile_%%m%%d%%H%%M.txt; empty means "
                             "<disk_path>/log/")
    parser.add_argument("--REMOVE", action="store_true",
                        help="delete each downloaded video once its scenes are extracted (local "
                             "files given in --video_list are never deleted)")
    parser.add_argument("--TEST", action="store_true",
                        help="only check the links and log what would be done: no video download, "
                             "no scene folders, no frames")
    parser.add_argument("--video_list", default=None, metavar="FILE",
                        help="use this list instead of the official one: one video per line, "
                             "'SOURCE START [START ...]' where SOURCE is a URL, a Vimeo id or a "
                             "local video file (or a .json {\"SOURCE\": [starts]})")
    parser.add_argument("--write_video_list", default=None, metavar="FILE",
                        help="write the official list (28 videos, 308 start frames) to FILE in the "
                             "--video_list format and exit ('-': to the terminal); edit it to "
                             "replace dead links")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --write_video_list: replace FILE if it exists (without it an "
                             "existing list, perhaps edited, is never replaced); otherwise: "
                             "replace the frames of scene folders that hold other frames (cut "
                             "with other settings or from another video, or not by dataPrepare) "
                             "instead of refusing them")
    parser.add_argument("--jobs", default=1, type=int,
                        help="number of videos downloaded at the same time")
    parser.add_argument("--original_numbering", action="store_true",
                        help="number scenes like the original: consecutively over the videos that "
                             "worked, so a failed video shifts all later ids")
    parser.add_argument("--min_size", default=400, type=int,
                        help="skip videos whose width or height is below this (as the original)")
    parser.add_argument("--scale", default=0.5, type=float,
                        help="resize factor applied to every frame (INTER_AREA); the original's "
                             "0.5 halves 720p/1080p footage, 1.0 keeps small clips whole")
    parser.add_argument("--format", default="bestvideo/best",
                        help="yt-dlp format selection (the original's)")
    return parser


# ----------------------------------------------------------------------------- log

class Log:
    """Print to the terminal and append to the log file (thread-safe).

    A log file that cannot be opened or written (a folder in its place, a full disk) is one
    UserError; after a failed write every further call raises it again (after printing), so the
    run stops at the next message instead of going on without a log. :meth:`close` never raises:
    it runs in a ``finally`` and must not bury the first error under a second traceback.
    """

    def __init__(self, summary_dir):
        now = datetime.datetime.now().strftime("%m%d%H%M")
        self.path = os.path.join(summary_dir, "logfile_%s.txt" % now)
        self._lock = threading.Lock()
        self._failure = None
        try:
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as err:
            raise self._error(err) from None

    def _error(self, err):
        if is_disk_full(err):
            return NoSpaceError(no_space_message(f"the log file '{self.path}'", RERUN))
        return UserError(f"cannot write the log file '{self.path}': {err.strerror or err}; "
                         "choose another --summary_dir")

    def __call__(self, message=""):
        with self._lock:
            print(message, flush=True)
            if self._failure is None:
                try:
                    self._file.write(str(message) + "\n")
                    self._file.flush()
                except OSError as err:
                    self._failure = self._error(err)
            if self._failure is not None:
                raise type(self._failure)(str(self._failure)) from None

    def close(self):
        try:
            self._file.close()
        except OSError:      # the unflushed rest of a failed write: already reported
            pass


class _YdlLogger:
    """Routes yt-dlp's messages into our log (its debug chatter is dropped)."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def debug(self, message):
        if message.startswith("[download] Destination") or "has already been downloaded" in message:
            self.log(f"[{self.name}] {message.replace('[download] ', '')}")

    def info(self, message):
        pass

    def warning(self, message):
        self.log(f"[{self.name}] warning: {message}")

    def error(self, message):
        self.log(f"[{self.name}] {message}")


def _downloader_module():
    try:
        import yt_dlp
        return yt_dlp, "yt-dlp"
    except ImportError:
        try:
            import youtube_dl
            return youtube_dl, "youtube-dl"
        except ImportError:
            raise UserError("dataPrepare.py needs yt-dlp to download videos: pip install yt-dlp "
                            "(or use --video_list with local video files)") from None


# ----------------------------------------------------------------------------- fetch

class Fetched:
    """What the fetch step of one video gave: a local path and/or metadata, or an error.
    ``downloaded``: the file is one dataPrepare downloaded (in :class:`Downloads`)."""

    def __init__(self, path=None, width=None, height=None, error=None, downloaded=False):
        self.path, self.width, self.height = path, width, height
        self.error, self.downloaded = error, downloaded


class Downloads:
    """The files dataPrepare downloaded into --disk_path, in ``<disk_path>/MANIFEST_NAME``:
    ``{file name: {"source": URL, "size": bytes}}``.

    Only these count as downloads: reused by a rerun, renamed to ``*.rejected`` when they cannot be
    decoded, deleted by --REMOVE. A file at a download's name that is not listed (the user's own,
    one from an older version, or changed since) is never used nor deleted. An unreadable manifest
    counts as empty, which can only make a rerun refuse files, never trust or delete one. The fetch
    threads record downloads while the main thread forgets removed ones, hence the lock.
    """

    def __init__(self, disk_path):
        self.path = os.path.join(disk_path, MANIFEST_NAME)
        self._lock = threading.Lock()
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            data = {}
        self._entries = {name: entry for name, entry in data.items()
                         if isinstance(entry, dict)} if isinstance(data, dict) else {}

    def _save(self):
        try:
            atomic.write_text(self.path, json.dumps(self._entries, indent=1, sort_keys=True)
                              + "\n", fsync=False)
        except OSError as err:
            if is_disk_full(err):
                raise NoSpaceError(no_space_message(f"'{self.path}'", RERUN)) from None
            raise UserError(f"cannot write '{self.path}': {err.strerror or err}") from None

    def entry(self, path):
        """The record of the file ``path`` if it is the one dataPrepare downloaded (same size)."""
        with self._lock:
            entry = self._entries.get(os.path.basename(path))
        try:
            same = entry is not None and entry.get("size") == os.path.getsize(path)
        except OSError:
            same = False
        return entry if same else None

    def record(self, path, source):
        try:
            size = os.path.getsize(path)
        except OSError as err:
            raise UserError(f"cannot read the download '{path}': {err.strerror or err}") from None
        with self._lock:
            self._entries[os.path.basename(path)] = {"source": source, "size": size}
            self._save()

    def forget(self, path):
        with self._lock:
            if self._entries.pop(os.path.basename(path), None) is not None:
                self._save()


def _not_ours(video, flags, downloads):
    """Why the download of ``video`` may not go ahead: a file at its name (``<name>.<ext>``) that
    dataPrepare did not download from this source. yt-dlp would take it for a finished download,
    scenes would be cut from it and --REMOVE would delete it. None when nothing is in the way."""
    try:
        entries = sorted(os.listdir(flags.disk_path))
    except OSError:
        return None
    for entry in entries:
        stem, ext = os.path.splitext(entry)
        if stem != video.name or not ext or ext in (".part", ".ytdl") \
                or entry in (MANIFEST_NAME, LOCK_NAME):
            continue
        path = os.path.join(flags.disk_path, entry)
        record = downloads.entry(path)
        if record is None:
            return (f"'{path}' is in the way: dataPrepare did not download it (a file of yours, "
                    "or from an older version?); move it away, or list it in --video_list as a "
                    "local file")
        if record.get("source") != video.source:
            return (f"'{path}' was downloaded from {record.get('source')}, not from "
                    f"{video.source}; move it away")
    return None


def fetch_video(video, flags, log, downloads):
    """Download (or, for --TEST, only query) one video; never raises for a bad link."""
    if video.is_local:
        if os.path.isdir(video.source):
            return Fetched(error=f"local source '{video.source}' is a folder, not a video file")
        if not os.path.isfile(video.source):
            return Fetched(error=f"local file '{video.source}' not found")
        return Fetched(path=video.source)
    in_the_way = _not_ours(video, flags, downloads)
    if in_the_way:
        return Fetched(error=in_the_way)
    module, tool = _downloader_module()
    options = {
        "format": flags.format,
        "outtmpl": os.path.join(flags.disk_path.replace("%", "%%"), video.name + ".%(ext)s"),
        "logger": _YdlLogger(log, video.name),
        "quiet": True,
        "noprogress": True,
        "noplaylist": True,
        "continuedl": True,
        "retries": 10,
        "socket_timeout": 30,
    }
    try:
        from lib.io.video_io import ffmpeg_exe
        options["ffmpeg_location"] = ffmpeg_exe()
    except UserError:
        pass
    try:
        with module.YoutubeDL(options) as ydl:
            info = ydl.extract_info(video.source, download=not flags.TEST)
            if info is None:
                return Fetched(error=f"{tool} returned nothing")
            if info.get("_type") == "playlist":
                return Fetched(error="the link is a playlist, not one video")
            width, height = info.get("width"), info.get("height")
            if flags.TEST:
                return Fetched(width=width, height=height)
            path = None
            for item in info.get("requested_downloads") or ():
                path = item.get("filepath") or path
            path = path or ydl.prepare_filename(info)
    except (KeyboardInterrupt, UserError):   # ours (the log or the disk failed): stop the run
        raise
    except Exception as err:   # any downloader failure is one skipped video, as in the original
        return Fetched(error=f"{tool} error: {str(err).replace('ERROR: ', '').strip()}")
    if not path or not os.path.isfile(path):
        return Fetched(error=f"{tool} reported success but '{path}' is missing")
    downloads.record(path, video.source)
    return Fetched(path=path, width=width, height=height, downloaded=True)


def reject_download(path, downloads):
    """Move a download that cannot be decoded aside (``*.rejected``) and forget it, so that a rerun
    downloads it afresh instead of failing on it forever; returns what was done, for the log."""
    target, n = path + ".rejected", 1
    while os.path.lexists(target):
        target, n = f"{path}.rejected.{n}", n + 1
    try:
        os.rename(path, target)
    except OSError as err:
        return (f"cannot rename it to '{target}' ({err.strerror or err}); move it away before "
                "the rerun")
    downloads.forget(path)
    return f"renamed to '{target}' so that a rerun downloads it afresh"


class Prefetcher:
    """Runs fetch_video for up to ``jobs`` videos ahead of the one being cut (daemon threads)."""

    def __init__(self, videos, flags, log, skip, downloads):
        self.videos, self.flags, self.log, self.skip = videos, flags, log, skip
        self.downloads = downloads
        self.futures = {}
        self.next = 0

    def _start(self, k):
        future = Future()
        self.futures[k] = future
        if self.skip(k):
            future.set_result(None)
            return

        def run():
            try:
                future.set_result(fetch_video(self.videos[k], self.flags, self.log,
                                              self.downloads))
            except BaseException as err:   # noqa: B902 - handed to the main thread
                future.set_exception(err)

        threading.Thread(target=run, daemon=True, name=f"fetch-{k}").start()

    def get(self, k):
        limit = min(len(self.videos), k + max(1, self.flags.jobs))
        while self.next < limit:
            self._start(self.next)
            self.next += 1
        return self.futures.pop(k).result()


# ----------------------------------------------------------------------------- scenes

def scene_dir(flags, scene_id):
    return os.path.join(flags.disk_path, SCENE_NAME % scene_id)


def scene_complete(folder, duration):
    return all(os.path.isfile(os.path.join(folder, FRAME_NAME % i)) for i in range(duration))


def scene_stamp(video, start, flags):
    """What a scene folder cut now from ``video`` at ``start`` records (its STAMP_NAME file)."""
    return {"source": video.source, "start": start, "duration": flags.duration,
            "scale": flags.scale}


WRITE, DONE, REFUSE = "write", "done", "refuse"


def scene_state(folder, stamp, flags):
    """``(action, detail)`` for one scene folder: DONE (detail: a note or None), WRITE (detail:
    True when frames there must be deleted first) or REFUSE (detail: the reason).

    The stamp is written before the first frame (see prepare_scene), so a folder with our stamp
    holds only frames cut with those settings: complete means done, incomplete means redo. A
    stamp with other settings means the frames are of something else: refused unless --overwrite.
    A folder without a stamp is from an older version, the original script or the user: complete
    ones are kept (existing data sets stay usable); incomplete ones holding frames are refused,
    since the frames may be the user's.
    """
    if not os.path.lexists(folder):
        return WRITE, False
    if not os.path.isdir(folder):
        what = "a broken link" if os.path.islink(folder) else "a file"
        return REFUSE, f"{folder} is {what}, not a folder; move it away"
    stamp_path = os.path.join(folder, STAMP_NAME)
    if os.path.lexists(stamp_path):
        try:
            with open(stamp_path, encoding="utf-8") as handle:
                recorded = json.load(handle)
        except (OSError, ValueError):
            recorded = None
        if not isinstance(recorded, dict):
            why = f"its record '{stamp_path}' cannot be read"
        elif {key: recorded.get(key) for key in stamp} == stamp:
            return (DONE, None) if scene_complete(folder, flags.duration) else (WRITE, False)
        else:
            why = ("it holds frames of %s at frame %s, %s frames, scale %s"
                   % (recorded.get("source"), recorded.get("start"), recorded.get("duration"),
                      recorded.get("scale")))
        if flags.overwrite:
            return WRITE, True
        return REFUSE, f"{why}; move it away or pass --overwrite"
    if scene_complete(folder, flags.duration):
        return DONE, ("no record of its source (made by an older version or the original "
                      "script?); kept as it is, move it away to cut it again")
    try:
        frames = [entry for entry in os.listdir(folder) if FRAME_FILE.fullmatch(entry)]
    except OSError as err:
        return REFUSE, f"cannot read the folder: {err.strerror or err}"
    if not frames:
        return WRITE, False
    if flags.overwrite:
        return WRITE, True
    return REFUSE, (f"it holds {len(frames)} frame(s) that dataPrepare has no record of "
                    "writing (yours?); move it away or pass --overwrite")


def _os_reason(err):
    if is_disk_full(err):
        return "no space left on the device"
    return err.strerror or str(err)


def prepare_scene(folder, stamp, replace):
    """Make ``folder`` ready for its first frame: create it, delete the frames it held when
    ``replace`` (and temporaries of older versions), then write its stamp. Deleting comes first:
    a run stopped in between leaves the old stamp over fewer frames, which is refused again (never
    a new stamp over old frames, which would pass for complete). UserError: a reason for the scene.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        for entry in os.listdir(folder):
            if OLD_PARTIAL.fullmatch(entry) or (replace and FRAME_FILE.fullmatch(entry)):
                os.remove(os.path.join(folder, entry))
        atomic.write_text(os.path.join(folder, STAMP_NAME),
                          json.dumps(stamp, indent=1) + "\n", fsync=False)
    except OSError as err:
        if isinstance(err, FileExistsError) or os.path.lexists(folder) \
                and not os.path.isdir(folder):
            raise UserError(f"{folder} is a file, not a folder; move it away") from None
        raise UserError(f"cannot write into {folder}: {_os_reason(err)}") from None


def scaled_size(width, height, scale):
    """The frame size cv2.resize makes with fx = fy = ``scale`` (it rounds), or None when a side
    would be 0 pixels (cv2 then fails with an assertion)."""
    size = (round(width * scale), round(height * scale))
    return size if min(size) >= 1 else None


def too_small_reason(width, height, scale):
    return f"--scale {scale:g} makes its {width}x{height} frames smaller than one pixel"


def extract_scenes(path, scenes, duration, name, scale=0.5, prepare=lambda folder: None):
    """Write the frames of ``scenes`` = [(scene folder, start)] from one decoding pass.

    ``prepare(folder)`` runs before the first frame of a scene is written (so a scene the video
    never reaches leaves no folder behind); a UserError from it or from writing a frame ends that
    scene with that reason, the others go on. Returns ``({folder: None if complete else the reason
    it is not}, damaged)`` where ``damaged`` says the video itself failed to decode.
    """
    import cv2

    from lib.io.frame_io import write_image_rgb8_atomic
    from lib.io.video_io import iter_video_frames

    # Which scenes a frame belongs to is found arithmetically: a table over every frame index
    # would take memory in proportion to --duration (1e12 frames: MemoryError).
    last = max(start for _, start in scenes) + duration - 1
    written = {folder: 0 for folder, _ in scenes}
    stopped, prepared = {}, set()     # folder -> why its writing stopped; folders prepared
    decoded, problem, damaged = 0, None, False
    try:
        from tqdm import tqdm
        bar = tqdm(total=last + 1, unit="frame", desc=name, disable=None, leave=False)
    except ImportError:  # pragma: no cover
        bar = None
    frames = iter_video_frames(path)
    try:
        for index, frame in enumerate(frames):
            decoded = index + 1
            if bar is not None:
                bar.update(1)
            targets = [(folder, index - start) for folder, start in scenes
                       if start <= index < start + duration and folder not in stopped]
            if targets:
                if scaled_size(frame.shape[1], frame.shape[0], scale) is None:
                    problem = too_small_reason(frame.shape[1], frame.shape[0], scale)
                    break
                # the original: cv.resize(frame, (0, 0), fx=0.5, fy=0.5, interpolation=INTER_AREA)
                small = frame if scale == 1.0 else cv2.resize(
                    frame, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                for folder, i in targets:
                    try:
                        if folder not in prepared:
                            prepare(folder)
                            prepared.add(folder)
                        # unique temporary, removed on any error (Ctrl-C included): two runs or
                        # a stopped run never leave or share a half-written frame
                        write_image_rgb8_atomic(os.path.join(folder, FRAME_NAME % i), small)
                        written[folder] += 1
                    except UserError as err:
                        stopped[folder] = str(err)
                if len(stopped) == len(scenes):
                    break
            if index >= last:
                break
    except UserError as err:    # from the decoder: the video is damaged or cannot be read
        problem, damaged = str(err), True
    finally:
        frames.close()
        if bar is not None:
            bar.close()
    result = {}
    for folder, start in scenes:
        if folder in stopped:
            result[folder] = stopped[folder]
        elif written[folder] == duration:
            result[folder] = None
        elif problem:
            result[folder] = problem
        else:
            result[folder] = (f"the video has {decoded} frames; the scene needs frames "
                              f"{start}..{start + duration - 1}")
    return result, damaged


# ----------------------------------------------------------------------------- main

def print_configuration(flags, log):
    log("[Configurations]:")
    for name, value in vars(flags).items():
        log("\t%s: %s" % (name, value))
    log("End of configuration")


def check_flags(flags):
    if flags.duration < 1:
        raise UserError(f"--duration must be at least 1, got {flags.duration}")
    if flags.start_id < 0:
        raise UserError(f"--start_id must not be negative, got {flags.start_id}")
    if flags.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {flags.jobs}")
    if not 0.0 < flags.scale <= 1.0:
        raise UserError(f"--scale must be in (0, 1], got {flags.scale}")
    if flags.min_size < 0:
        raise UserError(f"--min_size must not be negative, got {flags.min_size}")


def main(argv=None):
    flags = build_parser().parse_args(argv)
    check_flags(flags)
    # 'is not None': an empty value is a mistake to report, not a request for the official list
    if flags.write_video_list is not None:
        if flags.write_video_list == "-":
            sys.stdout.write(video_list_text(official_videos()))
            return 0
        write_video_list(official_videos(), flags.write_video_list, overwrite=flags.overwrite)
        print(f"wrote the official list to {flags.write_video_list}; edit it and pass it with "
              "--video_list")
        return 0
    if flags.video_list is not None:
        if not flags.video_list:
            raise UserError("--video_list is empty; give a list file, or leave the flag out for "
                            "the official list")
        videos = read_video_list(flags.video_list)
    else:
        videos = official_videos()
    # every video is probed and decoded with ffmpeg: without it each one would fail (and each
    # download would be taken for a damaged one), so say so once, before anything is written
    from lib.io.video_io import ffmpeg_exe
    ffmpeg_exe()
    if flags.summary_dir == "":
        flags.summary_dir = os.path.join(flags.disk_path, "log/")
    # a file in the way, an unwritable place: one error line before anything is written
    created = prepare_output_dir(flags.disk_path, "--disk_path")
    try:
        created_log = prepare_output_dir(flags.summary_dir, "--summary_dir")
    except UserError:
        remove_if_empty(created)
        raise
    notes = []     # the lock's note about a stale lock, for the log once it is open
    try:
        # one run at a time: two runs would write the same scenes and downloads
        with FolderLock(flags.disk_path, "--disk_path folder", log=notes.append):
            log = Log(flags.summary_dir)
            try:
                for note in notes:
                    log(note)
                return run(flags, videos, log)
            finally:
                log.close()
    except BaseException:
        remove_if_empty(created_log)      # folders made for nothing (the lock was refused, ...)
        remove_if_empty(created)
        raise


def run(flags, videos, log):
    print_configuration(flags, log)
    total = sum(len(v.starts) for v in videos)
    log("Try loading %dx%d." % (total, flags.duration))
    stable = scene_ids(videos, flags.start_id)
    downloads = Downloads(flags.disk_path)

    def states(k, ids):
        return [scene_state(scene_dir(flags, scene_id), scene_stamp(videos[k], start, flags), flags)
                for scene_id, start in zip(ids, videos[k].starts)]

    def stable_ids(k):
        return [stable[(k, j)] for j in range(len(videos[k].starts))]

    def nothing_to_write(k):   # skip fetching such a video (stable ids only)
        if flags.TEST or flags.original_numbering:
            return False
        return all(action != WRITE for action, _ in states(k, stable_ids(k)))

    prefetch = Prefetcher(videos, flags, log, nothing_to_write, downloads)
    succeeded, report = [], []
    valid_videos, scenes_ok, scenes_failed = 0, 0, 0
    started = time.time()
    for k, video in enumerate(videos):
        log(video.source)
        fetched = prefetch.get(k)
        if fetched is None:
            ids = stable_ids(k)
            failed = []
            for scene_id, (action, detail) in zip(ids, states(k, ids)):
                folder = scene_dir(flags, scene_id)
                if action == REFUSE:
                    failed.append(scene_id)
                    log("folder %s: INCOMPLETE - %s" % (folder, detail))
                elif detail:
                    log("folder %s: complete, %s" % (folder, detail))
            if failed:
                log(f"no scene of {video.name} to cut: not downloaded")
                status = f"{len(failed)} scene(s) incomplete"
            else:
                log(f"all {len(ids)} scenes of {video.name} are complete, skipped")
                status = "complete already"
            succeeded.append(True)
            valid_videos += 1
            scenes_ok += len(ids) - len(failed)
            scenes_failed += len(failed)
            report.append((video, status, ids, failed))
            continue
        reason = fetched.error
        if reason is None and fetched.path:
            try:
                from lib.io.video_io import probe_video
                info = probe_video(fetched.path, count_frames=False)
                fetched.width, fetched.height = info["width"], info["height"]
            except UserError as err:
                reason = str(err)
                if fetched.downloaded:
                    reason += "; " + reject_download(fetched.path, downloads)
        if reason:
            log("Skipped invalid link or other error: %s (%s)" % (video.source, reason))
        elif fetched.width is not None and (fetched.width < flags.min_size
                                            or fetched.height < flags.min_size):
            reason = "small size %dx%d" % (fetched.width, fetched.height)
            log("Skipped videos of small size %dx%d" % (fetched.width, fetched.height))
        elif fetched.width is not None and scaled_size(fetched.width, fetched.height,
                                                       flags.scale) is None:
            reason = too_small_reason(fetched.width, fetched.height, flags.scale)
            log("Skipped %s: %s" % (video.source, reason))
        succeeded.append(reason is None)
        if reason:
            report.append((video, "failed: " + reason, [], []))
            continue
        valid_videos += 1
        if flags.original_numbering:
            ids_map = scene_ids(videos[:k + 1], flags.start_id, succeeded)
            ids = [ids_map[(k, j)] for j in range(len(video.starts))]
        else:
            ids = stable_ids(k)
        size = ("[%d,%d]" % (fetched.width, fetched.height) if fetched.width is not None
                else "[unknown size]")
        # the original logs "//2" for its fixed 0.5; other --scale values are shown as "*s"
        size += "//2" if flags.scale == 0.5 else "*%g" % flags.scale
        todo, failed, plans = [], [], {}
        for scene_id, start, (action, detail) in zip(ids, video.starts, states(k, ids)):
            folder = scene_dir(flags, scene_id)
            source = fetched.path or video.source
            if flags.TEST:
                log("folder %s: %dx%s at frame %d of %s (TEST: not written)"
                    % (folder, flags.duration, size, start, source))
            elif action == DONE:
                log("folder %s: complete, %s" % (folder, detail or "skipped"))
            elif action == REFUSE:
                failed.append(scene_id)
                log("folder %s: INCOMPLETE - %s" % (folder, detail))
            else:
                log("folder %s: %dx%s at frame %d of %s%s"
                    % (folder, flags.duration, size, start, source,
                       " (replacing its frames: --overwrite)" if detail else ""))
                todo.append((folder, start))
                plans[folder] = (scene_stamp(video, start, flags), detail)
        damaged = False
        if todo:
            results, damaged = extract_scenes(
                fetched.path, todo, flags.duration, video.name, flags.scale,
                prepare=lambda folder: prepare_scene(folder, *plans[folder]))
            for scene_id in ids:
                folder = scene_dir(flags, scene_id)
                if results.get(folder):
                    failed.append(scene_id)
                    log("folder %s: INCOMPLETE - %s" % (folder, results[folder]))
        if damaged and fetched.downloaded:
            log("%s: %s" % (fetched.path, reject_download(fetched.path, downloads)))
        if flags.TEST:
            status = "checked (TEST)"
        else:
            failed.sort()
            status = "ok" if not failed else f"{len(failed)} scene(s) incomplete"
            scenes_ok += len(ids) - len(failed)
            scenes_failed += len(failed)
        report.append((video, status, ids, failed))
        if not flags.TEST and flags.REMOVE and fetched.downloaded and not damaged:
            remove_download(fetched.path, failed, downloads, log)

    log("")
    log("Summary (%.0f s):" % (time.time() - started))
    for video, status, ids, failed in report:
        span = "scenes %d-%d" % (ids[0], ids[-1]) if ids else "no scenes"
        extra = " (incomplete: %s)" % ", ".join(str(i) for i in failed) if failed else ""
        log("  %-12s %-40s %s%s" % (video.name, span, status, extra))
    bad = [v.name for v, status, _, f in report if status.startswith("failed") or f]
    if flags.TEST:
        log("TEST done: %d of %d videos reachable; nothing was written." % (valid_videos,
                                                                            len(videos)))
    else:
        log("Done: get %d valid folders with %d frames from %d videos." % (scenes_ok,
                                                                          flags.duration,
                                                                          valid_videos))
    if bad:
        log("Failed: %s. Replace dead links with --video_list (see --write_video_list); "
            "rerun to retry (complete scenes are kept)." % ", ".join(bad))
        if not flags.original_numbering:
            log("Scene ids are stable per video: the scenes of the failed videos are missing, "
                "the others keep their ids.")
    log("log file: %s" % log.path)
    return 1 if bad else 0


def remove_download(path, failed, downloads, log):
    """--REMOVE: delete a download once all its scenes are complete; with scenes still missing
    the rerun needs it, so it stays."""
    if failed:
        log("keep %s for the rerun: %d of its scenes are incomplete" % (path, len(failed)))
        return
    log("remove %s" % path)
    try:
        os.remove(path)
    except OSError as err:
        log("cannot remove %s: %s" % (path, err.strerror or err))
        return
    downloads.forget(path)


if __name__ == "__main__":
    sys.exit(run_cli(main))
