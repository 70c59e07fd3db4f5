"""The recurrent inference step of TecoGAN/FRVSR, compiled once per frame size.

For each frame after the first (reference section 3.3):
  1. flow = FNet([previous LR, current LR]), (h//8*8) x (w//8*8) because of three VALID pools;
  2. pad it SYMMETRIC by (h mod 8, w mod 8) at the bottom/right back to h x w;
  3. HR flow = upscale_four(4 * flow);
  4. warp the previous output (in [0, 1]) with the HR flow;
  5. output = deprocess(G([current LR, space_to_depth_4(warped)])).
The first frame uses a zero warped frame. Outputs stay unclipped: the recurrence uses raw values.

Beyond the original: the generator can run on overlapping tiles (``tile``, exact;
lib/infer/tiling.py), through the fast graph (``fast``: HR part in the sub-pixel domain and the
warp compiled by XLA, within about 1e-6 of the literal graph; lib/infer/fastpath.py) and in
bfloat16 or float16 (``precision``, fast graph only). FNet and the warp always run on the full
frame in float32. ``first_u8``/``next_u8`` also return the frame as the original saved it (uint8
of trunc(clip(x * 255))), computed in the same graph call.
"""
import tensorflow as tf

from lib.infer import fastpath
from lib.infer.tiling import TilePlan, generator_halo, run_tiled
from lib.models.networks import deprocess
from lib.ops.resize import upscale_four
from lib.ops.warp import dense_image_warp


class RecurrentUpscaler:
    """Runs FNet + warp + generator on one [1, h, w, 3] frame at a time; the caller keeps the
    state (previous LR frame, previous output)."""

    def __init__(self, generator, fnet, lr_height, lr_width, tile=0, fast=True, precision="fp32"):
        if lr_height < 8 or lr_width < 8:
            raise ValueError(f"frames must be at least 8x8 LR pixels, got {lr_width}x{lr_height}")
        if precision not in fastpath.PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(fastpath.PRECISIONS)}, "
                             f"got '{precision}'")
        self.generator, self.fnet = generator, fnet
        self.lr_shape = (lr_height, lr_width)
        self.pad_h, self.pad_w = lr_height % 8, lr_width % 8
        self.precision, self.dtype = precision, fastpath.PRECISIONS[precision]
        self.fast = bool(fast) or precision != "fp32"
        self.tiles = TilePlan(lr_height, lr_width, max(0, int(tile)),
                              generator_halo(generator.num_resblock))
        self._warp = fastpath.xla_warp() if self.fast else dense_image_warp
        lr_spec = tf.TensorSpec([1, lr_height, lr_width, 3], tf.float32)
        hr_spec = tf.TensorSpec([1, 4 * lr_height, 4 * lr_width, 3], tf.float32)
        # Fixed shapes: traced once, no per-frame retracing.
        self.first = tf.function(self._first, input_signature=[lr_spec])
        self.next = tf.function(self._next, input_signature=[lr_spec, lr_spec, hr_spec])
        self.first_u8 = tf.function(self._first_u8, input_signature=[lr_spec])
        self.next_u8 = tf.function(self._next_u8, input_signature=[lr_spec, lr_spec, hr_spec])

    def lr_flow(self, prev_lr, cur_lr):
        """FNet flow padded back to the LR size (the original's SYMMETRIC padding)."""
        flow = self.fnet(tf.concat([prev_lr, cur_lr], axis=-1))
        return tf.pad(flow, [[0, 0], [0, self.pad_h], [0, self.pad_w], [0, 0]], mode="SYMMETRIC")

    def warp_previous(self, prev_lr, cur_lr, prev_output):
        hr_flow = upscale_four(self.lr_flow(prev_lr, cur_lr) * 4.0)
        return self._warp(prev_output, hr_flow)

    def generator_output(self, gen_input):
        """The generator in [-1, 1], tiled and/or through the fast graph as configured."""
        if self.fast:
            def run(x):
                return fastpath.generator_output(self.generator, x, self.dtype)
        else:
            run = self.generator
        return run_tiled(run, gen_input, self.tiles)

    def generate(self, cur_lr, warped):
        gen_input = tf.concat([cur_lr, tf.nn.space_to_depth(warped, 4)], axis=-1)
        return deprocess(self.generator_output(gen_input))

    def _first(self, cur_lr):
        h, w = self.lr_shape
        return self.generate(cur_lr, tf.zeros([1, 4 * h, 4 * w, 3], cur_lr.dtype))

    def _next(self, prev_lr, cur_lr, prev_output):
        return self.generate(cur_lr, self.warp_previous(prev_lr, cur_lr, prev_output))

    def _first_u8(self, cur_lr):
        return _with_u8(self._first(cur_lr))

    def _next_u8(self, prev_lr, cur_lr, prev_output):
        return _with_u8(self._next(prev_lr, cur_lr, prev_output))


def _with_u8(frame01):
    """(frame, trunc(clip(frame * 255)) as uint8): the original's save_img, in the graph."""
    return frame01, tf.cast(tf.clip_by_value(frame01 * 255.0, 0.0, 255.0), tf.uint8)


def warmup_order(frames_iter):
    """Yield ``(item, is_warmup)`` in the original order f5, f4, f3, f2, f1, f0, f1, f2, ...

    Only the first six frames are buffered, so a long clip streams in bounded memory. A clip with
    fewer than six frames gets fewer warm-up frames, exactly as ``list[5:0:-1] + list`` did.
    """
    head = []
    iterator = iter(frames_iter)
    for item in iterator:
        head.append(item)
        if len(head) == 6:
            break
    for item in reversed(head[1:]):
        yield item, True
    for item in head:
        yield item, False
    for item in iterator:
        yield item, False
