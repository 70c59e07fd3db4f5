"""The converter-safe ops of the export (lib/ops/portable.py) equal the originals (lib/ops) to float
rounding: random images of odd sizes, flows pointing far outside the frame, non-finite flows, and
run as the export runs them (a tf.function with dynamic height and width)."""
import numpy as np
import pytest
import tensorflow as tf

from lib.ops import portable, resize, warp

# Odd, tiny and non-square sizes: 1-pixel rows and columns exercise the border clamps.
SIZES = [(1, 1), (1, 3), (2, 2), (5, 7), (13, 9), (24, 17)]
TOLERANCE = 1e-6


def _dynamic(fn, channels, n_inputs=1, last_channels=None):
    """``fn`` traced once with unknown batch, height and width, as in the exported step."""
    specs = [tf.TensorSpec([None, None, None, channels], tf.float32)]
    if n_inputs == 2:
        specs.append(tf.TensorSpec([None, None, None, last_channels], tf.float32))
    return tf.function(fn, input_signature=specs)


def _images(rng, h, w, channels=3, batch=2):
    return tf.constant(rng.uniform(-1.0, 2.0, (batch, h, w, channels)).astype(np.float32))


@pytest.mark.parametrize("name", ["bicubic_four", "upscale_four", "upscale_two"])
def test_portable_resizes_equal_the_legacy_ops(name):
    rng = np.random.default_rng(11)
    original, ours = getattr(resize, name), _dynamic(getattr(portable, name), 5)
    for h, w in SIZES:
        x = _images(rng, h, w, channels=5)
        expected, got = original(x).numpy(), ours(x).numpy()
        assert got.shape == expected.shape, (h, w)
        assert np.abs(got - expected).max() <= TOLERANCE, (name, h, w)


def test_portable_bicubic_is_the_keys_cubic_not_onnx_default():
    """A value that tells a = -0.75 from a = -0.5 (what tf2onnx mapped the op to): one bright
    pixel; its x4 neighbour at offset 2 (t = 0.5) gets the cubic's negative lobe."""
    x = np.zeros([1, 5, 5, 1], np.float32)
    x[0, 2, 2, 0] = 1.0
    ours = portable.bicubic_four(tf.constant(x)).numpy()[0, :, :, 0]
    reference = resize.bicubic_four_numpy(x)[0, :, :, 0]
    assert np.abs(ours - reference).max() <= TOLERANCE
    # Keys a=-0.75 at distance 1.5: a(1.5^3) - 5a(1.5^2) + 8a(1.5) - 4a = -0.09375 (a=-0.5: -0.0625)
    assert ours[8, 14] == pytest.approx(-0.09375 * 1.0, abs=1e-7)


def test_portable_warp_equals_dense_image_warp_with_flows_outside_the_frame():
    rng = np.random.default_rng(12)
    ours = _dynamic(portable.dense_image_warp, 3, n_inputs=2, last_channels=2)
    for h, w in [s for s in SIZES if min(s) >= 2]:
        image = _images(rng, h, w)
        # Up to 1.5 frames away in both directions: most queries leave the frame and clamp.
        flow = rng.uniform(-1.5, 1.5, (2, h, w, 2)) * np.array([h, w])
        flow = tf.constant(flow.astype(np.float32))
        expected = warp.dense_image_warp(image, flow).numpy()
        got = ours(image, flow).numpy()
        assert np.abs(got - expected).max() <= TOLERANCE, (h, w)
        assert np.abs(got - warp.dense_image_warp_numpy(image, flow)).max() <= 1e-5


def test_portable_warp_samples_the_corner_for_non_finite_flows():
    rng = np.random.default_rng(13)
    image = _images(rng, 6, 9)
    flow = rng.uniform(-3, 3, (2, 6, 9, 2)).astype(np.float32)
    flow[0, 1, 2, 0], flow[0, 3, 4, 1], flow[1, 5, 8, :] = np.nan, np.inf, -np.inf
    flow = tf.constant(flow)
    expected = warp.dense_image_warp(image, flow).numpy()
    got = portable.dense_image_warp(image, flow).numpy()
    assert np.isfinite(got).all()
    assert np.abs(got - expected).max() <= TOLERANCE


def test_portable_warp_of_zeros_is_exactly_zero():
    """The first frame's state: the warp of a black frame stays exactly black."""
    flow = tf.constant(np.random.default_rng(14).uniform(-20, 20, (1, 8, 12, 2)), tf.float32)
    assert not portable.dense_image_warp(tf.zeros([1, 8, 12, 3]), flow).numpy().any()


def test_symmetric_pad_to_equals_tf_pad():
    rng = np.random.default_rng(15)
    pad = _dynamic(lambda x: portable.symmetric_pad_to(x, tf.shape(x)[1] + tf.shape(x)[1] // 2 + 1,
                                                        tf.shape(x)[2] + 7), 2)
    for h, w in [(8, 8), (16, 24), (3, 7)]:
        x = _images(rng, h, w, channels=2)
        expected = tf.pad(x, [[0, 0], [0, h // 2 + 1], [0, 7], [0, 0]], mode="SYMMETRIC")
        np.testing.assert_array_equal(pad(x).numpy(), expected.numpy())
