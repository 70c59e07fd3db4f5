"""``main.py --mode inference``: the original's inference with its exact semantics, streamed.

What is the same as the original (reference section 3.3): frame order, the 5-frame mirrored
warm-up, zeros as the warped previous frame at the start, the symmetric flow padding, outputs saved
as trunc(clip(x * 255)), names ``<output_name>_<input basename>.<ext>``, the log file and the closing
"total time ..., frame number ..." line (time of the network calls, warm-up included, no file I/O).

What is better: frames are read and written in background threads while the network runs, and
only six frames are ever buffered, so memory does not grow with clip length; video files work as
input and as output; clips shorter than six frames keep all their outputs (the original's
hard-coded ``i >= 5`` dropped some); bad input is reported before anything is written
(lib/infer/prepare.py, without TensorFlow), outputs of another input are never replaced without
--overwrite and frames appear under their names only when complete (lib/io/output_plan.py); the
closing line counts the clip's frames, not the warm-up steps.
"""
import os
import queue
import sys
import threading
import time

import numpy as np
import tensorflow as tf

from lib.models.checkpoint import load_official
from lib.errors import UserError
from lib.io.frame_io import to_uint8_truncated
from lib.io.frame_source import FrameSource, open_source  # noqa: F401  (part of this module's API)
from lib.infer.prepare import check_num_resblock, check_tile, prepare_inference
from lib.logging_utils import log_only, tee_stdout
from lib.models.networks import FNet, Generator
from lib.io.output_plan import OutputPlan  # noqa: F401  (part of this module's API)
from lib.infer.recurrent import RecurrentUpscaler, warmup_order
from lib.infer.tiling import choose_tile
from lib.io.video_io import DEFAULT_CRF

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
    """Writes frames in a thread (bounded queue), so disk I/O overlaps the network.

    Nothing on disk changes before the first frame is queued: then the plan records the input and
    (with --overwrite) removes the other clip's outputs, and the video encoder starts.
    """

    def __init__(self, plan, source, crf, announce):
        self.plan, self.source, self.crf, self.announce = plan, source, crf, announce
        self.queue = queue.Queue(maxsize=4)
        self.error = None
        self.video = None
        self.thread = None

    def _start(self):
        self.plan.begin()
        if self.plan.is_video:
            from lib.io.video_io import VideoWriter
            source = self.source
            self.video = VideoWriter(self.plan.video_path, source.fps, self.plan.hr_size[0],
                                     self.plan.hr_size[1], crf=self.crf,
                                     audio_from=source.audio_from,
                                     audio_seconds=len(source) / source.fps)
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
                    self.plan.write_frame(name, rgb)
            except Exception as err:  # reported in the main thread
                self.error = err

    def put(self, name, frame):
        """Queue a frame: uint8 RGB as saved, or floats in [0, 1] (converted as the original)."""
        if self.thread is None:
            self._start()
        if self.error is not None:
            raise self.error
        self.announce(name)
        self.queue.put((name, frame))

    def abort(self):
        """Stop after an error elsewhere: frames written so far stay, an unfinished video goes."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
        if self.video is not None:
            self.video.abort()

    def close(self):
        if self.thread is None:
            return
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


def build_models(num_resblock, checkpoint):
    check_num_resblock(num_resblock)
    generator, fnet = Generator(num_resblock), FNet()
    variables = {**generator.official_variables(), **fnet.official_variables()}
    load_official(variables, checkpoint)
    return generator, fnet


def run_inference(flags, prepared=None):
    """The whole inference mode; ``flags`` holds the original flag names (absl FLAGS or a namespace).

    ``prepared``: the result of :func:`lib.infer.prepare.prepare_inference` when the caller
    already ran the checks (main.py does, before importing TensorFlow).
    """
    prepared = prepared or prepare_inference(flags)
    generator, fnet = build_models(flags.num_resblock, flags.checkpoint)

    tee = tee_stdout(prepared.summary_dir)
    try:
        return _run(flags, prepared.source, prepared.plan, generator, fnet)
    finally:
        sys.stdout.flush()
        sys.stdout = tee.stream
        tee.close()


def _tile_flag(flags):
    return check_tile(getattr(flags, "tile", 0))


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


def _announcer(flags, plan, show_progress):
    """One line per written frame (the original's "saving image ..."), or for a video one line
    when it starts; with the progress bar on, per-frame lines go to the log file only."""
    def say(message):
        log_only(message) if show_progress else print(message)

    if not plan.is_video:
        return lambda name: say(f"saving image {flags.output_name}_{name}")
    started = []

    def announce(name):
        if not started:
            started.append(name)
            print(f"writing video {plan.video_path}")
        log_only(f"encoding frame {name}")
    return announce


def _run(flags, source, plan, generator, fnet):
    width, height = source.size
    print(f"input shape: [1, {height}, {width}, 3]")
    print(f"output shape: [1, {4 * height}, {4 * width}, 3]")
    upscaler = make_upscaler(flags, generator, fnet, height, width)
    print("Finish building the network")
    print(f"Loading weights from ckpt model: {flags.checkpoint}")

    show_progress = getattr(flags, "progress", True)
    writer = BackgroundWriter(plan, source, getattr(flags, "video_crf", DEFAULT_CRF),
                              _announcer(flags, plan, show_progress))
    n_warmup = min(5, len(source) - 1)
    steps = len(source) + n_warmup
    print("Frame evaluation starts!!")
    sys.stdout.flush()
    bar = None
    if show_progress:
        # Counts the clip's frames; the warm-up steps only show in the description.
        from tqdm import tqdm
        bar = tqdm(total=len(source), unit="frame", desc="warming up", dynamic_ncols=True)
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
                if bar is not None:
                    bar.set_description("super-resolving", refresh=False)
                    bar.update(1)
            prev_lr, prev_out = cur, out
    except BaseException:
        if bar is not None:
            bar.close()
        writer.abort()
        raise
    if bar is not None:
        bar.close()
    writer.close()
    # The original printed N + 5 here (its loop count, warm-up steps included); the clip's own
    # frame count is what users compare with their input. srtime still includes the warm-up.
    print(f"total time {srtime}, frame number {len(source)} (+{n_warmup} warm-up steps)")
    print(f"output: {plan.output}")
    end = time.perf_counter()
    # "frames" stays the number of network steps (warm-up included), as the benchmarks use it.
    return {"seconds": srtime, "frames": steps, "clip_frames": len(source),
            "warmup_frames": n_warmup, "loop_seconds": end - loop_start,
            "steady_seconds": end - traced, "steady_frames": steps - traced_steps,
            "tiles": upscaler.tiles.count, "output": plan.output}
