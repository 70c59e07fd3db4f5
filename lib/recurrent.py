"""The recurrent inference step of TecoGAN/FRVSR, compiled once per frame size.

For each frame after the first (reference section 3.3):
  1. flow = FNet([previous LR, current LR]), (h//8*8) x (w//8*8) because of three VALID pools;
  2. pad it SYMMETRIC by (h mod 8, w mod 8) at the bottom/right back to h x w;
  3. HR flow = upscale_four(4 * flow);
  4. warp the previous output (in [0, 1]) with the HR flow;
  5. output = deprocess(G([current LR, space_to_depth_4(warped)])).
The first frame uses a zero warped frame. Outputs stay unclipped: the recurrence uses raw values.
"""
import tensorflow as tf

from lib.networks import deprocess
from lib.resize import upscale_four
from lib.warp import dense_image_warp


class RecurrentUpscaler:
    """Runs FNet + warp + generator on one [1, h, w, 3] frame at a time, state kept by the caller."""

    def __init__(self, generator, fnet, lr_height, lr_width):
        if lr_height < 8 or lr_width < 8:
            raise ValueError(f"frames must be at least 8x8 LR pixels, got {lr_width}x{lr_height}")
        self.generator, self.fnet = generator, fnet
        self.lr_shape = (lr_height, lr_width)
        self.pad_h, self.pad_w = lr_height % 8, lr_width % 8
        lr_spec = tf.TensorSpec([1, lr_height, lr_width, 3], tf.float32)
        hr_spec = tf.TensorSpec([1, 4 * lr_height, 4 * lr_width, 3], tf.float32)
        # Fixed shapes: traced once, no per-frame retracing.
        self.first = tf.function(self._first, input_signature=[lr_spec])
        self.next = tf.function(self._next, input_signature=[lr_spec, lr_spec, hr_spec])

    def lr_flow(self, prev_lr, cur_lr):
        """FNet flow padded back to the LR size (the original's SYMMETRIC padding)."""
        flow = self.fnet(tf.concat([prev_lr, cur_lr], axis=-1))
        return tf.pad(flow, [[0, 0], [0, self.pad_h], [0, self.pad_w], [0, 0]], mode="SYMMETRIC")

    def warp_previous(self, prev_lr, cur_lr, prev_output):
        hr_flow = upscale_four(self.lr_flow(prev_lr, cur_lr) * 4.0)
        return dense_image_warp(prev_output, hr_flow)

    def generate(self, cur_lr, warped):
        gen_input = tf.concat([cur_lr, tf.nn.space_to_depth(warped, 4)], axis=-1)
        return deprocess(self.generator(gen_input))

    def _first(self, cur_lr):
        h, w = self.lr_shape
        return self.generate(cur_lr, tf.zeros([1, 4 * h, 4 * w, 3], cur_lr.dtype))

    def _next(self, prev_lr, cur_lr, prev_output):
        return self.generate(cur_lr, self.warp_previous(prev_lr, cur_lr, prev_output))


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
