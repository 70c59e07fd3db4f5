"""The numbers of ``python3 -m metrics.validate``: one checkpoint's recurrent inference on a
validation scene, and PSNR-Y / LPIPS / tOF of any frame sequence against the HR frames, and
the 4-pixel grid of the output (``metrics.grid_phase``'s largest phase offset over the scored
frames) and the grid it adds to the ground truth's (``grid_err``).

Inference is main.py's (lib/infer/driver.py): the 5-frame mirrored warm-up, the same recurrent
step and automatic tiling, outputs as main.py saves them (uint8 of trunc(clip(x * 255))), so the
PNGs ``main.py --mode inference --input_dir_HR SCENE --output_ext png`` writes score the same.
The metrics are those of ``python3 -m metrics`` (metrics/evaluate.py): frames 2..N-3, a result
larger than its target cropped at the top-left, PSNR-Y and LPIPS on the original's crop_8x8,
tOF from the second scored frame on; values are means over the scored frames.
"""
import numpy as np
import tensorflow as tf

from lib.infer.driver import build_models
from lib.infer.recurrent import RecurrentUpscaler, warmup_order
from lib.infer.tiling import choose_tile
from lib.models.checkpoint import load_official
from metrics.grid_phase import largest, phase_means
from metrics.image_metrics import crop_8x8, psnr_y
from metrics.inputs import evaluated_indices
from metrics.temporal import farneback, grey, tof_from_flows
from metrics.validate import BICUBIC, METRICS


class CheckpointRunner:
    """Generator and FNet built once; each checkpoint's weights are loaded into the same
    variables, so the compiled step of a frame size is traced once for all checkpoints."""

    def __init__(self, num_resblock, first_checkpoint):
        self.generator, self.fnet = build_models(num_resblock, first_checkpoint)
        self.variables = {**self.generator.official_variables(), **self.fnet.official_variables()}
        self.upscalers = {}

    def load(self, checkpoint):
        load_official(self.variables, checkpoint)

    def upscaler(self, height, width):
        if (height, width) not in self.upscalers:
            # as main.py's defaults: automatic tile, fast graph, float32
            tile = choose_tile(height, width, self.generator.num_resblock, fast=True)
            self.upscalers[(height, width)] = RecurrentUpscaler(
                self.generator, self.fnet, height, width, tile=max(tile, 0))
        return self.upscalers[(height, width)]

    def super_resolve(self, lr_frames):
        """The outputs (uint8 [4h, 4w, 3]) of every LR frame, in order, warm-up steps dropped."""
        upscaler = self.upscaler(*lr_frames[0].shape[:2])
        outputs, state = [], None
        for rgb, warm in warmup_order(lr_frames):
            lr = tf.constant(rgb[np.newaxis].astype(np.float32) / 255.0)
            if state is None:
                out, out_u8 = upscaler.first_u8(lr)
            else:
                out, out_u8 = upscaler.next_u8(state[0], lr, state[1])
            state = (lr, out)
            if not warm:
                outputs.append(out_u8.numpy()[0])
        return outputs


class MethodOutputs:
    """``outputs(method)``: the function that super-resolves a scene's LR frames for BICUBIC or a
    checkpoint. Checkpoints of one generator size go through one :class:`CheckpointRunner`, so a
    function is valid until the next checkpoint is asked for. ``num_resblock`` None: each
    checkpoint's own block count, read from it (10- and 16-block models in one table)."""

    def __init__(self, num_resblock):
        self.num_resblock = num_resblock
        self.runners = {}

    def blocks(self, checkpoint):
        """The generator size for ``checkpoint``: its own block count, which a given
        ``num_resblock`` must equal. Read from the checkpoint's index before anything is built:
        a generator of --num_resblock 99999 takes hours to build only to be refused by the
        loader."""
        blocks = checkpoint_blocks(checkpoint)
        if self.num_resblock is not None and self.num_resblock != blocks:
            from lib.errors import UserError
            raise UserError(f"checkpoint '{checkpoint}' has a generator with {blocks} residual "
                            f"blocks, not --num_resblock {self.num_resblock}; give "
                            f"--num_resblock {blocks} or leave it out (read from each checkpoint)")
        return blocks

    def __call__(self, method):
        if method == BICUBIC:
            return bicubic_outputs
        blocks = self.blocks(method)
        if blocks not in self.runners:
            self.runners[blocks] = CheckpointRunner(blocks, method)
        else:
            self.runners[blocks].load(method)
        return self.runners[blocks].super_resolve


def checkpoint_blocks(checkpoint):
    """The generator residual blocks stored in ``checkpoint`` (an error if it holds none)."""
    from lib.errors import UserError
    from lib.models.checkpoint import checkpoint_resblocks, open_checkpoint
    prefix, _reader, shapes = open_checkpoint(checkpoint)
    blocks = checkpoint_resblocks(shapes)
    if not blocks:
        raise UserError(f"checkpoint '{prefix}' holds no generator residual blocks")
    return blocks


def methods_with_outputs(checkpoints, num_resblock):
    """``(BICUBIC, bicubic_outputs)`` first, then ``(checkpoint, super_resolve)`` for each
    checkpoint in turn (:class:`MethodOutputs`), lazily. Every checkpoint's block count is
    checked at the call, before any scoring: a bad last checkpoint is not found after the
    others were scored."""
    outputs = MethodOutputs(num_resblock)
    for checkpoint in checkpoints:
        outputs.blocks(checkpoint)
    return ((method, outputs(method)) for method in (BICUBIC, *checkpoints))


def bicubic_outputs(lr_frames):
    from lib.infer.bicubic import bicubic_frame
    return [bicubic_frame(lr) for lr in lr_frames]


def score(targets, outputs, lpips_metric=None):
    """{metric: mean over the scored frames} of ``outputs`` against ``targets`` (RGB uint8)."""
    values = {key: [] for key in METRICS}
    values.pop("grid"), values.pop("grid_err")
    prev, scored_outputs, scored_targets = None, [], []
    for i in evaluated_indices(len(targets)):
        target = targets[i]
        output = outputs[i][:target.shape[0], :target.shape[1]]
        cur = (grey(target), grey(output))
        if prev is not None:
            values["tOF"].append(tof_from_flows(farneback(prev[0], cur[0]),
                                                farneback(prev[1], cur[1])))
        prev = cur
        scored_outputs.append(output)
        scored_targets.append(target)
        target_crop, output_crop = crop_8x8(target)[0], crop_8x8(output)[0]
        values["PSNR_Y"].append(psnr_y(target_crop, output_crop))
        if lpips_metric is not None:
            values["LPIPS"].append(float(lpips_metric.distance(target_crop, output_crop)))
    out = {key: (float(np.mean(v)) if v else float("nan")) for key, v in values.items()}
    out["grid"], out["grid_err"] = grid_offsets(scored_outputs, scored_targets)
    return out


def grid_offsets(outputs, targets):
    """(largest phase mean of the outputs, largest difference between the outputs' phase means
    and the targets'), in grey levels; NaN for no frames. The second is the first measured on
    output minus target (the high-pass and the means are linear): the grid the output adds to
    content that has a phase preference of its own, such as text drawn on the pixel grid."""
    if not outputs:
        return float("nan"), float("nan")
    out_columns, out_rows = phase_means(outputs)
    target_columns, target_rows = phase_means(targets)
    return largest(out_columns, out_rows), largest(out_columns - target_columns,
                                                  out_rows - target_rows)
