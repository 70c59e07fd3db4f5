"""``main.py --mode inference``: the original's inference with its exact semantics, streamed.

What is the same as the original (reference section 3.3): frame order, the 5-frame mirrored
warm-up, zeros as the warped previous frame at the start, the symmetric flow padding, outputs saved
as trunc(clip(x * 255)), names ``<output_name>_<input basename>.<ext>``, the log file and the closing
"total time ..., frame number ..." line (time of the network calls, warm-up included, no file I/O).

What is better: frames are read and written in background threads while the network runs, and
only six frames are ever buffered, so memory does not grow with clip length; video files work as
input and as output; clips shorter than six frames keep all their outputs (the original's
hard-coded ``i >= 5`` dropped some); bad input is reported before anything is written.
"""
import os
import queue
import sys
import threading
import time

import numpy as np
import tensorflow as tf

from lib.checkpoint import load_official
from lib.degradation import bd_downsample_image
from lib.errors import UserError
from lib.frame_io import (VIDEO_EXTENSIONS, check_same_size, image_size, list_frames,
                          read_image_rgb8, to_uint8_truncated, write_image_rgb8)
from lib.logging_utils import log_only, tee_stdout
from lib.networks import FNet, Generator
from lib.recurrent import RecurrentUpscaler, warmup_order
from lib.tiling import choose_tile

FRAME_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp")
VIDEO_OUTPUTS = ("mp4", "mkv")
DEFAULT_FPS = 25.0


class FrameSource:
    """A clip: ``names`` (output base names), LR ``size`` (w, h), ``fps`` and a frame iterator."""

    def __init__(self, names, size, fps, frames, label):
        self.names, self.size, self.fps, self._frames, self.label = names, size, fps, frames, label

    def __len__(self):
        return len(self.names)

    def __iter__(self):
        return zip(self.names, self._frames())


def _is_video(path):
    return path is not None and os.path.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def _video_source(path, limit, degrade):
    from lib.video_io import iter_video_frames, probe_video
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
            yield bd_downsample_image(frame) if degrade else frame

    names = [f"{i + 1:04d}" for i in range(count)]
    label = os.path.splitext(os.path.basename(path))[0]
    return FrameSource(names, (width, height), info.get("fps") or DEFAULT_FPS, frames, label)


def _folder_source(folder, limit, degrade):
    paths = list_frames(folder)
    if limit > 0:
        paths = paths[:limit]
    width, height = check_same_size(paths)
    if degrade:
        width, height = (width + 3) // 4, (height + 3) // 4

    def frames():
        for path in paths:
            image = read_image_rgb8(path)
            yield bd_downsample_image(image) if degrade else image

    names = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    label = os.path.basename(os.path.normpath(folder))
    return FrameSource(names, (width, height), DEFAULT_FPS, frames, label)


def open_source(input_dir_lr, input_dir_hr, input_dir_len=-1):
    """The original's choice: LR if given and present, else HR degraded on the fly."""
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
    if _is_video(path):
        source = _video_source(path, input_dir_len, degrade)
    elif os.path.isdir(path):
        source = _folder_source(path, input_dir_len, degrade)
    else:
        raise UserError(f"input '{path}' is neither a folder of PNG frames nor a video file "
                        f"({', '.join(VIDEO_EXTENSIONS)})")
    width, height = source.size
    if width < 8 or height < 8:
        raise UserError(f"LR frames must be at least 8x8 pixels; '{path}' gives {width}x{height}")
    return source


def build_models(num_resblock, checkpoint):
    generator, fnet = Generator(num_resblock), FNet()
    variables = {**generator.official_variables(), **fnet.official_variables()}
    load_official(variables, checkpoint)
    return generator, fnet


