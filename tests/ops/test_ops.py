"""The exact ops against TF's legacy kernels and independent NumPy references."""
import numpy as np
import tensorflow as tf

from conftest import shared_path
from lib.ops.degradation import bd_downsample_image, gauss_down_by4, gaussian_kernel_2d
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.ops.resize import (bicubic_four, bicubic_four_numpy, bilinear_resize_numpy,
                        resize_bilinear_legacy, upscale_four, upscale_two)
from lib.ops.warp import dense_image_warp, dense_image_warp_numpy

RNG = np.random.default_rng(0)


def _image(h=7, w=9, c=3, n=2):
    return RNG.uniform(-1, 2, size=(n, h, w, c)).astype(np.float32)


def test_bicubic_four_equals_tf1_legacy_and_numpy():
    x = _image()
    ours = bicubic_four(x).numpy()
    legacy = tf.compat.v1.image.resize_bicubic(x, (28, 36), align_corners=False,
                                               half_pixel_centers=False).numpy()
    np.testing.assert_array_equal(ours, legacy)
    np.testing.assert_allclose(ours, bicubic_four_numpy(x), atol=2e-6)
    # Different from TF2's tf.image.resize (half-pixel centres): the reason this module exists.
    assert np.abs(ours - tf.image.resize(x, (28, 36), "bicubic").numpy()).max() > 1e-2


def test_bicubic_weights_and_alignment():
    # A unit impulse reproduces the documented Keys a = -0.75 taps; LR pixel i sits at HR 4i.
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, 4, 4, 0] = 1.0
    row = bicubic_four(x).numpy()[0, 16, :, 0]
    near = [-0.03515625, -0.09375, -0.10546875, 0, 0.26171875, 0.59375, 0.87890625]
    np.testing.assert_allclose(row[9:24], near + [1.0] + near[::-1], atol=1e-7)


def test_bilinear_legacy_equals_tf1_and_numpy():
    x = _image(5, 6)
    for size in ((20, 24), (10, 12), (128, 128), (7, 3)):
        ours = resize_bilinear_legacy(x, size).numpy()
        legacy = tf.compat.v1.image.resize_bilinear(x, size, align_corners=False,
                                                    half_pixel_centers=False).numpy()
        np.testing.assert_array_equal(ours, legacy)
        np.testing.assert_allclose(ours, bilinear_resize_numpy(x, size), atol=2e-6)
    np.testing.assert_allclose(upscale_four(x).numpy(), bilinear_resize_numpy(x, (20, 24)),
                               atol=2e-6)
    np.testing.assert_allclose(upscale_two(x).numpy(), bilinear_resize_numpy(x, (10, 12)),
                               atol=2e-6)


def test_dense_warp_matches_reference_with_border_clamping():
    img = _image(9, 11, 3, 2)
    flow = RNG.uniform(-6, 6, size=(2, 9, 11, 2)).astype(np.float32)  # many samples outside
    np.testing.assert_allclose(dense_image_warp(img, flow).numpy(),
                               dense_image_warp_numpy(img, flow), atol=1e-5)
    # Convention: channel 0 is vertical and subtractive. A flow of +1 row shifts content down.
    shift = np.zeros((1, 9, 11, 2), np.float32)
    shift[..., 0] = 1.0
    out = dense_image_warp(img[:1], shift).numpy()
    np.testing.assert_allclose(out[0, 1:], img[0, :-1], atol=1e-6)
    np.testing.assert_allclose(out[0, 0], img[0, 0], atol=1e-6)   # clamped at the border


def test_dense_warp_gradient_flows_to_flow_and_image():
    img = tf.constant(_image(6, 6, 3, 1))
    flow = tf.Variable(RNG.uniform(-0.4, 0.4, size=(1, 6, 6, 2)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(img)
        loss = tf.reduce_sum(dense_image_warp(img, flow) ** 2)
    assert np.abs(tape.gradient(loss, flow).numpy()).sum() > 0
    assert np.abs(tape.gradient(loss, img).numpy()).sum() > 0


def test_space_to_depth_channel_order():
    x = np.arange(1 * 4 * 4 * 3, dtype=np.float32).reshape(1, 4, 4, 3)
    out = tf.nn.space_to_depth(x, 4).numpy()[0, 0, 0]
    expected = [x[0, dy, dx, c] for dy in range(4) for dx in range(4) for c in range(3)]
    np.testing.assert_array_equal(out, expected)   # channel = (dy * 4 + dx) * 3 + c


def test_training_degradation_kernel_and_alignment():
    taps = gaussian_kernel_2d()[4] / gaussian_kernel_2d()[4].sum()
    np.testing.assert_allclose(taps, [0.007614, 0.036075, 0.109586, 0.213445, 0.266560,
                                      0.213445, 0.109586, 0.036075, 0.007614], atol=1e-6)
    hr = RNG.uniform(0, 1, size=(1, 136, 136, 3)).astype(np.float32)
    lr = gauss_down_by4(hr).numpy()
    assert lr.shape == (1, 32, 32, 3)
    k = gaussian_kernel_2d()
    i, j = 5, 7    # LR pixel (i, j) is the blur centred on HR (4 + 4i, 4 + 4j) of the 136 crop
    patch = hr[0, 4 * i:4 * i + 9, 4 * j:4 * j + 9, :]
    np.testing.assert_allclose(lr[0, i, j], np.einsum("hwc,hw->c", patch, k), atol=1e-6)


def test_bd_degradation_reproduces_official_lr_bit_for_bit():
    gt = shared_path("data", "Vid4", "GT", "calendar")
    lr = shared_path("data", "Vid4", "LR", "calendar")
    for hr_path, lr_path in list(zip(list_frames(gt), list_frames(lr)))[:41:8]:
        ours = bd_downsample_image(read_image_rgb8(hr_path))
        np.testing.assert_array_equal(ours, read_image_rgb8(lr_path), err_msg=hr_path)
