"""Converter-safe versions of the legacy resizes and the dense warp, for ``--mode export``.

The originals (lib/ops/resize.py, lib/ops/warp.py) use ops the converters get wrong or lack:
tf2onnx maps the legacy bicubic resize to ONNX Resize with cubic coefficient -0.5 (the legacy op
uses -0.75: up to 12 grey levels off), TFLite has no builtin ResizeBicubic, and the warp's
``[..., None]`` is a StridedSlice with ``new_axis_mask`` that TFLite's builtins do not run.

Here the same arithmetic is written with ops that TFLite builtins and ONNX both carry unchanged:
``tf.gather`` with clamped int32 indices, elementwise arithmetic with constant weights, split,
stack and reshape. Frame sizes stay dynamic (indices are computed from ``tf.shape``).

Legacy resizes (``align_corners=False, half_pixel_centers=False``) by an integer factor k are
separable and periodic: output j = k·i + p samples the input at i + p/k, so phase p is a fixed
combination of the input shifted by the cubic's (or the linear's) taps, with indices clamped to the
border. The weights are the legacy kernel's own: Keys' cubic with a = -0.75 at t = p/4 (exact in
float32), and the bilinear lerp ``a + (b - a)·t``. The association order of TF's kernels is kept
(bicubic: rows, then columns, ``((v0·w0 + v1·w1) + v2·w2) + v3·w3``; bilinear: columns, then
rows), so results agree to float rounding (tests/ops/test_portable_ops.py).
"""
import numpy as np
import tensorflow as tf

from lib.ops.resize import _keys_weights

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _clamped_range(n, offset):
    """int32 ``clip(range(n) + offset, 0, n - 1)``: border-replicating tap indices."""
    return tf.minimum(tf.maximum(tf.range(n) + offset, 0), n - 1)


def _interleave(phases, axis):
    """Stack the k phase images [.., n, ..] along ``axis`` into [.., k·n, ..] (j = k·i + p)."""
    stacked = tf.stack(phases, axis=axis + 1)
    # The target shape keeps every dim known statically as a constant (batch, channels): the
    # TFLite converter needs a known channel count for the convolutions that follow.
    static, dynamic = phases[0].shape.as_list(), tf.shape(phases[0])
    dims = [dynamic[d] if size is None else size for d, size in enumerate(static)]
    dims[axis] = dims[axis] * len(phases)
    return tf.reshape(stacked, tf.stack(dims))


def _bicubic_axis(x, axis, factor):
    """Legacy bicubic x``factor`` along one spatial ``axis`` (1 = rows, 2 = columns)."""
    n = tf.shape(x)[axis]
    taps = [tf.gather(x, _clamped_range(n, offset), axis=axis) for offset in (-1, 0, 1, 2)]
    # The legacy kernel's table values at t = p / factor (dyadic, so exact in float32): [factor, 4]
    weights = _keys_weights(np.arange(factor) / factor).astype(np.float32)
    phases = []
    for p in range(factor):
        acc = taps[0] * weights[p, 0]
        for t in range(1, 4):
            acc = acc + taps[t] * weights[p, t]
        phases.append(acc)
    return _interleave(phases, axis)


def _bilinear_axis(x, axis, factor):
    """Legacy bilinear x``factor`` along one spatial ``axis``: ``a + (b - a)·p/k``, as TF."""
    n = tf.shape(x)[axis]
    nxt = tf.gather(x, _clamped_range(n, 1), axis=axis)
    step = nxt - x
    phases = [x + step * np.float32(p / factor) for p in range(factor)]
    return _interleave(phases, axis)


def bicubic_four(images):
    """:func:`lib.ops.resize.bicubic_four` (legacy bicubic x4 of NHWC) with portable ops."""
    return _bicubic_axis(_bicubic_axis(images, 1, 4), 2, 4)


def upscale_four(images):
    """:func:`lib.ops.resize.upscale_four` (legacy bilinear x4 of NHWC) with portable ops."""
    return _bilinear_axis(_bilinear_axis(images, 2, 4), 1, 4)


def upscale_two(images):
    """:func:`lib.ops.resize.upscale_two` (legacy bilinear x2 of NHWC) with portable ops."""
    return _bilinear_axis(_bilinear_axis(images, 2, 2), 1, 2)


def symmetric_pad_to(images, height, width):
    """``tf.pad(images, [[0, 0], [0, height - h], [0, width - w], [0, 0]], "SYMMETRIC")`` as two
    gathers (index j < n reads j, j >= n reads the mirror 2n - 1 - j). Needs height - h <= h."""
    for axis, size in ((1, height), (2, width)):
        n = tf.shape(images)[axis]
        j = tf.range(size)
        images = tf.gather(images, tf.minimum(j, 2 * n - 1 - j), axis=axis)
    return images


def _query_floor_alpha(query, size):
    """The contrib op's clamping: floor into [0, size - 2], the fraction into [0, 1]."""
    floor = tf.minimum(tf.maximum(tf.floor(query), 0.0), tf.cast(size - 2, query.dtype))
    alpha = tf.minimum(tf.maximum(query - floor, 0.0), 1.0)
    return tf.cast(floor, tf.int32), alpha


def dense_image_warp(image, flow):
    """:func:`lib.ops.warp.dense_image_warp` (TF1 contrib semantics) with portable ops: output
    (y, x) samples ``image`` bilinearly at (y - flow[..., 0], x - flow[..., 1]), borders clamped."""
    image = tf.convert_to_tensor(image)
    flow = tf.cast(flow, image.dtype)
    shape = tf.shape(image)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    flow_y, flow_x = tf.split(flow, 2, axis=-1)                       # [B, H, W, 1] each
    rows = tf.reshape(tf.cast(tf.range(height), flow.dtype), [1, -1, 1, 1])
    cols = tf.reshape(tf.cast(tf.range(width), flow.dtype), [1, 1, -1, 1])
    floors, alphas = [], []
    for query, size in ((rows - flow_y, height), (cols - flow_x, width)):
        # Non-finite queries sample the corner, as in the original; |q| <= max is is_finite
        # (IsFinite is no TFLite builtin).
        query = tf.where(tf.abs(query) <= _FLOAT32_MAX, query, tf.zeros_like(query))
        floor, alpha = _query_floor_alpha(query, size)
        floors.append(floor)
        alphas.append(alpha)

    flat = tf.reshape(image, [-1, channels])
    base = tf.reshape(tf.range(batch) * height * width, [-1, 1, 1, 1])
    top_left_index = tf.squeeze(base + floors[0] * width + floors[1], axis=3)   # [B, H, W]

    def gather(offset):
        return tf.gather(flat, top_left_index + offset)

    top_left, top_right = gather(0), gather(1)
    bottom_left, bottom_right = gather(width), gather(width + 1)
    # Same association order as the contrib op (and lib/ops/warp.py).
    interp_top = alphas[1] * (top_right - top_left) + top_left
    interp_bottom = alphas[1] * (bottom_right - bottom_left) + bottom_left
    return alphas[0] * (interp_bottom - interp_top) + interp_top
