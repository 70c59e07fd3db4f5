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
* a summary of what succeeded and what failed (exit status 1 when something failed).
"""
import argparse
import datetime
import os
import sys
import threading
import time
from concurrent.futures import Future

from lib.errors import UserError, run_cli
from lib.io.video_list import official_videos, read_video_list, scene_ids, write_video_list

FRAME_NAME = "col_high_%04d.png"
SCENE_NAME = "scene_%04d"


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
                             "--video_list format and exit; edit it to replace dead links")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --write_video_list: replace FILE if it exists (without it an "
                             "existing list, perhaps edited, is never replaced)")
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
    """Print to the terminal and append to the log file (thread-safe)."""

    def __init__(self, summary_dir):
        now = datetime.datetime.now().strftime("%m%d%H%M")
        self.path = os.path.join(summary_dir, "logfile_%s.txt" % now)
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, message=""):
        with self._lock:
            print(message, flush=True)
            self._file.write(str(message) + "\n")
            self._file.flush()

    def close(self):
        self._file.close()


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
    """What the fetch step of one video gave: a local path and/or metadata, or an error."""

    def __init__(self, path=None, width=None, height=None, error=None, downloaded=False):
        self.path, self.width, self.height = path, width, height
        self.error, self.downloaded = error, downloaded


def fetch_video(video, flags, log):
    """Download (or, for --TEST, only query) one video; never raises for a bad link."""
    if video.is_local:
        if not os.path.isfile(video.source):
            return Fetched(error=f"local file '{video.source}' not found")
        return Fetched(path=video.source)
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
    except KeyboardInterrupt:
        raise
    except Exception as err:   # any downloader failure is one skipped video, as in the original
        return Fetched(error=f"{tool} error: {str(err).replace('ERROR: ', '').strip()}")
    if not path or not os.path.isfile(path):
        return Fetched(error=f"{tool} reported success but '{path}' is missing")
    return Fetched(path=path, width=width, height=height, downloaded=True)


class Prefetcher:
    """Runs fetch_video for up to ``jobs`` videos ahead of the one being cut (daemon threads)."""

    def __init__(self, videos, flags, log, skip):
        self.videos, self.flags, self.log, self.skip = videos, flags, log, skip
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
                future.set_result(fetch_video(self.videos[k], self.flags, self.log))
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


def extract_scenes(path, scenes, duration, log, name, scale=0.5):
    """Write the frames of ``scenes`` = [(scene folder, start)] from one decoding pass.

    Returns {folder: None if complete else the reason it is not}.
    """
    import cv2

    from lib.io.frame_io import write_image_rgb8
    from lib.io.video_io import iter_video_frames

    wanted = {}
    for folder, start in scenes:
        os.makedirs(folder, exist_ok=True)
        for i in range(duration):
            wanted.setdefault(start + i, []).append((folder, i))
    last = max(wanted)
    written = {folder: 0 for folder, _ in scenes}
    decoded, problem = 0, None
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
            targets = wanted.get(index)
            if targets:
                # the original: cv.resize(frame, (0, 0), fx=0.5, fy=0.5, interpolation=INTER_AREA)
                small = frame if scale == 1.0 else cv2.resize(
                    frame, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                for folder, i in targets:
                    final = os.path.join(folder, FRAME_NAME % i)
                    tmp = os.path.join(folder, ".partial_" + FRAME_NAME % i)
                    write_image_rgb8(tmp, small)
                    os.replace(tmp, final)
                    written[folder] += 1
            if index >= last:
                break
    except UserError as err:
        problem = str(err)
    finally:
        frames.close()
        if bar is not None:
            bar.close()
    result = {}
    for folder, start in scenes:
        if written[folder] == duration:
            result[folder] = None
        elif problem:
            result[folder] = problem
        else:
            result[folder] = (f"the video has {decoded} frames; the scene needs frames "
                              f"{start}..{start + duration - 1}")
    return result


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


def main(argv=None):
    flags = build_parser().parse_args(argv)
    check_flags(flags)
    if flags.write_video_list:
        write_video_list(official_videos(), flags.write_video_list, overwrite=flags.overwrite)
        print(f"wrote the official list to {flags.write_video_list}; edit it and pass it with "
              "--video_list")
        return 0
    videos = read_video_list(flags.video_list) if flags.video_list else official_videos()
    if flags.summary_dir == "":
        flags.summary_dir = os.path.join(flags.disk_path, "log/")
    try:
        os.makedirs(flags.disk_path, exist_ok=True)
        os.makedirs(flags.summary_dir, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create '{err.filename}': {err.strerror}; choose another "
                        "--disk_path / --summary_dir") from None
    log = Log(flags.summary_dir)
    try:
        return run(flags, videos, log)
    finally:
        log.close()


def run(flags, videos, log):
    print_configuration(flags, log)
    total = sum(len(v.starts) for v in videos)
    log("Try loading %dx%d." % (total, flags.duration))
    stable = scene_ids(videos, flags.start_id)

    def all_complete(k):   # skip fetching a video whose scenes are all there (stable ids only)
        if flags.TEST or flags.original_numbering:
            return False
        return all(scene_complete(scene_dir(flags, stable[(k, j)]), flags.duration)
                   for j in range(len(videos[k].starts)))

    prefetch = Prefetcher(videos, flags, log, all_complete)
    succeeded, report = [], []
    valid_videos, scenes_ok, scenes_failed = 0, 0, 0
    started = time.time()
    for k, video in enumerate(videos):
        log(video.source)
        fetched = prefetch.get(k)
        if fetched is None:
            ids = [stable[(k, j)] for j in range(len(video.starts))]
            log(f"all {len(ids)} scenes of {video.name} are complete, skipped")
            succeeded.append(True)
            valid_videos += 1
            scenes_ok += len(ids)
            report.append((video, "complete already", ids, []))
            continue
        reason = fetched.error
        if reason is None and fetched.path:
            try:
                from lib.io.video_io import probe_video
                info = probe_video(fetched.path, count_frames=False)
                fetched.width, fetched.height = info["width"], info["height"]
            except UserError as err:
                reason = str(err)
        if reason:
            log("Skipped invalid link or other error: %s (%s)" % (video.source, reason))
        elif fetched.width is not None and (fetched.width < flags.min_size
                                            or fetched.height < flags.min_size):
            reason = "small size %dx%d" % (fetched.width, fetched.height)
            log("Skipped videos of small size %dx%d" % (fetched.width, fetched.height))
        succeeded.append(reason is None)
        if reason:
            report.append((video, "failed: " + reason, [], []))
            continue
        valid_videos += 1
        if flags.original_numbering:
            ids_map = scene_ids(videos[:k + 1], flags.start_id, succeeded)
            ids = [ids_map[(k, j)] for j in range(len(video.starts))]
        else:
            ids = [stable[(k, j)] for j in range(len(video.starts))]
        size = ("[%d,%d]" % (fetched.width, fetched.height) if fetched.width is not None
                else "[unknown size]")
        # the original logs "//2" for its fixed 0.5; other --scale values are shown as "*s"
        size += "//2" if flags.scale == 0.5 else "*%g" % flags.scale
        todo, failed = [], []
        for scene_id, start in zip(ids, video.starts):
            folder = scene_dir(flags, scene_id)
            source = fetched.path or video.source
            if flags.TEST:
                log("folder %s: %dx%s at frame %d of %s (TEST: not written)"
                    % (folder, flags.duration, size, start, source))
            elif scene_complete(folder, flags.duration):
                log("folder %s: complete, skipped" % folder)
            else:
                log("folder %s: %dx%s at frame %d of %s"
                    % (folder, flags.duration, size, start, source))
                todo.append((folder, start))
        if todo:
            results = extract_scenes(fetched.path, todo, flags.duration, log, video.name,
                                     flags.scale)
            for scene_id in ids:
                folder = scene_dir(flags, scene_id)
                if results.get(folder):
                    failed.append(scene_id)
                    log("folder %s: INCOMPLETE - %s" % (folder, results[folder]))
        if flags.TEST:
            status = "checked (TEST)"
        else:
            status = "ok" if not failed else f"{len(failed)} scene(s) incomplete"
            scenes_ok += len(ids) - len(failed)
            scenes_failed += len(failed)
        report.append((video, status, ids, failed))
        if not flags.TEST and flags.REMOVE and fetched.downloaded and fetched.path:
            log("remove %s" % fetched.path)
            os.remove(fetched.path)

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


if __name__ == "__main__":
    sys.exit(run_cli(main))
