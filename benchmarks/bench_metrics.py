"""Seconds per frame of each metric at Vid4 calendar size (720x576, crop 704x544).

    python3 benchmarks/bench_metrics.py [--frames 6] [--lpips tf|torch] [--device cpu|cuda]

Uses calendar GT frames from ../shared/data/Vid4 and their bicubic x4 as the "output" (synthetic
720x576 frames when the shared data is absent). LPIPS is the metric's own (TensorFlow by default,
``--lpips torch`` for the lpips package; both on the shipped AlexNet weights). Numbers are medians over the frames; tLP100 is the extra cost on top of LPIPS (two
distances on cached features; the original recomputed four AlexNet passes for it, shown too).
"""
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lib.errors import ArgumentParser, UserError, positive_int, run_cli  # noqa: E402
from metrics import inputs  # noqa: E402
from metrics.image_metrics import crop_8x8, psnr_y, ssim_y  # noqa: E402
from metrics.temporal import farneback, grey, tof_from_flows  # noqa: E402


def load_frames(n):
    gt_dir = os.path.join(ROOT, "..", "shared", "data", "Vid4", "GT", "calendar")
    lr_dir = os.path.join(ROOT, "..", "shared", "data", "Vid4", "LR", "calendar")
    if os.path.isdir(gt_dir) and os.path.isdir(lr_dir):
        from lib.infer.bicubic import bicubic_frame
        from lib.io.frame_io import read_image_rgb8

        gts = inputs.list_pngs(gt_dir, "target")[2:2 + n]
        lrs = inputs.list_pngs(lr_dir, "LR")[2:2 + n]
        return ([inputs.read_frame(p) for p in gts],
                [bicubic_frame(read_image_rgb8(p)) for p in lrs], "Vid4 calendar GT vs bicubic")
    gts, outs = synthetic_frames(n)
    return gts, outs, "synthetic 720x576 (../shared/data/Vid4 not found)"


def synthetic_frames(n):
    """``n`` 720x576 frames of noise moving one pixel per frame, and noisier "outputs"."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (576 + n, 720 + n, 3), dtype=np.uint8)   # room for n shifts
    gts = [base[t:t + 576, t:t + 720] for t in range(n)]
    outs = [np.clip(g.astype(int) + rng.integers(-9, 10, g.shape), 0, 255).astype(np.uint8)
            for g in gts]
    return gts, outs


def lpips_model(mode, device):
    from LPIPSmodels import load_lpips
    model, message = load_lpips(mode, device=device)
    if model is None:
        raise UserError(message)
    return model, message


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main(argv=None):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=positive_int, default=6)
    parser.add_argument("--lpips", choices=("tf", "torch"), default="tf")
    parser.add_argument("--device", default=None, help="torch device for --lpips torch")
    parser.add_argument("--no_lpips", action="store_true")
    args = parser.parse_args(argv)

    gts, outs, source = load_frames(args.frames)
    times = {k: [] for k in ("read 2 PNGs", "PSNR-Y", "SSIM-Y", "tOF", "LPIPS", "tLP100",
                             "tLP100 (original: 4 extra passes)")}
    model, backbone = (None, "off") if args.no_lpips else lpips_model(args.lpips, args.device)
    gt_dir = os.path.join(ROOT, "..", "shared", "data", "Vid4", "GT", "calendar")
    pngs = inputs.list_pngs(gt_dir, "target")[2:2 + args.frames] if os.path.isdir(gt_dir) else []
    prev = None
    for j, (gt, out) in enumerate(zip(gts, outs)):
        if pngs:
            times["read 2 PNGs"].append(2 * timed(inputs.read_frame, pngs[j])[0])
        gt_c, out_c = crop_8x8(gt)[0], crop_8x8(out)[0]
        times["PSNR-Y"].append(timed(psnr_y, gt_c, out_c)[0])
        times["SSIM-Y"].append(timed(ssim_y, gt_c, out_c)[0])
        cur = {"g": gt, "o": out}
        if model is not None:
            t, (fg, fo) = timed(lambda: (model.features(gt_c), model.features(out_c)))
            t2, _ = timed(model.distance_features, fg, fo)
            times["LPIPS"].append(t + t2)
            cur.update(fg=fg, fo=fo, gc=gt_c, oc=out_c)
        if prev is not None:
            t, _ = timed(lambda: tof_from_flows(farneback(grey(prev["g"]), grey(gt)),
                                                farneback(grey(prev["o"]), grey(out))))
            times["tOF"].append(t)
            if model is not None:
                t, _ = timed(lambda: (model.distance_features(prev["fg"], fg),
                                      model.distance_features(prev["fo"], fo)))
                times["tLP100"].append(t)
                t, _ = timed(lambda: (model.distance(prev["gc"], gt_c),
                                      model.distance(prev["oc"], out_c)))
                times["tLP100 (original: 4 extra passes)"].append(t)
        prev = cur

    import cv2
    print(f"frames: {source}, {len(gts)} frames, {gts[0].shape[1]}x{gts[0].shape[0]} "
          f"(crop {gt_c.shape[1]}x{gt_c.shape[0]})")
    threads = ""
    if model is not None:
        if args.lpips == "torch":
            import torch
            threads = f", torch threads {torch.get_num_threads()}"
        print(f"LPIPS: {backbone}")
    print(f"CPU cores visible: {os.cpu_count()}, OpenCV threads {cv2.getNumThreads()}{threads}")
    print(f"{'metric':36s} {'s/frame (median)':>17s}")
    total = 0.0
    for name, values in times.items():
        if values:
            med = float(np.median(values))
            if not name.startswith("tLP100 (original"):
                total += med
            print(f"{name:36s} {med:17.4f}")
    print(f"{'total per frame (ours)':36s} {total:17.4f}")


if __name__ == "__main__":
    run_cli(main)
