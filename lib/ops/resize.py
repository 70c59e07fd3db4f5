"""TF1 "legacy" resampling, exactly as the original TecoGAN graph computed it.

TF1 resized with ``align_corners=False, half_pixel_centers=False``: output pixel j samples the input
at j * (in / out), with no half-pixel offset, so LR pixel i is aligned with HR pixel 4i. Bicubic uses
Keys' cubic with a = -0.75 and replicated borders. ``tf.image.resize`` in TF2 uses half-pixel
centres (and a = -0.5), which shifts the image, so the official weights would see other inputs.

The TF kernels for the legacy semantics still exist as raw ops; we call them directly and keep small
NumPy references (used by tests and by the bicubic baseline of the metrics).
"""
import numpy as np
import tensorflow as tf


def resize_bilinear_legacy(images, size):
    """Legacy bilinear resize of an NHWC float tensor to ``size`` = (height, width)."""
    return tf.raw_ops.ResizeBilinear(images=images, size=tf.cast(size, tf.int32),
                                     align_corners=False, half_pixel_centers=False)


def resize_bicubic_legacy(images, size):
    """Legacy bicubic (Keys a = -0.75, clamped borders) resize of an NHWC float tensor."""
    return tf.raw_ops.ResizeBicubic(images=images, size=tf.cast(size, tf.int32),
                                    align_corners=False, half_pixel_centers=False)


def _hw(images):
    shape = tf.shape(images)
    return shape[1], shape[2]


def upscale_four(images):
    """The original ``upscale_four``: legacy bilinear x4 (used for the HR flow)."""
    h, w = _hw(images)
    return resize_bilinear_legacy(images, tf.stack([4 * h, 4 * w]))


def upscale_two(images):
    """Legacy bilinear x2, as ``tf.image.resize_images`` in FNet's decoder."""
    h, w = _hw(images)
    return resize_bilinear_legacy(images, tf.stack([2 * h, 2 * w]))


def bicubic_four(images):
    """The original ``bicubic_four``: legacy bicubic x4 (the generator's skip connection)."""
    h, w = _hw(images)
    return resize_bicubic_legacy(images, tf.stack([4 * h, 4 * w]))


# ----------------------------------------------------------------------------------------------
# NumPy references (float64 arithmetic). They define the semantics independently of TensorFlow.

def _legacy_source_coords(out_size, in_size):
    return np.arange(out_size, dtype=np.float64) * (in_size / out_size)


def _keys_weights(t, a=-0.75):
    """Weights of input samples floor-1 .. floor+2 for fractional position t (array)."""
    def cubic(x):
        x = np.abs(x)
        return np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                        np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))
    return np.stack([cubic(t + 1), cubic(t), cubic(1 - t), cubic(2 - t)], axis=-1)


def _resize_axis_bicubic(x, out_size, axis):
    in_size = x.shape[axis]
    src = _legacy_source_coords(out_size, in_size)
    base = np.floor(src).astype(np.int64)
    weights = _keys_weights(src - base)                       # [out, 4]
    result = 0.0
    for tap in range(4):
        idx = np.clip(base - 1 + tap, 0, in_size - 1)
        shape = [1] * x.ndim
        shape[axis] = out_size
        result = result + np.take(x, idx, axis=axis) * weights[:, tap].reshape(shape)
    return result


def bicubic_resize_numpy(image, out_hw):
    """Legacy bicubic of an HWC (or NHWC) array; rows first, then columns, like TF."""
    image = np.asarray(image, dtype=np.float64)
    row_axis = image.ndim - 3
    out = _resize_axis_bicubic(image, out_hw[0], row_axis)
    return _resize_axis_bicubic(out, out_hw[1], row_axis + 1)


def bicubic_four_numpy(image):
    image = np.asarray(image)
    h, w = image.shape[-3], image.shape[-2]
    return bicubic_resize_numpy(image, (4 * h, 4 * w))


def _resize_axis_bilinear(x, out_size, axis):
    in_size = x.shape[axis]
    src = _legacy_source_coords(out_size, in_size)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    shape = [1] * x.ndim
    shape[axis] = out_size
    frac = frac.reshape(shape)
    return np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac


def bilinear_resize_numpy(image, out_hw):
    """Legacy bilinear of an HWC (or NHWC) array."""
    image = np.asarray(image, dtype=np.float64)
    row_axis = image.ndim - 3
    out = _resize_axis_bilinear(image, out_hw[0], row_axis)
    return _resize_axis_bilinear(out, out_hw[1], row_axis + 1)

