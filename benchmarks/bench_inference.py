r"""Inference speed and memory: ours (mode 1, end to end) against the FLOP count, the machine's
measured fp32 matmul peak, and the same network in PyTorch, all in one run.

    python3 benchmarks/bench_inference.py                 # everything (about 10 minutes on 2 cores)
    python3 benchmarks/bench_inference.py --quick         # calendar only, no 400-frame/1080p runs

What it prints, per LR size (Vid4 calendar 144x180 and 540x960) and residual-block count:

* ms/frame end to end: the whole inference mode (``lib.infer.driver.run_inference``: PNG reading in
  a background thread, the recurrent step, uint8 conversion, PNG writing in a background thread)
  on a real clip, in steady state: wall time from the end of the second step (the first two
  trace the two graphs) until the last frame is written, divided by the remaining steps (warm-up
  steps count, as in the original's "frame number"); the median step-to-step interval too;
* per stage (issue 2): read, FNet, warp (HR flow + dense warp), generator, write, each timed alone;
* GFLOP/frame from the model's layers: 2 x multiply-adds of every Conv2D and transposed conv in
  the traced graph of the literal step (FNet + generator; transposed convs at input size);
* achieved GFLOP/s and its fraction of the fp32 matmul peak (a 4096^3 ``tf.matmul``, best of
  several, measured at the start and the end of this run; the higher value is used);
* peak RSS of the run (its own process); for the calendar a 40-frame and a 400-frame clip;
* PyTorch: the same FNet + generator + warp (benchmarks/torch_tecogan.py, weights copied from
  ours, legacy resampling, ``eval()``, ``inference_mode``, channels-last, same thread count),
  one recurrent step per frame on the same frames; ratio = PyTorch ms / our network ms;
* 1080p input (1920x1080 LR, 7680x4320 output): automatic tiling, peak RSS, s/frame.

Each measurement runs in its own subprocess (``--worker``), one after the other, so that peak
RSS belongs to that run alone and nothing of ours runs concurrently. Weights are random in the
official naming (the official weights cannot be downloaded here); speed does not depend on them.
Frames: ../shared/data (Vid4 calendar LR; cockatoo.mp4 resized for the larger sizes), synthetic
texture when it is absent.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lib.errors import (ArgumentParser, UserError, count_or_zero, positive_int,  # noqa: E402
                        run_cli)
from lib.io.output_paths import check_output_file, write_text_atomically  # noqa: E402

SHARED = os.path.abspath(os.environ.get("TECOGAN_SHARED", os.path.join(ROOT, "..", "shared")))
CALENDAR = os.path.join(SHARED, "data", "Vid4", "LR", "calendar")
SIZES = ("calendar", "540x960")
TORCH_STEPS = {"calendar": 6, "540x960": 2}     # recurrent steps PyTorch times, after one frame
VIDEO = os.path.join(SHARED, "data", "videos", "cockatoo.mp4")


# ------------------------------------------------------------------------------------------------
# helpers shared by the main process and the workers

def set_threads():
    """Same thread counts for TF and PyTorch (TF's defaults: intra = cores)."""
    import tensorflow as tf
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()


def matmul_peak(n=4096, reps=6):
    import tensorflow as tf
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    mm = tf.function(lambda x, y: tf.matmul(x, y))
    mm(a, b).numpy()
    best = min(_timed(lambda: mm(a, b).numpy()) for _ in range(reps))
    return 2.0 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def model_flops(num_resblock, height, width):
    """2 x MACs of the convolutions in the literal recurrent step's graph (FNet + generator)."""
    import tensorflow as tf
    from lib.models.networks import FNet, Generator
    from lib.infer.recurrent import RecurrentUpscaler
    up = RecurrentUpscaler(Generator(num_resblock), FNet(), height, width, tile=-1, fast=False)
    graph = up.next.get_concrete_function().graph
    total = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":
            out = op.outputs[0].shape.as_list()
            kh, kw, cin, cout = op.inputs[1].shape.as_list()
            total += 2 * out[0] * out[1] * out[2] * kh * kw * cin * cout
        elif op.type == "Conv2DBackpropInput":
            n, h, w, _ = op.inputs[2].shape.as_list()           # the transposed conv's input
            kh, kw, cout, cin = op.inputs[1].shape.as_list()
            total += 2 * n * h * w * kh * kw * cin * cout
    del tf
    return total


def save_model(path, num_resblock, seed=7):
    """Random weights in the official naming (output conv scaled down, as the TF1 fixture)."""
    from lib.models.checkpoint import save_official
    from lib.models.networks import FNet, Generator
    generator, fnet = Generator(num_resblock, seed=seed), FNet(seed=seed)
    generator.output_conv.kernel.assign(generator.output_conv.kernel * 0.08)
    fnet.out_conv2.kernel.assign(fnet.out_conv2.kernel * 10.0)
    return save_official({**generator.official_variables(), **fnet.official_variables()}, path)


def make_clip(folder, size, frames):
    """A folder of LR PNG frames of ``size`` (h, w)."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    height, width = size
    if (height, width) == (144, 180) and os.path.isdir(CALENDAR):
        names = sorted(n for n in os.listdir(CALENDAR) if n.endswith(".png"))
        order = names + names[-2:0:-1]                       # ping-pong: no jumps when cycling
        for i in range(frames):
            os.symlink(os.path.join(CALENDAR, order[i % len(order)]),
                       os.path.join(folder, f"{i + 1:04d}.png"))
        return "Vid4 calendar LR" + (" (cycled)" if frames > len(names) else "")
    if os.path.isfile(VIDEO):
        from lib.io.video_io import iter_video_frames
        for i, frame in enumerate(iter_video_frames(VIDEO, strict=False)):
            if i >= frames:
                break
            interp = cv2.INTER_AREA if width <= frame.shape[1] else cv2.INTER_CUBIC
            frame = cv2.resize(frame, (width, height), interpolation=interp)
            cv2.imwrite(os.path.join(folder, f"{i + 1:04d}.png"), frame[:, :, ::-1])
        return f"cockatoo.mp4 resized to {width}x{height}"
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height // 4 + 4, width // 4 + 4, 3), dtype=np.uint8)
    base = cv2.resize(base, ((width // 4 + 4) * 4, (height // 4 + 4) * 4),
                      interpolation=cv2.INTER_CUBIC)
    for i in range(frames):
        cv2.imwrite(os.path.join(folder, f"{i + 1:04d}.png"), base[i:i + height, i:i + width])
    return "synthetic texture"


def run_worker(job, timeout=3600):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(job)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"worker {job['kind']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


# ------------------------------------------------------------------------------------------------
# workers (each in its own process)

def _peak_rss():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_e2e(job):
    from lib.infer.config import InferenceConfig
    from lib.infer.driver import run_inference
    config = InferenceConfig(
        input_dir_LR=job["clip"], input_dir_len=job.get("frames", -1), output_dir=job["out"],
        output_ext="png", checkpoint=job["ckpt"], num_resblock=job["blocks"], overwrite=True,
        video_crf=0, progress=False, tile=job.get("tile", 0),
        precision=job.get("precision", "fp32"), fast_path=job.get("fast", True))
    import contextlib
    import io
    import lib.infer.driver as inference
    done = []                                    # when each step's network call returned
    make_upscaler = inference.make_upscaler

    def timed_upscaler(*args, **kwargs):
        upscaler = make_upscaler(*args, **kwargs)
        for name in ("first_u8", "next_u8"):
            def call(*inputs, fn=getattr(upscaler, name)):
                out = fn(*inputs)
                done.append(time.perf_counter())
                return out
            setattr(upscaler, name, call)
        return upscaler

    inference.make_upscaler = timed_upscaler
    log = io.StringIO()
    peaks = [matmul_peak()]
    start = time.perf_counter()
    with contextlib.redirect_stdout(log):
        result = run_inference(config)
    wall = time.perf_counter() - start
    peaks.append(matmul_peak())
    intervals = np.diff(done[1:])                # step to step, after both graphs are traced
    tiles = [line for line in log.getvalue().splitlines() if line.startswith("generator:")]
    shutil.rmtree(job["out"], ignore_errors=True)
    steps = result["frames"]
    return {"steady_ms": 1e3 * result["steady_seconds"] / max(1, result["steady_frames"]),
            "median_ms": 1e3 * float(np.median(intervals)) if len(intervals) else float("nan"),
            "loop_ms": 1e3 * result["loop_seconds"] / steps, "wall_s": wall, "steps": steps,
            "network_ms": 1e3 * result["seconds"] / steps, "rss": _peak_rss(), "peaks": peaks,
            "tiles": tiles[0][len("generator: "):] if tiles else "untiled"}


def _load(job):
    from lib.models.checkpoint import load_official
    from lib.models.networks import FNet, Generator
    generator, fnet = Generator(job["blocks"]), FNet()
    load_official({**generator.official_variables(), **fnet.official_variables()}, job["ckpt"])
    return generator, fnet


def _frames(job, count):
    from lib.io.frame_io import list_frames, read_image_rgb8
    paths = list_frames(job["clip"])[:count]
    return [read_image_rgb8(p).astype(np.float32)[None] / 255.0 for p in paths]


def _median_ms(fn, reps):
    fn()
    return 1e3 * float(np.median([_timed(fn) for _ in range(reps)]))


def worker_stages(job):
    import cv2
    import tensorflow as tf
    from lib.io.frame_io import list_frames, read_image_rgb8
    from lib.infer.recurrent import RecurrentUpscaler
    from lib.ops.resize import upscale_four
    from lib.infer.tiling import choose_tile
    from lib.ops.warp import dense_image_warp
    generator, fnet = _load(job)
    frames = _frames(job, 2)
    h, w = frames[0].shape[1:3]
    tile = job.get("tile", 0)
    tile = choose_tile(h, w, job["blocks"]) if tile == 0 else max(tile, 0)
    up = RecurrentUpscaler(generator, fnet, h, w, tile=tile, fast=job.get("fast", True))
    prev, cur = tf.constant(frames[0]), tf.constant(frames[1])
    out = up.first(prev)
    reps = job.get("reps", 5)
    flow_fn = tf.function(up.lr_flow)
    warp_fn = tf.function(lambda flow, image: dense_image_warp(image, upscale_four(flow * 4.0)))
    lr_flow = flow_fn(prev, cur)
    warped = warp_fn(lr_flow, out)
    gen_fn = tf.function(up.generate)
    u8 = tf.cast(tf.clip_by_value(out * 255.0, 0.0, 255.0), tf.uint8).numpy()[0]
    paths = list_frames(job["clip"])
    tmp = tempfile.mkdtemp(prefix="bench_write_")
    result = {
        "read": _median_ms(lambda: [read_image_rgb8(p) for p in paths[:reps]], 3) / reps,
        "fnet": _median_ms(lambda: flow_fn(prev, cur).numpy(), reps),
        "warp": _median_ms(lambda: warp_fn(lr_flow, out).numpy(), reps),
        "generator": _median_ms(lambda: gen_fn(cur, warped).numpy(), reps),
        "write": _median_ms(lambda: cv2.imwrite(os.path.join(tmp, "x.png"), u8[:, :, ::-1]), reps),
        "step": _median_ms(lambda: up.next(prev, cur, out).numpy(), reps),
    }
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def worker_torch(job):
    import tensorflow as tf
    import torch
    import torch_tecogan as tt
    from lib.infer.recurrent import RecurrentUpscaler
    threads = set_threads()
    torch.set_num_threads(threads)
    generator, fnet = _load(job)
    steps = job.get("steps", 6)
    frames = _frames(job, steps + 1)
    h, w = frames[0].shape[1:3]
    results = {"threads": threads, "torch": torch.__version__}
    up = RecurrentUpscaler(generator, fnet, h, w, tile=-1)
    ref = up.next(frames[0], frames[1], up.first(frames[0])).numpy() if job.get("check") else None
    for layout in job.get("layouts", ["channels_last"]):
        channels_last = layout == "channels_last"
        step = tt.from_tf(generator, fnet, legacy_resize=True)
        if channels_last:
            step = step.to(memory_format=torch.channels_last)
        lrs = [tt.to_torch(f, channels_last) for f in frames]
        with torch.inference_mode():
            prev_out = tt.to_torch(up.first(frames[0]).numpy(), channels_last)
            if ref is not None:
                first = step(lrs[0], lrs[1], prev_out)
                results["max_abs_diff_vs_tf"] = float(
                    np.abs(first.permute(0, 2, 3, 1).numpy() - ref).max())
            out = step(lrs[0], lrs[1], prev_out)               # warm-up (allocator, kernels)
            times = []
            for i in range(1, steps + 1):
                start = time.perf_counter()
                out = step(lrs[i - 1], lrs[i], out)
                times.append(time.perf_counter() - start)
        results[f"{layout}_ms"] = 1e3 * float(np.median(times))
        del step, lrs, out, prev_out
    del tf
    results["rss"] = _peak_rss()
    return results


def worker_precision(job):
    """fp32 against reduced precision on a real clip: speed, and how far the saved frames move.

    PSNR-Y uses the original metric's conventions (crop_8x8, Y of BT.601); against the Vid4 GT
    when it is there. With random weights the PSNR against GT is meaningless in itself, but the
    fp32-vs-bf16 PSNR bounds how much any metric of the saved frames can move.
    """
    import tensorflow as tf
    from lib.infer.recurrent import RecurrentUpscaler, warmup_order
    from metrics.image_metrics import crop_8x8, psnr_y
    generator, fnet = _load(job)
    frames = _frames(job, job.get("frames", 12))
    h, w = frames[0].shape[1:3]
    gt_dir = os.path.join(SHARED, "data", "Vid4", "GT", "calendar")
    gts = None
    if (h, w) == (144, 180) and os.path.isdir(gt_dir):
        from lib.io.frame_io import list_frames, read_image_rgb8
        gts = [read_image_rgb8(p) for p in list_frames(gt_dir)[:len(frames)]]
    saved, result = {}, {}
    for precision in job.get("precisions", ["fp32", "bf16"]):
        up = RecurrentUpscaler(generator, fnet, h, w, tile=-1, precision=precision)
        prev = out = None
        outs, times = [], []
        for step, (frame, warm) in enumerate(warmup_order(frames)):
            cur = tf.constant(frame)
            start = time.perf_counter()
            out, u8 = up.first_u8(cur) if step == 0 else up.next_u8(prev, cur, out)
            u8 = u8.numpy()[0]
            times.append(time.perf_counter() - start)
            prev = cur
            if not warm:
                outs.append(u8)
        saved[precision] = outs
        result[f"{precision}_ms"] = 1e3 * float(np.median(times[1:]))
        if gts is not None:
            result[f"{precision}_psnr_y_vs_gt"] = float(np.mean(
                [psnr_y(crop_8x8(g)[0], crop_8x8(o)[0]) for g, o in zip(gts, outs)]))
    for precision in saved:
        if precision != "fp32":
            pairs = list(zip(saved["fp32"], saved[precision]))
            result[f"{precision}_psnr_y_vs_fp32"] = float(np.mean(
                [psnr_y(crop_8x8(a)[0], crop_8x8(b)[0]) for a, b in pairs]))
            result[f"{precision}_max_level_diff"] = int(max(
                np.abs(a.astype(int) - b).max() for a, b in pairs))
    result["frames"] = len(frames)
    return result


def worker_fps(job):
    """Network steps per second at the paper's speed size (LR 134x320), per precision (GPU)."""
    import tensorflow as tf
    from lib.infer.recurrent import RecurrentUpscaler
    generator, fnet = _load(job)
    rng = np.random.default_rng(0)
    frames = [tf.constant(rng.random((1, 134, 320, 3), np.float32)) for _ in range(2)]
    result = {}
    for precision in job["precisions"]:
        up = RecurrentUpscaler(generator, fnet, 134, 320, tile=-1, precision=precision)
        out = up.first(frames[0])
        for _ in range(3):
            out = up.next(frames[0], frames[1], out)
        out.numpy()
        steps = job.get("steps", 50)
        start = time.perf_counter()
        for i in range(steps):
            out, u8 = up.next_u8(frames[i % 2], frames[(i + 1) % 2], out)
            u8.numpy()
        result[f"{precision}_fps"] = steps / (time.perf_counter() - start)
    return result


def worker_tf1(job):
    """The original's execution model: a compat.v1 graph with the literal ops, placeholders and
    state variables, two session calls per frame (``before_ops``, then ``outputs``), as main.py.

    The original code itself is not part of this repository; this is its graph structure with our
    literal layers (the same ops, verified against the TF1 fixture). Network time only, as the
    original's "total time".
    """
    import tensorflow as tf
    from lib.models.networks import FNet, Generator
    from lib.infer.recurrent import RecurrentUpscaler
    frames = _frames(job, job.get("frames", 14))
    h, w = frames[0].shape[1:3]
    graph = tf.Graph()
    with graph.as_default():
        generator, fnet = Generator(job["blocks"]), FNet()
        up = RecurrentUpscaler(generator, fnet, h, w, tile=-1, fast=False)
        inputs = tf.compat.v1.placeholder(tf.float32, [1, h, w, 3])
        pre_inputs = tf.Variable(tf.zeros([1, h, w, 3]))
        pre_gen = tf.Variable(tf.zeros([1, 4 * h, 4 * w, 3]))
        pre_warp = tf.Variable(tf.zeros([1, 4 * h, 4 * w, 3]))
        gen_output = up.generate(inputs, pre_warp)
        with tf.control_dependencies([pre_inputs.assign(inputs)]):
            outputs = pre_gen.assign(gen_output)
        before_ops = pre_warp.assign(up.warp_previous(pre_inputs, inputs, pre_gen))
        init = tf.compat.v1.global_variables_initializer()
        saver = tf.compat.v1.train.Saver({**generator.official_variables(),
                                          **fnet.official_variables()})
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(init)
            saver.restore(session, job["ckpt"])          # by name, as the original restored
            times = []
            for i, frame in enumerate(frames):
                start = time.perf_counter()
                if i:
                    session.run(before_ops, {inputs: frame})
                out = session.run(outputs, {inputs: frame})
                times.append(time.perf_counter() - start)
    return {"session_ms": 1e3 * float(np.median(times[2:])), "peaks": [matmul_peak(reps=4)],
            "max_output": float(np.abs(out).max())}


WORKERS = {"e2e": worker_e2e, "tf1": worker_tf1, "stages": worker_stages, "torch": worker_torch,
           "precision": worker_precision, "fps": worker_fps}


# ------------------------------------------------------------------------------------------------
# the report

def gib(n):
    return f"{n / 2 ** 30:.2f} GiB"


def parse_blocks(text):
    """--blocks '16,10' -> [16, 10]; UserError for anything but residual-block counts >= 1."""
    try:
        return [positive_int(b.strip()) for b in text.split(",")]
    except argparse.ArgumentTypeError as err:
        raise UserError(f"--blocks takes comma-separated residual-block counts (e.g. 16,10), "
                        f"not {text!r}: {err}") from None


def parse_sizes(args):
    """The --sizes that will run; UserError for an unknown name or when none would run."""
    wanted = [n.strip() for n in args.sizes.split(",")]
    unknown = [n for n in wanted if n not in SIZES]
    if unknown:
        raise UserError(f"--sizes: unknown {', '.join(map(repr, unknown))}; choose from "
                        f"{', '.join(SIZES)} (comma-separated)")
    if "calendar" not in wanted and not args.large_frames:
        raise UserError("nothing to measure: --sizes 540x960 runs only with --large-frames >= 1 "
                        "(--quick sets it to 0)")
    return wanted


def min_frames(label, torch):
    """Frames a clip of ``label`` needs: the PyTorch run times TORCH_STEPS after the first frame;
    the calendar's TF1-style run leaves out its first 2 (tracing) steps."""
    least = 3 if label == "calendar" else 1
    return max(least, TORCH_STEPS[label] + 1) if torch else least


def check_clip_lengths(args, wanted):
    for label, flag, frames in (("calendar", "--frames", args.frames),
                                ("540x960", "--large-frames", args.large_frames)):
        need = min_frames(label, not args.no_torch)
        if label in wanted and frames and frames < need:
            why = " with the PyTorch comparison (--no-torch: fewer)" if not args.no_torch else ""
            raise UserError(f"{flag} {frames}: the {label} clip needs at least {need} frames{why}")


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="calendar only (16 and 10 blocks), "
                        "no 400-frame, 540x960 or 1080p runs")
    parser.add_argument("--blocks", default="16,10")
    parser.add_argument("--sizes", default="calendar,540x960", help="which of calendar, 540x960")
    parser.add_argument("--frames", type=positive_int, default=40, help="calendar clip length")
    parser.add_argument("--long-frames", type=count_or_zero, default=400,
                        help="long clip (0: skip)")
    parser.add_argument("--large-frames", type=count_or_zero, default=3,
                        help="540x960 clip (0: skip)")
    parser.add_argument("--huge-frames", type=count_or_zero, default=2, help="1080p clip (0: skip)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-precision", action="store_true", help="skip the fp32/bf16 run")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        print("RESULT " + json.dumps(WORKERS[job["kind"]](job)), flush=True)
        return
    if args.quick:
        args.long_frames = args.large_frames = args.huge_frames = 0
    # checked before the minutes of measurement, not when the value is first used
    blocks = parse_blocks(args.blocks)
    wanted = parse_sizes(args)
    check_clip_lengths(args, wanted)
    if args.json is not None:
        check_output_file(args.json, "--json", overwrite=args.overwrite)

    import tensorflow as tf
    threads = set_threads()
    tmp = tempfile.mkdtemp(prefix="bench_inference_")
    report = {"machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "threads": threads,
                          "tf": tf.__version__, "python": platform.python_version(),
                          "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}}
    try:
        print(f"machine: {report['machine']}", flush=True)
        peaks = [matmul_peak()]
        print(f"fp32 matmul peak (4096^3, best of 6): {peaks[0]:.1f} GFLOP/s", flush=True)
        ckpts = {b: save_model(os.path.join(tmp, f"model{b}", "m"), b) for b in blocks}
        sizes = [("calendar", (144, 180), args.frames)] if "calendar" in wanted else []
        if args.large_frames and "540x960" in wanted:
            sizes.append(("540x960", (540, 960), args.large_frames))
        rows = []
        for label, (h, w), frames in sizes:
            clip = os.path.join(tmp, f"clip_{label}")
            source = make_clip(clip, (h, w), frames)
            for b in blocks if label == "calendar" else blocks[:1]:
                flops = model_flops(b, h, w)
                row = {"size": label, "lr": f"{h}x{w}", "blocks": b, "frames": frames,
                       "source": source, "gflop": flops / 1e9}
                job = {"clip": clip, "ckpt": ckpts[b], "blocks": b,
                       "out": os.path.join(tmp, "out")}
                row["e2e"] = run_worker({**job, "kind": "e2e"})
                print(f"  {label} {b} blocks e2e: {row['e2e']}", flush=True)
                if label == "calendar":
                    row["stages"] = run_worker({**job, "kind": "stages"})
                    print(f"  stages: {row['stages']}", flush=True)
                    row["literal"] = run_worker({**job, "kind": "e2e", "fast": False})
                    print(f"  literal graph e2e: {row['literal']}", flush=True)
                    row["tf1"] = run_worker({**job, "kind": "tf1"})
                    print(f"  TF1-style session: {row['tf1']}", flush=True)
                if label == "calendar" and b == blocks[0] and not args.no_precision:
                    gpu = bool(report["machine"]["gpus"])
                    row["precision"] = run_worker({**job, "kind": "precision", "frames": 12,
                                                   "precisions": ["fp32", "bf16"] +
                                                   (["fp16"] if gpu else [])})
                    print(f"  precision: {row['precision']}", flush=True)
                if not args.no_torch and (label == "calendar" or b == blocks[0]):
                    row["torch"] = run_worker({**job, "kind": "torch", "check": True,
                                               "steps": TORCH_STEPS[label],
                                               "layouts": ["channels_last", "contiguous"]
                                               if label == "calendar" else ["channels_last"]})
                    print(f"  torch: {row['torch']}", flush=True)
                rows.append(row)
        report["rows"] = rows
        if report["machine"]["gpus"]:
            report["fps"] = run_worker({"kind": "fps", "ckpt": ckpts[blocks[0]],
                                        "blocks": blocks[0],
                                        "precisions": ["fp32", "bf16", "fp16"]})
            print(f"  GPU FPS at 134x320: {report['fps']}", flush=True)
        if args.long_frames:
            clip = os.path.join(tmp, "clip_long")
            make_clip(clip, (144, 180), args.long_frames)
            report["long"] = run_worker({"kind": "e2e", "clip": clip, "ckpt": ckpts[blocks[0]],
                                         "blocks": blocks[0], "out": os.path.join(tmp, "out")})
            report["long"]["frames"] = args.long_frames
            print(f"  calendar {args.long_frames} frames: {report['long']}", flush=True)
        if args.huge_frames:
            clip = os.path.join(tmp, "clip_1080p")
            source = make_clip(clip, (1080, 1920), args.huge_frames)
            report["huge"] = run_worker({"kind": "e2e", "clip": clip, "ckpt": ckpts[blocks[0]],
                                         "blocks": blocks[0], "out": os.path.join(tmp, "out")})
            report["huge"].update(frames=args.huge_frames, source=source,
                                  gflop=model_flops(blocks[0], 1080, 1920) / 1e9)
            print(f"  1080p: {report['huge']}", flush=True)
        peaks.append(matmul_peak())
        report["peak_gflops"] = max(peaks)
        report["peaks"] = peaks
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(report)
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(report, indent=1), "--json")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_report(report):
    peak = report["peak_gflops"]
    m = report["machine"]
    print()
    print(f"== {m['cpu']}, {m['cores']} cores, {m['threads']} threads (TF and PyTorch), "
          f"TF {m['tf']}{', GPUs ' + str(m['gpus']) if m['gpus'] else ', no GPU'}")
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s (start {report['peaks'][0]:.1f}, end "
          f"{report['peaks'][1]:.1f}); each end-to-end run is compared with the best of two "
          "peak measurements made in its own process just before and after it")
    print()
    print("| LR size | blocks | frames | GFLOP/frame | ms/frame end to end, mean (median) "
          "| GFLOP/s | of peak, mean (median) | peak around the run, GFLOP/s "
          "| mode's own 'total time' / frames, ms | peak RSS "
          "| PyTorch ms/frame (channels-last) | PyTorch / ours |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in report["rows"]:
        e2e = row["e2e"]
        gflops = row["gflop"] / (e2e["steady_ms"] / 1e3)
        torch_ms = row.get("torch", {}).get("channels_last_ms")
        ratio = f"{torch_ms / e2e['steady_ms']:.2f}x" if torch_ms else "-"
        local = max(e2e["peaks"])
        median = row["gflop"] / (e2e["median_ms"] / 1e3) / local
        print(f"| {row['lr']} | {row['blocks']} | {row['frames']} (+{e2e['steps'] - row['frames']}"
              f" warm-up) | {row['gflop']:.1f} | {e2e['steady_ms']:.0f} ({e2e['median_ms']:.0f}) "
              f"| {gflops:.0f} | {gflops / local:.2f} ({median:.2f}) | {local:.0f} | "
              f"{e2e['network_ms']:.0f} | {gib(e2e['rss'])} | "
              f"{f'{torch_ms:.0f}' if torch_ms else '-'} | {ratio} |")
    print()
    for row in report["rows"]:
        if "stages" in row:
            s = row["stages"]
            print(f"stages, {row['lr']} {row['blocks']} blocks (ms, each alone): "
                  f"read {s['read']:.1f}, FNet {s['fnet']:.1f}, warp {s['warp']:.1f}, "
                  f"generator {s['generator']:.1f}"
                  f", write {s['write']:.1f}; network step {s['step']:.1f}")
            literal, fast = row["literal"]["steady_ms"], row["e2e"]["steady_ms"]
            print(f"  end to end with --nofast_path (the literal graph): {literal:.0f} ms/frame, "
                  f"{literal / fast:.2f}x the fast path's {fast:.0f}")
            tf1 = row["tf1"]["session_ms"]
            print(f"  the original's execution model (compat.v1 session, literal graph, 2 session "
                  f"calls per frame, network only): {tf1:.0f} ms/frame = "
                  f"{row['gflop'] / tf1 * 1e3 / max(row['tf1']['peaks']):.2f} of the peak; our "
                  f"mode end to end is {tf1 / fast:.2f}x as fast")
    for row in report["rows"]:
        if "torch" in row:
            t = row["torch"]
            extra = f", contiguous (NCHW) {t['contiguous_ms']:.0f} ms" if "contiguous_ms" in t \
                else ""
            print(f"PyTorch {t['torch']}, {row['lr']} {row['blocks']} blocks: channels-last "
                  f"{t['channels_last_ms']:.0f} ms{extra}; max |PyTorch - TF| on one step "
                  f"{t.get('max_abs_diff_vs_tf', float('nan')):.1e}; its peak RSS "
                  f"{gib(t['rss'])}")
    for row in report["rows"]:
        if "precision" in row:
            p = row["precision"]
            for prec in ("bf16", "fp16"):
                if f"{prec}_ms" not in p:
                    continue
                gt = ""
                if "fp32_psnr_y_vs_gt" in p:
                    gt = (f"; PSNR-Y vs Vid4 GT (random weights) fp32 {p['fp32_psnr_y_vs_gt']:.3f}"
                          f" dB, {prec} {p[f'{prec}_psnr_y_vs_gt']:.3f} dB")
                print(f"{prec} generator, {row['lr']} {row['blocks']} blocks, {p['frames']} "
                      f"frames: network {p[f'{prec}_ms']:.0f} ms/frame vs fp32 {p['fp32_ms']:.0f}"
                      f" ({p['fp32_ms'] / p[f'{prec}_ms']:.2f}x); saved frames vs fp32: PSNR-Y "
                      f"{p[f'{prec}_psnr_y_vs_fp32']:.1f} dB, max {p[f'{prec}_max_level_diff']} "
                      f"levels{gt}")
    if "fps" in report:
        print("GPU, LR 134x320 (the paper's speed size; official model: 24 FPS on a GTX 1080Ti): "
              + ", ".join(f"{k[:-4]} {v:.1f} FPS" for k, v in report["fps"].items()))
    cal = [r for r in report["rows"] if r["size"] == "calendar"]
    if "long" in report and cal:
        short, long = cal[0]["e2e"], report["long"]
        print(f"peak RSS, calendar {cal[0]['blocks']} blocks: {cal[0]['frames']} frames "
              f"{gib(short['rss'])}, {long['frames']} frames {gib(long['rss'])} "
              f"({100 * (long['rss'] / short['rss'] - 1):+.1f} %); {long['frames']} frames at "
              f"{long['steady_ms']:.0f} ms/frame (median {long['median_ms']:.0f}), "
              f"{cal[0]['gflop'] * 1e3 / long['steady_ms'] / max(long['peaks']):.2f} of the "
              f"peak around it ({max(long['peaks']):.0f} GFLOP/s)")
    if "huge" in report:
        h = report["huge"]
        print(f"1080p input (1920x1080 -> 7680x4320, {h['source']}): {h['tiles']}; "
              f"{h['steady_ms'] / 1e3:.1f} s/frame ({h['gflop']:.0f} GFLOP/frame untiled), "
              f"peak RSS {gib(h['rss'])}")


if __name__ == "__main__":
    run_cli(main)
