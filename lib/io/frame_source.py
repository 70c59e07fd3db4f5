"""The inference input: a folder of frames or a video file, checked and listed without TensorFlow.

Opening a source reads only headers (PNG IHDR, ffmpeg's stream description), so a wrong path or a
bad frame is reported in well under a second, before TensorFlow is imported; the frames themselves
are decoded later, one at a time, while the network runs.
"""
import os

from lib.errors import UserError
from lib.io.frame_io import (VIDEO_EXTENSIONS, check_png_complete, check_same_size, list_frames,
                             read_image_rgb8)
from lib.io.video_io import iter_video_frames, probe_video

DEFAULT_FPS = 25.0
MIN_LR_SIDE = 8


class FrameSource:
    """A clip: ``names`` (output base names), LR ``size`` (w, h), ``fps``, a frame iterator, and
    where it came from (``path``; ``audio_from``: the video whose sound belongs to it, if any)."""

    def __init__(self, names, size, fps, frames, label, path=None, degrade=False, audio_from=None):
        self.names, self.size, self.fps, self._frames, self.label = names, size, fps, frames, label
        self.path, self.degrade, self.audio_from = path, degrade, audio_from

    def __len__(self):
        return len(self.names)

    def __iter__(self):
        return zip(self.names, self._frames())


def _degrade(image):
    from lib.ops.degradation import bd_downsample_image   # imports TensorFlow: only when decoding
    return bd_downsample_image(image)


def is_video(path):
    return path is not None and os.path.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def _video_source(path, limit, degrade):
    info = probe_video(path)
    count = info.get("frames")
    if not count:
        raise UserError(f"video '{path}' holds no frames")
    if limit > 0:
        count = min(count, limit)
    width, height = info["width"], info["height"]
    if degrade:
        width, height = (width + 3) // 4, (height + 3) // 4

    def frames():
        for index, frame in enumerate(iter_video_frames(path)):
            if index >= count:
                break
            yield _degrade(frame) if degrade else frame

    names = [f"{i + 1:04d}" for i in range(count)]
    label = os.path.splitext(os.path.basename(path))[0]
    return FrameSource(names, (width, height), info.get("fps") or DEFAULT_FPS, frames, label,
                       path=path, degrade=degrade,
                       audio_from=path if info.get("audio_codec") else None)


def _folder_source(folder, limit, degrade, report=print):
    paths = list_frames(folder, report_skipped=report)
    if limit > 0:
        paths = paths[:limit]
    width, height = check_same_size(paths)       # headers: readable, decodable size, same size
    for path in paths:
        if path.lower().endswith(".png"):
            check_png_complete(path)
    if degrade:
        width, height = (width + 3) // 4, (height + 3) // 4

    def frames():
        for path in paths:
            image = read_image_rgb8(path)
            yield _degrade(image) if degrade else image

    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    _check_distinct_names(names, paths, folder)
    label = os.path.basename(os.path.normpath(folder))
    return FrameSource(names, (width, height), DEFAULT_FPS, frames, label, path=folder,
                       degrade=degrade)


def _check_distinct_names(names, paths, folder):
    """Each frame gets its own output name: ``0002.png`` and ``0002.PNG`` (the extension is not
    part of the output name) would both be written as ``<output_name>_0002.<ext>``, one result
    silently lost. Names differing only in case collide too, on case-insensitive file systems
    (and for anyone copying the outputs to one)."""
    seen = {}
    for name, path in zip(names, paths):
        other = seen.setdefault(name.casefold(), path)
        if other is not path:
            raise UserError(f"frames '{os.path.basename(other)}' and '{os.path.basename(path)}' "
                            f"of '{folder}' would get the same output name (outputs are named "
                            "after the frame without its extension, and names differing only "
                            "in case collide on many file systems); rename or remove one")


def check_input_len(input_dir_len):
    """-1 (the original's default) means every frame; a positive N the first N; nothing else."""
    if input_dir_len == 0 or input_dir_len < -1:
        raise UserError(f"--input_dir_len must be a positive number of frames, or -1 for all "
                        f"frames, not {input_dir_len}")


def open_source(input_dir_lr, input_dir_hr, input_dir_len=-1, report=print):
    """The original's choice: LR if given and present, else HR degraded on the fly."""
    check_input_len(input_dir_len)
    if input_dir_lr is not None and os.path.exists(input_dir_lr):
        path, degrade = input_dir_lr, False
    elif input_dir_hr is not None:
        path, degrade = input_dir_hr, True
    elif input_dir_lr is not None:
        raise UserError(f"input '{input_dir_lr}' does not exist")
    else:
        raise UserError("give --input_dir_LR (frames folder or video file) or --input_dir_HR")
    if not os.path.exists(path):
        raise UserError(f"input '{path}' does not exist")
    if is_video(path):
        source = _video_source(path, input_dir_len, degrade)
    elif os.path.isdir(path):
        source = _folder_source(path, input_dir_len, degrade, report)
    else:
        raise UserError(f"input '{path}' is neither a folder of PNG frames nor a video file "
                        f"({', '.join(VIDEO_EXTENSIONS)})")
    width, height = source.size
    if width < MIN_LR_SIDE or height < MIN_LR_SIDE:
        raise UserError(f"LR frames must be at least {MIN_LR_SIDE}x{MIN_LR_SIDE} pixels; '{path}' "
                        f"gives {width}x{height}")
    return source
