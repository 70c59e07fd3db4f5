r"""Which TecoGAN loss term asks the generator for a 4-pixel grid?

The grid of a super-resolved frame is the mean high-pass per pixel phase (``metrics.grid_phase``).
A loss term pushes the generator towards a grid when its gradient with respect to the generated
frames has such a phase pattern itself: gradient descent moves the frames along ``-gradient``,
and the two stride-2 transposed convolutions can produce a phase pattern at no cost elsewhere.
Ground truth has none, so the content loss's gradient has none while the output has none; a
network with strides (the perceptual network's max-pools, the discriminator's stride-2
convolutions) may have one whatever the frames.

This takes training batches, starts a TecoGAN model from a generator/FNet checkpoint (the D as
training would start it: from the checkpoint if it holds one, else freshly initialised with
``--seed``), and for every term of the generator loss, as weighted in the loss, prints

* the column and row phase means of ``-gradient``'s high-pass (the direction descent moves
  each phase; the 9x9 box blur and the BT.601 grey of ``metrics.grid_phase``), and
* ``grid share``: the largest phase mean over the mean absolute gradient (0 = no preference).

    python3 benchmarks/grid_gradients.py --checkpoint model/shipped/FRVSR_ours --num_resblock 10 \
        --train_data /work/data/scenes_v2 --str_dir 2000 --end_dir 2030 --batches 4
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.errors import UserError  # noqa: E402

PERIOD = 4
BLUR = 9
GREY = (0.299, 0.587, 0.114)


def phase_pattern(field, period=PERIOD):
    """(column means, row means, mean |field|) of the high-pass of grey(field).

    ``field``: [N, H, W, 3] float (a gradient with respect to frames in [-1, 1]).
    """
    import cv2
    grey = np.tensordot(np.asarray(field, np.float64), np.asarray(GREY), axes=([-1], [0]))
    cols, rows = np.zeros(period), np.zeros(period)
    for image in grey:
        hp = image - cv2.blur(image, (BLUR, BLUR), borderType=cv2.BORDER_REFLECT_101)
        cols += [hp[:, p::period].mean() for p in range(period)]
        rows += [hp[p::period, :].mean() for p in range(period)]
    return cols / len(grey), rows / len(grey), float(np.abs(grey).mean())


def term_gradients(model, lr, targets, config, vgg_offset=None):
    """{term: d(weighted term)/d(generated frames)} for one batch, float64 arrays."""
    import tensorflow as tf
    with tf.GradientTape(persistent=True) as tape:
        values, totals, extras = model.forward(lr, targets, 1.0, keep_tensors=True,
                                               vgg_offset=vgg_offset)
        frames = extras["gen_outputs"]
        # the weighting inside the tape: an op outside it has no gradient
        terms = {"content (L2)": values["l2_content_loss"]}
        if config.use_vgg:
            terms[f"perceptual x{config.vgg_scaling:g}"] = values["vgg_all"] * config.vgg_scaling
        if config.pingpang:
            terms[f"ping-pong x{config.pp_scaling:g}"] = values["PingPang"] * config.pp_scaling
        if config.phase_loss > 0:
            terms[f"phase loss x{config.phase_loss:g}"] = values["phase_loss"] * config.phase_loss
        if config.gan:
            terms[f"adversarial x{config.ratio:g}"] = values["t_adversarial_loss"] * config.ratio
            if config.D_LAYERLOSS:
                terms["D feature matching"] = values["D_layer_loss_sum"]
        terms["all (generator loss)"] = totals["gen_loss"]
    out = {}
    for name, value in terms.items():
        grad = tape.gradient(value, frames)
        shape = grad.shape
        out[name] = np.asarray(grad, np.float64).reshape([-1, shape[-3], shape[-2], shape[-1]])
    del tape
    # not a gradient: the generated frames' own grid against the targets' (grey levels)
    residual = (np.asarray(frames, np.float64) - np.asarray(extras["r_targets"], np.float64))
    out["frames - targets (levels)"] = -residual.reshape(out["content (L2)"].shape) * 127.5
    return out


def main(argv=None):
    from lib.errors import ArgumentParser
    parser = ArgumentParser(prog="python3 benchmarks/grid_gradients.py",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="generator/FNet weights to start from")
    parser.add_argument("--num_resblock", type=int, default=10)
    parser.add_argument("--train_data", required=True)
    parser.add_argument("--str_dir", type=int, default=2000)
    parser.add_argument("--end_dir", type=int, default=2030)
    parser.add_argument("--max_frm", type=int, default=59)
    parser.add_argument("--vgg_ckpt", default="model/vgg16_lpips.npz")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--RNN_N", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="D initialisation and data order")
    parser.add_argument("--phase_loss", type=float, default=0.0,
                        help="also the --phase_loss term with this weight")
    parser.add_argument("--vgg_shift", action="store_true",
                        help="also the perceptual term with its crop shifted by (k, k), k = 0..3, "
                             "and averaged over the 16 phases --vgg_shift cycles through")
    args = parser.parse_args(argv)
    from lib.infer.prepare import check_checkpoint_present
    check_checkpoint_present(args.checkpoint)       # before TensorFlow loads: one error line
    if args.batches < 1 or args.batch_size < 1:
        raise UserError("--batches and --batch_size must be at least 1")

    from lib.models.vgg16 import load_vgg16
    from lib.train.config import DataConfig, TrainConfig
    from lib.train.dataloader import load_scenes, make_dataset
    from lib.train.start_weights import load_pretrained
    import tensorflow as tf
    from lib.train.teco_model import VGG_SHIFT_PERIOD, TecoModel

    config = TrainConfig(batch_size=args.batch_size, RNN_N=args.RNN_N, crop_size=32,
                         num_resblock=args.num_resblock, pingpang=True, pp_scaling=0.5,
                         vgg_scaling=0.2, vgg_net="vgg16_lpips", ratio=0.01,
                         phase_loss=args.phase_loss)
    data = DataConfig(input_video_dir=args.train_data, str_dir=args.str_dir,
                      end_dir=args.end_dir, end_dir_val=args.end_dir + 1, max_frm=args.max_frm,
                      queue_thread=1)
    scenes = load_scenes(data, config, log=lambda *a: None)
    dataset = make_dataset(scenes, config, args.seed)
    model = TecoModel(config, seed=args.seed)
    batches = list(dataset.take(args.batches))
    model.forward(batches[0][0], batches[0][1], 1.0)          # creates the variables
    load_pretrained(model, args.checkpoint, log=lambda *a: None)
    load_vgg16(model.vgg, args.vgg_ckpt)

    offsets = {"": None}
    if args.vgg_shift:
        offsets.update({f" @({k},{k})": tf.constant([k, k]) for k in range(VGG_SHIFT_PERIOD)})
        offsets[" @16 phases"] = [tf.constant([i // VGG_SHIFT_PERIOD, i % VGG_SHIFT_PERIOD])
                                  for i in range(VGG_SHIFT_PERIOD ** 2)]
    sums = {}
    for lr, targets in batches:
        for tag, offset in offsets.items():
            runs = offset if isinstance(offset, list) else [offset]
            for one in runs:
                grads = term_gradients(model, lr, targets, config, one)
                if tag:     # shifted: only the perceptual term changes
                    grads = {k + tag: v for k, v in grads.items() if k.startswith("perceptual")}
                for name, grad in grads.items():
                    cols, rows, scale = phase_pattern(-grad)
                    c, r, s = sums.get(name, (0, 0, 0))
                    sums[name] = (c + cols / len(runs), r + rows / len(runs), s + scale / len(runs))
    n = len(batches)
    print(f"{n} batches of {config.batch_size} x {config.num_frames} frames, "
          f"{config.hr_size}px; -gradient phase means / mean |gradient| x 1000 (columns | rows), "
          f"grid share, mean |gradient|")
    for name, (c, r, s) in sums.items():
        c, r, s = c / n, r / n, s / n
        share = max(np.abs(c).max(), np.abs(r).max()) / s if s else 0.0
        print(f"{name:30s} " + " ".join(f"{v / s * 1e3:+7.2f}" for v in c) + " | "
              + " ".join(f"{v / s * 1e3:+7.2f}" for v in r) + f"   {share:.4f}  {s:.3e}")
    return 0


if __name__ == "__main__":
    from lib.errors import run_cli
    sys.exit(run_cli(main))
