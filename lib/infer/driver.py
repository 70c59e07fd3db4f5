"""``main.py --mode inference``: the original's inference with its exact semantics, streamed.

What is the same as the original (reference section 3.3): frame order, the 5-frame mirrored
warm-up, zeros as the warped previous frame at the start, the symmetric flow padding, outputs
saved as trunc(clip(x * 255)), names ``<output_name>_<input basename>.<ext>``, the log file and the
closing "total time ..., frame number ..." line (time of the network calls, warm-up included, no
file I/O).

What is better: frames are read and written in background threads while the network runs
(lib/io/background.py), and only six frames are ever buffered, so memory does not grow with clip
length; video files work as input and as output; clips shorter than six frames keep all their
outputs (the original's hard-coded ``i >= 5`` dropped some); bad input is reported before
anything is written (lib/infer/prepare.py, without TensorFlow), outputs of another input are never
replaced without --overwrite and frames appear under their names only when complete
(lib/io/output_plan.py); the closing line counts the clip's frames, not the warm-up steps.

The configuration is an :class:`lib.infer.config.InferenceConfig` (main.py builds it from the
command-line flags).
"""
import contextlib
import sys
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from lib.errors import UserError
from lib.infer.prepare import check_num_resblock, check_tile, prepare_inference
from lib.infer.recurrent import RecurrentUpscaler, warmup_order
from lib.infer.tiling import choose_tile, costly_tile_warning
from lib.interrupts import handle_interrupts, raise_if_interrupted
from lib.io.background import BackgroundWriter, prefetch
from lib.logging_utils import log_only, tee_stdout
from lib.models.checkpoint import checkpoint_resblocks, load_official, open_checkpoint
from lib.models.networks import FNet, Generator

DEFERRED_MESSAGE = "{signal} received: inference stops when this frame is done"


def build_models(num_resblock, checkpoint):
    """Generator and FNet with the checkpoint's weights (official TF1 variable names)."""
    check_num_resblock(num_resblock)
    # The checkpoint's block count first: a wrong --num_resblock (say 1000000) would otherwise
    # build a model of that size (gigabytes, minutes) before load_official finds the mismatch.
    prefix, _, shapes = open_checkpoint(checkpoint)
    stored = checkpoint_resblocks(shapes)
    if stored and stored != int(num_resblock):
        raise UserError(f"checkpoint '{prefix}' has a generator with {stored} residual blocks, "
                        f"not --num_resblock {num_resblock}; use --num_resblock {stored}")
    generator, fnet = Generator(num_resblock), FNet()
    variables = {**generator.official_variables(), **fnet.official_variables()}
    load_official(variables, checkpoint)
    return generator, fnet


def run_inference(config, prepared=None):
    """The whole inference mode for an :class:`lib.infer.config.InferenceConfig`; returns timings.

    ``prepared``: the result of :func:`lib.infer.prepare.prepare_inference` when the caller
    already ran the checks (main.py does, before importing TensorFlow).
    """
    prepared = prepared or prepare_inference(config)
    generator, fnet = build_models(config.num_resblock, config.checkpoint)

    tee = tee_stdout(prepared.summary_dir)
    try:
        # Ctrl+C and a kill: KeyboardInterrupt (never inside TensorFlow, lib/interrupts.py), the
        # writer finishes the frames queued so far (each whole), the folder's lock is released.
        with handle_interrupts(DEFERRED_MESSAGE):
            return _run(config, prepared.source, prepared.plan, generator, fnet)
    finally:
        prepared.plan.close()           # the output folder's lock (taken with the first frame)
        sys.stdout.flush()
        sys.stdout = tee.stream
        tee.close()


def make_upscaler(config, generator, fnet, height, width):
    """The recurrent step with the inference options beyond the original (tile, precision, fast)."""
    tile = check_tile(config.tile)
    if tile == 0:
        tile = choose_tile(height, width, generator.num_resblock, fast=config.fast_path)
    upscaler = RecurrentUpscaler(generator, fnet, height, width, tile=max(tile, 0),
                                 fast=config.fast_path, precision=config.precision)
    warning = costly_tile_warning(upscaler.tiles) if config.tile > 0 else None
    if warning:                     # a size the user gave (the automatic one is memory's choice)
        print(warning)
    details = [upscaler.tiles.describe()]
    if upscaler.precision != "fp32":
        details.append(f"{upscaler.precision} generator")
    if not upscaler.fast:
        details.append("literal graph")
    message = f"generator: {', '.join(details)}"
    log_only(message) if upscaler.tiles.trivial and len(details) == 1 else print(message)
    return upscaler