class OutputPlan:
    """Where each frame goes, checked against what the folder already holds."""

    def __init__(self, image_dir, output_name, ext, source, overwrite):
        ext = ext.lower().lstrip(".")
        if ext not in FRAME_EXTENSIONS + VIDEO_OUTPUTS:
            raise UserError(f"--output_ext '{ext}' is not supported; use one of "
                            f"{', '.join(FRAME_EXTENSIONS + VIDEO_OUTPUTS)}")
        self.image_dir, self.output_name, self.ext = image_dir, output_name, ext
        self.is_video = ext in VIDEO_OUTPUTS
        self.hr_size = (4 * source.size[0], 4 * source.size[1])
        if self.is_video:
            self.video_path = os.path.join(image_dir, f"{output_name}_{source.label}.{ext}")
            self.paths = {}
        else:
            self.paths = {n: os.path.join(image_dir, f"{output_name}_{n}.{ext}")
                          for n in source.names}
        self._check_existing(overwrite)

    def _check_existing(self, overwrite):
        if not os.path.isdir(self.image_dir):
            return
        if self.is_video:
            if os.path.exists(self.video_path) and not overwrite:
                raise UserError(f"'{self.video_path}' already exists; use --overwrite to replace it")
            return
        prefix, suffix = f"{self.output_name}_", f".{self.ext}"
        planned = {os.path.basename(p) for p in self.paths.values()}
        existing = [n for n in os.listdir(self.image_dir)
                    if n.startswith(prefix) and n.lower().endswith(suffix)]
        foreign = sorted(set(existing) - planned)
        ours = sorted(set(existing) & planned)
        wrong_size = [n for n in ours[:1]
                      if image_size(os.path.join(self.image_dir, n)) != self.hr_size]
        if (foreign or wrong_size) and not overwrite:
            example = (foreign or wrong_size)[0]
            why = "frames of another clip" if foreign else "frames of another size"
            raise UserError(f"output folder '{self.image_dir}' already holds {why} (e.g. "
                            f"'{example}'); use --overwrite to replace them, or another "
                            "--output_dir/--output_pre")
        if overwrite:
            for name in foreign:
                os.remove(os.path.join(self.image_dir, name))


BACKGROUND_NICENESS = 10


