"""The fast inference graph: the same arithmetic as ``Generator.__call__``, reordered; XLA warp.

The LR part (input conv, residual blocks) is the same ops. The HR part is rewritten in the
sub-pixel ("phase") domain, which oneDNN runs much faster than the transposed convolutions, their
separate bias/ReLU passes and the 3-channel output convolution on the 64-channel HR tensor:

* ``conv_tran1`` stays a transposed convolution (its input is LR-sized);
* ``conv_tran2`` (3x3, stride 2, TF SAME) becomes four ordinary convolutions, one per output phase
  (a, b) of HR4 pixel (2m + a, 2n + b): TF puts input pixel i at output 2i + k, so phase 0 reads
  inputs m - 1 (tap 2) and m (tap 0), phase 1 reads input m (tap 1). Every phase carries its
  bias and ReLU inside the convolution (oneDNN fuses them);
* the output convolution reads the phases directly: output phase a' at offset d in {-1, 0, 1}
  reads phase (a' + d) mod 2 at block offset floor((a' + d) / 2), i.e. source phase 0 at block
  offsets {0, +1} and source phase 1 at {-1, 0}; four 2x2 convolutions (one per source phase)
  produce the 4 x 3 output phases, which depth_to_space interleaves.

The 64-channel 4h x 4w tensor is never built. Only the summation order changes: the result is
within about 1e-6 of the literal graph for outputs of order 1 (measured 4e-7 with the TF1
fixture's weights; tests/infer/test_speed_paths.py holds it to 1e-5).

``dtype`` runs the convolutions in bfloat16 or float16 (weights cast on the fly, accumulation in
the backend's precision); the sum of the output phases, the bicubic skip and the output stay
float32.
"""
import tensorflow as tf

from lib.models.networks import preprocess
from lib.ops.resize import bicubic_four
from lib.ops.warp import dense_image_warp

PRECISIONS = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}

# Transposed conv, per output phase: kernel taps for input offsets (-1, 0) or (0,), and padding.
_UP_TAPS = {0: (2, 0), 1: (1,)}
_UP_PAD = {0: (1, 0), 1: (0, 0)}
# Output conv, per source phase s and tap t (block offset: s=0 -> 0, +1; s=1 -> -1, 0):
# {output phase a': d} where the kernel row is d + 1.
_OUT_TAPS = {0: ({0: 0, 1: -1}, {1: 1}), 1: ({0: -1}, {0: 1, 1: 0})}
_OUT_PAD = {0: (0, 1), 1: (1, 0)}


def _cast(x, dtype):
    return x if x.dtype == dtype else tf.cast(x, dtype)


def conv(layer, x, dtype=tf.float32):
    """``Conv2D.__call__`` with the weights cast to ``dtype``."""
    y = tf.nn.conv2d(x, _cast(layer.kernel, dtype), strides=layer.stride, padding="SAME")
    return tf.nn.bias_add(y, _cast(layer.bias, dtype)) if layer.bias is not None else y


def _padded_conv(x, kernel, pad_rows, pad_cols):
    if any(pad_rows) or any(pad_cols):
        x = tf.pad(x, [[0, 0], list(pad_rows), list(pad_cols), [0, 0]])
    return tf.nn.conv2d(x, kernel, strides=1, padding="VALID")


def up_phase_kernels(layer, dtype=tf.float32):
    """{(a, b): conv kernel [taps_a, taps_b, in, out]} of a stride-2 SAME transposed conv."""
    kernel = tf.transpose(_cast(layer.kernel, dtype), [0, 1, 3, 2])       # [3, 3, in, out]
    return {(a, b): tf.stack([tf.stack([kernel[ky, kx] for kx in _UP_TAPS[b]])
                              for ky in _UP_TAPS[a]])
            for a in (0, 1) for b in (0, 1)}


def out_phase_kernels(layer, dtype=tf.float32):
    """{source phase (a, b): [2, 2, in, 4 * out]} kernels of the output conv in the phase domain.

    Output channel (a' * 2 + b') * out + c, the order ``depth_to_space(., 2)`` expects.
    """
    kernel = _cast(layer.kernel, dtype)                                    # [3, 3, in, out]
    zero = tf.zeros_like(kernel[0, 0])
    kernels = {}
    for sa in (0, 1):
        for sb in (0, 1):
            rows = []
            for ty in (0, 1):
                cols = []
                for tx in (0, 1):
                    parts = []
                    for ap in (0, 1):
                        for bp in (0, 1):
                            dy, dx = _OUT_TAPS[sa][ty].get(ap), _OUT_TAPS[sb][tx].get(bp)
                            parts.append(zero if dy is None or dx is None
                                         else kernel[dy + 1, dx + 1])
                    cols.append(tf.concat(parts, axis=-1))
                rows.append(tf.stack(cols))
            kernels[sa, sb] = tf.stack(rows)
    return kernels


def features(generator, gen_input, dtype=tf.float32):
    """``Generator.features`` in ``dtype``."""
    net = tf.nn.relu(conv(generator.input_conv, _cast(gen_input, dtype), dtype))
    for conv_1, conv_2 in generator.resblocks:
        net = net + conv(conv_2, tf.nn.relu(conv(conv_1, net, dtype)), dtype)
    return net


def upsample(generator, feats, dtype=tf.float32):
    """``Generator.upsample`` in the phase domain (see the module doc)."""
    up1, up2, out = generator.up1, generator.up2, generator.output_conv
    net = tf.nn.relu(_up1(up1, feats, dtype))
    up_kernels, out_kernels = up_phase_kernels(up2, dtype), out_phase_kernels(out, dtype)
    up_bias = _cast(up2.bias, dtype)
    result = None
    for a in (0, 1):
        for b in (0, 1):
            phase = tf.nn.relu(tf.nn.bias_add(
                _padded_conv(net, up_kernels[a, b], _UP_PAD[a], _UP_PAD[b]), up_bias))
            part = _cast(_padded_conv(phase, out_kernels[a, b], _OUT_PAD[a], _OUT_PAD[b]),
                         tf.float32)                   # the 12-channel sums in float32
            result = part if result is None else result + part
    result = tf.nn.bias_add(result, tf.tile(out.bias, [4]))
    return tf.nn.depth_to_space(result, 2)


def _up1(layer, x, dtype):
    shape = tf.shape(x)
    out_shape = tf.stack([shape[0], shape[1] * 2, shape[2] * 2, layer.filters])
    y = tf.nn.conv2d_transpose(x, _cast(layer.kernel, dtype), out_shape, strides=2, padding="SAME")
    return tf.nn.bias_add(y, _cast(layer.bias, dtype))


def xla_warp():
    """``dense_image_warp`` with its gathers and elementwise ops fused by XLA: 2.5x faster on CPU,
    the same arithmetic up to contracted multiply-adds (1.8e-7 on a calendar frame). The HR flow
    stays TF's legacy resize (XLA's resize differs by 5e-5). Make one per frame size."""
    return tf.function(dense_image_warp, jit_compile=True)


def generator_output(generator, gen_input, dtype=tf.float32):
    """The generator's output in [-1, 1] (float32), computed by the fast graph."""
    residual = upsample(generator, features(generator, gen_input, dtype), dtype)
    return preprocess(residual + bicubic_four(gen_input[..., :3]))
