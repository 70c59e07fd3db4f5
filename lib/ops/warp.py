"""Dense image warp with the exact convention of TF1's ``tf.contrib.image.dense_image_warp``.

Output pixel (y, x) is the input sampled bilinearly at (y - flow[..., 0], x - flow[..., 1]):
channel 0 is the vertical displacement, the sign is subtractive. Query points are clamped the way
the contrib op clamped them: floor(q) into [0, size - 2] and the fraction q - floor into [0, 1], so
samples outside the image take border values. tensorflow-addons carried the same op but no longer
imports with current TensorFlow, hence this port.
"""
import numpy as np
import tensorflow as tf


def dense_image_warp(image, flow):
    """Warp an NHWC ``image`` by an NHW2 ``flow`` (TF1 contrib semantics, differentiable)."""
    image = tf.convert_to_tensor(image)
    flow = tf.cast(flow, image.dtype)
    shape = tf.shape(image)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]

    grid_y, grid_x = tf.meshgrid(tf.range(height), tf.range(width), indexing="ij")
    grid = tf.cast(tf.stack([grid_y, grid_x], axis=-1), flow.dtype)
    query = grid[tf.newaxis] - flow                                 # [B, H, W, 2]
    # A non-finite flow (diverged weights) would index out of bounds in the gather below; sample
    # the corner instead so the NaN shows up in the losses, not as a crash.
    query = tf.where(tf.math.is_finite(query), query, tf.zeros_like(query))

    floors, alphas = [], []
    for axis, size in ((0, height), (1, width)):
        q = query[..., axis]
        max_floor = tf.cast(size - 2, q.dtype)
        floor = tf.minimum(tf.maximum(tf.zeros_like(q), tf.floor(q)), max_floor)
        alphas.append(tf.minimum(tf.maximum(tf.zeros_like(q), q - floor), tf.ones_like(q))[..., None])
        floors.append(tf.cast(floor, tf.int32))

    flat = tf.reshape(image, [-1, channels])
    base = tf.reshape(tf.range(batch) * height * width, [-1, 1, 1])
    top = base + floors[0] * width
    left = floors[1]

    def gather(offset):
        return tf.gather(flat, offset)

    top_left = gather(top + left)
    top_right = gather(top + left + 1)
    bottom_left = gather(top + width + left)
    bottom_right = gather(top + width + left + 1)

    # Same association order as the contrib op, so float rounding agrees too.
    interp_top = alphas[1] * (top_right - top_left) + top_left
    interp_bottom = alphas[1] * (bottom_right - bottom_left) + bottom_left
    return alphas[0] * (interp_bottom - interp_top) + interp_top


def dense_image_warp_numpy(image, flow):
    """NumPy float64 reference of :func:`dense_image_warp` (NHWC image, NHW2 flow)."""
    image = np.asarray(image, np.float64)
    flow = np.asarray(flow, np.float64)
    b, h, w, _ = image.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    qy = yy[None] - flow[..., 0]
    qx = xx[None] - flow[..., 1]
    fy = np.clip(np.floor(qy), 0, h - 2)
    fx = np.clip(np.floor(qx), 0, w - 2)
    ay = np.clip(qy - fy, 0, 1)[..., None]
    ax = np.clip(qx - fx, 0, 1)[..., None]
    fy = fy.astype(int)
    fx = fx.astype(int)
    bi = np.arange(b)[:, None, None]
    tl = image[bi, fy, fx]
    tr = image[bi, fy, fx + 1]
    bl = image[bi, fy + 1, fx]
    br = image[bi, fy + 1, fx + 1]
    top = tl + ax * (tr - tl)
    bottom = bl + ax * (br - bl)
    return top + ay * (bottom - top)