def _run(config, source, plan, generator, fnet):
    """The original's inference loop (reference 3.3, step 4): ``source`` in, ``plan`` out."""
    width, height = source.size
    print(f"input shape: [1, {height}, {width}, 3]")
    print(f"output shape: [1, {4 * height}, {4 * width}, 3]")
    upscaler = make_upscaler(config, generator, fnet, height, width)
    print("Finish building the network")
    print(f"Loading weights from ckpt model: {config.checkpoint}")
    n_warmup = min(5, len(source) - 1)
    print("Frame evaluation starts!!")
    sys.stdout.flush()
    progress = _Progress(config, plan, len(source))
    clock = _Clock()
    state = None                    # (previous LR frame, previous output); None: a black warp
    written = []
    with BackgroundWriter(plan, source, config.video_crf, progress.announce) as writer, progress:
        for step, ((name, rgb), warm) in enumerate(warmup_order(prefetch(source))):
            raise_if_interrupted()
            lr = _network_input(name, rgb, height, width)
            with clock.network_call(step):
                frame_u8, state = _recurrent_step(upscaler, lr, state)
            if warm:
                progress.warming_up(n_warmup - step)
            else:
                writer.put(name, frame_u8)
                written.append(name)
                progress.frame_done()
        if len(written) != len(source):
            _clip_ended_early(source, plan, writer, written)
    frames = len(written)
    # The original printed N + 5 here (its loop count, warm-up steps included); the clip's own
    # frame count is what users compare with their input. srtime still includes the warm-up.
    print(f"total time {clock.srtime}, frame number {frames} (+{n_warmup} warm-up steps)")
    print(f"output: {plan.output}")
    end = time.perf_counter()
    steps = frames + n_warmup
    # "frames" stays the number of network steps (warm-up included), as the benchmarks use it.
    return {"seconds": clock.srtime, "frames": steps, "clip_frames": frames,
            "warmup_frames": n_warmup, "loop_seconds": end - clock.start,
            "steady_seconds": end - clock.traced, "steady_frames": steps - clock.traced_steps,
            "tiles": upscaler.tiles.count, "output": plan.output}


def _clip_ended_early(source, plan, writer, written):
    """The input gave fewer frames than were counted before the run (a video whose packet count
    overstates its frames in a way the count did not foresee): say so, and make the outputs
    describe what was written: the manifest's frame count and files, the length of the sound."""
    print(f"note: '{source.path or source.label}' gave {len(written)} frames, not the "
          f"{len(source)} counted before the run; the output holds those {len(written)} frames")
    if writer.video is not None:
        writer.video.cut_audio(len(written) / source.fps)
    if written:
        plan.record_frames(written)


def _network_input(name, rgb, height, width):
    """The original's feed: the frame as [1, h, w, 3] float32 RGB / 255, at the clip's size."""
    if rgb.shape[:2] != (height, width):
        raise UserError(f"frame '{name}' is {rgb.shape[1]}x{rgb.shape[0]}, the clip is "
                        f"{width}x{height}")
    return tf.constant(rgb[np.newaxis].astype(np.float32) / 255.0)


def _recurrent_step(upscaler, lr, state):
    """One step: the frame as the original saves it (uint8 [4h, 4w, 3]) and the next state.

    ``state`` is (previous LR frame, previous output); None at the first step, whose warped
    previous frame is all zeros."""
    if state is None:
        out, out_u8 = upscaler.first_u8(lr)
    else:
        prev_lr, prev_out = state
        out, out_u8 = upscaler.next_u8(prev_lr, lr, prev_out)
    return out_u8.numpy()[0], (lr, out)


class _Clock:
    """The original's srtime (seconds in the network calls, warm-up included, no file I/O) and,
    for the benchmarks, when the loop started and when both graphs were traced (after step 1)."""

    def __init__(self):
        self.srtime = 0.0
        self.start = self.traced = time.perf_counter()
        self.traced_steps = 0

    @contextlib.contextmanager
    def network_call(self, step):
        start = time.time()
        yield
        self.srtime += time.time() - start
        if step <= 1:
            self.traced, self.traced_steps = time.perf_counter(), step + 1


class _Progress:
    """What the user sees while the clip runs: the original's "Warming up N" and "saving image
    ..." lines, or with --progress (the default) a bar counting the clip's frames (the warm-up
    steps show only in its description) while those lines go to the log file only. For a video
    output: one "writing video ..." line, and "encoding frame ..." lines in the log file."""

    def __init__(self, config, plan, clip_frames):
        self.output_name, self.plan = config.output_name, plan
        self.bar = None
        if config.progress:
            self.bar = tqdm(total=clip_frames, unit="frame", desc="warming up",
                            dynamic_ncols=True)
        self._video_started = False

    def _say(self, message):
        log_only(message) if self.bar is not None else print(message)

    def warming_up(self, remaining):
        self._say(f"Warming up {remaining}")

    def announce(self, name):
        """Called by the writer as it queues the output of frame ``name``."""
        if not self.plan.is_video:
            self._say(f"saving image {self.output_name}_{name}")
            return
        if not self._video_started:
            self._video_started = True
            print(f"writing video {self.plan.video_path}")
        log_only(f"encoding frame {name}")

    def frame_done(self):
        if self.bar is not None:
            self.bar.set_description("super-resolving", refresh=False)
            self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if self.bar is not None:
            self.bar.close()
        return False