def lower_thread_priority(niceness=BACKGROUND_NICENESS):
    """Make the calling thread yield to the network's threads (Linux; elsewhere a no-op).

    Encoding a frame takes a core away from the network's parallel convolutions, which then wait
    for their slowest thread; at a lower priority the I/O threads mostly fill the gaps instead.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


class BackgroundWriter:
    """Writes frames in a thread (bounded queue), so disk I/O overlaps the network."""

    def __init__(self, plan, fps, crf, announce):
        self.plan, self.announce = plan, announce
        self.queue = queue.Queue(maxsize=4)
        self.error = None
        self.video = None
        if plan.is_video:
            from lib.video_io import VideoWriter
            self.video = VideoWriter(plan.video_path, fps, plan.hr_size[0], plan.hr_size[1],
                                     crf=crf)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        lower_thread_priority()
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            name, frame = item
            try:
                rgb = frame if frame.dtype == np.uint8 else to_uint8_truncated(frame)
                if self.video is not None:
                    self.video.write(rgb)
                else:
                    write_image_rgb8(self.plan.paths[name], rgb)
            except Exception as err:  # reported in the main thread
                self.error = err

    def put(self, name, frame):
        """Queue a frame: uint8 RGB as saved, or floats in [0, 1] (converted as the original)."""
        if self.error is not None:
            raise self.error
        self.announce(name)
        self.queue.put((name, frame))

    def close(self):
        self.queue.put(None)
        self.thread.join()
        if self.video is not None:
            if self.error is None:
                self.video.close()
            else:
                self.video.abort()
        if self.error is not None:
            raise self.error


def prefetch(iterable, depth=3):
    """Iterate in a background thread (decoding overlaps the network); errors re-raised here."""
    buffer = queue.Queue(maxsize=depth)
    done = object()

    def worker():
        lower_thread_priority()
        try:
            for item in iterable:
                buffer.put((item, None))
        except BaseException as err:  # forwarded to the consumer
            buffer.put((None, err))
        buffer.put((done, None))

    threading.Thread(target=worker, daemon=True).start()
    while True:
        item, err = buffer.get()
        if err is not None:
            raise err
        if item is done:
            return
        yield item


def run_inference(flags):
    """The whole inference mode; ``flags`` holds the original flag names (absl FLAGS or a namespace)."""
    if not flags.output_dir:
        raise UserError("--output_dir is required")
    _tile_flag(flags)
    summary_dir = flags.summary_dir or os.path.join(flags.output_dir, "log")
    source = open_source(flags.input_dir_LR, flags.input_dir_HR, flags.input_dir_len)
    image_dir = os.path.join(flags.output_dir, flags.output_pre) if flags.output_pre else \
        flags.output_dir
    plan = OutputPlan(image_dir, flags.output_name, flags.output_ext, source,
                      getattr(flags, "overwrite", False))
    generator, fnet = build_models(flags.num_resblock, flags.checkpoint)

    tee = tee_stdout(summary_dir)
    try:
        return _run(flags, source, plan, generator, fnet)
    finally:
        sys.stdout.flush()
        sys.stdout = tee.stream
        tee.close()


def _tile_flag(flags):
    tile = getattr(flags, "tile", 0)
    if tile < -1:
        raise UserError(f"--tile must be a tile size in LR pixels, 0 (automatic) or -1 (never "
                        f"tile), not {tile}")
    return tile


def make_upscaler(flags, generator, fnet, height, width):
    """The recurrent step with the inference flags beyond the original (tile, precision, fast)."""
    tile = _tile_flag(flags)
    fast = getattr(flags, "fast_path", True)
    if tile == 0:
        tile = choose_tile(height, width, generator.num_resblock, fast=fast)
    upscaler = RecurrentUpscaler(generator, fnet, height, width, tile=max(tile, 0), fast=fast,
                                 precision=getattr(flags, "precision", "fp32"))
    details = [upscaler.tiles.describe()]
    if upscaler.precision != "fp32":
        details.append(f"{upscaler.precision} generator")
    if not upscaler.fast:
        details.append("literal graph")
    message = f"generator: {', '.join(details)}"
    log_only(message) if upscaler.tiles.trivial and len(details) == 1 else print(message)
    return upscaler


def _run(flags, source, plan, generator, fnet):
    width, height = source.size
    print(f"input shape: [1, {height}, {width}, 3]")
    print(f"output shape: [1, {4 * height}, {4 * width}, 3]")
    upscaler = make_upscaler(flags, generator, fnet, height, width)
    print("Finish building the network")
    print(f"Loading weights from ckpt model: {flags.checkpoint}")
    os.makedirs(plan.image_dir, exist_ok=True)

    show_progress = getattr(flags, "progress", True)
    announce = (lambda n: log_only(f"saving image {flags.output_name}_{n}")) if show_progress \
        else (lambda n: print(f"saving image {flags.output_name}_{n}"))
    writer = BackgroundWriter(plan, source.fps, getattr(flags, "video_crf", 0), announce)
    n_warmup = min(5, len(source) - 1)
    total = len(source) + n_warmup
    print("Frame evaluation starts!!")
    sys.stdout.flush()
    bar = None
    if show_progress:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="frame", desc="super-resolving", dynamic_ncols=True)
    srtime = 0.0
    prev_lr = prev_out = None
    loop_start = traced = time.perf_counter()
    traced_steps = 0
    try:
        for step, ((name, rgb), warm) in enumerate(warmup_order(prefetch(iter(source)))):
            if rgb.shape[:2] != (height, width):
                raise UserError(f"frame '{name}' is {rgb.shape[1]}x{rgb.shape[0]}, the clip is "
                                f"{width}x{height}")
            cur = tf.constant(rgb[np.newaxis].astype(np.float32) / 255.0)
            start = time.time()
            out, out_u8 = upscaler.first_u8(cur) if step == 0 else \
                upscaler.next_u8(prev_lr, cur, prev_out)
            frame_u8 = out_u8.numpy()[0]
            srtime += time.time() - start
            if step <= 1:                      # both graphs traced after step 1
                traced, traced_steps = time.perf_counter(), step + 1
            if warm:
                message = f"Warming up {n_warmup - step}"
                log_only(message) if show_progress else print(message)
            else:
                writer.put(name, frame_u8)
            prev_lr, prev_out = cur, out
            if bar is not None:
                bar.update(1)
    except BaseException:
        if bar is not None:
            bar.close()
        writer.queue.put(None)
        raise
    if bar is not None:
        bar.close()
    writer.close()
    print(f"total time {srtime}, frame number {total}")
    end = time.perf_counter()
    return {"seconds": srtime, "frames": total, "loop_seconds": end - loop_start,
            "steady_seconds": end - traced, "steady_frames": total - traced_steps,
            "tiles": upscaler.tiles.count,
            "output": plan.video_path if plan.is_video else plan.image_dir}
