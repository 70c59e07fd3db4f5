"""Run by test_train_distribute.py in a fresh process: two logical CPU devices must be configured
before TensorFlow initialises. Prints one JSON line comparing MirroredStrategy with one device:
the step itself (no argument) or the whole training loop (argument ``loop``)."""
import json
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

from lib.train.config import TrainConfig  # noqa: E402
from lib.train.teco_step import build  # noqa: E402

# VGG is off: it is a plain per-frame mean like the other terms, and the slowest to trace here
CONFIG = TrainConfig(batch_size=2, RNN_N=4, crop_size=8, num_resblock=1, pingpang=True,
                     pp_scaling=0.5, ratio=0.01, learning_rate=5e-5, decay_rate=1.0, stair=True)
STEPS = 3


def weight_difference(a, b, atol=1e-6):
    """Largest difference, and the fraction of all weights that differ by more than ``atol``."""
    diffs = [np.abs(a[k] - b[k]) for k in a]
    total = sum(d.size for d in diffs)
    return (max(float(d.max()) for d in diffs),
            float(sum(int((d > atol).sum()) for d in diffs)) / total)


def batch():
    rng = np.random.default_rng(0)
    lr = rng.uniform(0, 1, (2, 4, 8, 8, 3)).astype(np.float32)
    hr = rng.uniform(-1, 1, (2, 4, 32, 32, 3)).astype(np.float32)
    return lr, hr


def run(strategy):
    model, state, step = build(CONFIG, strategy)
    lr, hr = batch()
    if strategy is not None:
        def part(x):
            return strategy.experimental_distribute_values_from_function(
                lambda ctx: x[ctx.replica_id_in_sync_group:ctx.replica_id_in_sync_group + 1])
        lr, hr = part(lr), part(hr)
    results = []
    for i in range(STEPS):
        if i == STEPS - 1:
            state.t_balance_ema.assign(1.0)        # above Dbalance: the step without D
        out = step.train(lr, hr)
        results.append({k: float(v.numpy()) for k, v in out.items()})
        if i == 0:
            # after one step the Adam slots are functions of the first gradients only
            slots = {f"{opt}/{j}/{kind}": getattr(getattr(state, opt), kind)[j].numpy()
                     for opt in ("opt_generator", "opt_fnet", "opt_discriminator")
                     for kind in ("m", "v") for j in range(len(getattr(state, opt).m))}
    weights = {k: v.numpy() for k, v in model.official_variables().items()}
    copies_equal = True
    if strategy is not None:
        for var in model.official_variables().values():
            parts = [p.numpy() for p in strategy.experimental_local_results(var)]
            copies_equal &= all(np.array_equal(parts[0], p) for p in parts[1:])
    counters = [int(state.with_d_counter.numpy()), int(state.without_d_counter.numpy()),
                int(state.global_step.numpy())]
    return results, weights, slots, counters, copies_equal


def trainer_runs(tmp):
    """The whole loop (dataset split, steps, checkpoints) with --distribute none and mirrored."""
    import cv2
    from types import SimpleNamespace

    from absl import flags
    import lib.flags as flag_module
    from lib.flags import config_from_flags
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    from lib.train.trainer import train
    rng = np.random.default_rng(1)
    for scene in (2000, 2001):
        folder = os.path.join(tmp, f"scene_{scene:04d}")
        os.makedirs(folder)
        base = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
        for f in range(6):
            cv2.imwrite(os.path.join(folder, f"col_high_{f:04d}.png"),
                        np.roll(base, (f, 2 * f), axis=(0, 1)))
    defaults = {f.name: f.default for f in flags.FLAGS.get_flags_for_module(flag_module)}
    finals = []
    for mode in ("none", "mirrored"):
        values = dict(defaults, mode="train", output_dir=os.path.join(tmp, mode), summary_dir=None,
                      input_video_dir=tmp, str_dir=2000, end_dir=2001, end_dir_val=1999,
                      max_frm=5, RNN_N=3, crop_size=8, batch_size=2, num_resblock=1, ratio=0.01,
                      pingpang=True, pp_scaling=0.5, learning_rate=5e-5, decay_rate=1.0,
                      max_iter=3, display_freq=1000, summary_freq=2, save_freq=1000,
                      test_inference=False, gif_summaries=False, distribute=mode)
        configs = [config_from_flags(c, SimpleNamespace(**values))
                   for c in (TrainConfig, DataConfig, RunConfig)]
        trainer = train(*configs, log=lambda *a: None)
        finals.append((trainer.strategy.num_replicas_in_sync,
                       {k: v.numpy() for k, v in trainer.model.official_variables().items()},
                       [h["All_loss_Gen"] for h in trainer.history]))
    (r1, w1, h1), (r2, w2, h2) = finals
    weight_abs, weight_off = weight_difference(w1, w2)
    return {"trainer_replicas": [r1, r2], "trainer_weight_abs": weight_abs,
            "trainer_weight_off": weight_off,
            "trainer_loss_rel": max(abs(a - b) / abs(a) for a, b in zip(h1, h2)),
            "trainer_steps": [len(h1), len(h2)]}


def main():
    if sys.argv[1:] == ["loop"]:
        # a separate process: two MirroredStrategy objects in one process reuse collective keys
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(trainer_runs(tmp)))
        return
    single = run(None)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored = run(strategy)
    loss_rel = max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-12)
                   for a, b in zip(single[0], mirrored[0]) for k in a
                   if k not in ("finite", "with_d", "flows_finite", "t_balance_raw"))
    # t_balance_raw is a difference of two similar numbers: compared absolutely
    balance_abs = max(abs(a["t_balance_raw"] - b["t_balance_raw"])
                      for a, b in zip(single[0], mirrored[0]))
    weight_abs, weight_off = weight_difference(single[1], mirrored[1])
    slot_rel = max(float(np.abs(single[2][k] - mirrored[2][k]).max()
                         / max(np.abs(single[2][k]).max(), 1e-30)) for k in single[2])
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync, "loss_rel": loss_rel,
        "balance_abs": balance_abs, "weight_abs": weight_abs, "weight_off": weight_off,
        "slot_rel": slot_rel, "counters_single": single[3], "counters_mirrored": mirrored[3],
        "with_d": [[r["with_d"] for r in single[0]], [r["with_d"] for r in mirrored[0]]],
        "copies_equal": bool(mirrored[4]),
        "moved": max(float(np.abs(v).max()) for v in single[2].values())}))


if __name__ == "__main__":
    main()
