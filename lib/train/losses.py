"""Every loss term of TecoGAN with the original's formula (reference section 5.2).

All terms are means over the batch, so under ``tf.distribute`` the step scales each replica's
value by 1 / num_replicas and sums; the results equal the single-device values.
"""
import math

import numpy as np
import tensorflow as tf

from lib.ops.warp import dense_image_warp

D_LAYER_NORMS = (12.0, 14.0, 24.0, 100.0)
D_LAYER_RANGE = 0.02
VGG_LAYER_WEIGHTS = (1.0, 1.0, 1.0, 1.0)


def content_loss(gen_outputs, targets):
    """``l2_content_loss``: mean over pixels of the channel-summed squared error ([-1, 1] range)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(gen_outputs - targets), axis=[-1]))


def warp_loss(next_frames, warped_frames):
    """``l2_warp_loss``: LR frame k+1 against frame k warped with the LR flow (FNet only)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(next_frames - warped_frames), axis=[-1]))


def vgg_losses(gen_features, target_features, layers):
    """Per layer 1 - mean cosine similarity of the normalised features (0 best, 2 worst)."""
    out = []
    for key in layers:
        cosine = tf.reduce_sum(gen_features[key] * target_features[key], axis=[3])
        out.append(1.0 - tf.reduce_mean(cosine))
    return out


def pingpong_loss(gen_outputs, rnn_n):
    """``PingPang``: L1 between the forward and the backward output of frames 0 .. RNN_N-2."""
    first = gen_outputs[:, 0:rnn_n - 1]
    last_reversed = tf.reverse(gen_outputs[:, rnn_n:], axis=[1])
    return tf.reduce_mean(tf.abs(first - last_reversed))


# phase_loss (--phase_loss, ours): the grid measure of metrics/grid_phase.py as a loss
PHASE_PERIOD = 4
PHASE_BLUR = 9
GREY_WEIGHTS = (0.299, 0.587, 0.114)
LEVELS = 127.5          # frames in [-1, 1]: grey levels per unit


def phase_loss(gen_outputs, targets):
    """``phase_loss``: mean squared difference, in grey levels, of the per-frame mean high-pass of
    each column phase ``x % 4`` and row phase ``y % 4`` between generated and target frames.

    The measure of ``metrics/grid_phase.py`` (BT.601 grey, minus its 9x9 box blur with edges
    reflected) on the difference of the frames: natural images have no phase preference, a
    4-pixel grid has one. It gives the generator the restoring force against a grid that the
    content loss is too weak to give next to the perceptual loss (benchmarks/grid_gradients.py).
    Columns at +0.3 and -0.3 levels on two phases, in every frame, cost (0.09 + 0.09) / 4 = 0.045.
    """
    height, width = gen_outputs.shape[-3], gen_outputs.shape[-2]
    diff = tf.reshape(gen_outputs - targets, tf.stack([-1, height, width, 3]))
    grey = tf.reduce_sum(diff * tf.constant(GREY_WEIGHTS, diff.dtype), axis=-1,
                         keepdims=True) * LEVELS
    half = PHASE_BLUR // 2
    padded = tf.pad(grey, [[0, 0], [half, half], [half, half], [0, 0]], mode="REFLECT")
    high = grey - tf.nn.avg_pool2d(padded, PHASE_BLUR, 1, "VALID")
    p = PHASE_PERIOD
    cells = tf.reshape(high[:, :height // p * p, :width // p * p, 0],
                       tf.stack([-1, height // p, p, width // p, p]))
    columns = tf.reduce_mean(cells, axis=[1, 2, 3])       # [frames, x % 4]
    rows = tf.reduce_mean(cells, axis=[1, 3, 4])          # [frames, y % 4]
    return tf.reduce_mean(tf.square(columns)) + tf.reduce_mean(tf.square(rows))


# temporal_loss (--temporal_loss, ours): flicker of the error, what tOF measures
# Charbonnier's epsilon of the l1 norm: 1e-3 of the [0, 1] range, a quarter of a grey level
CHARBONNIER_EPS = 1e-3


def blurred(frames, sigma):
    """Each channel of NHWC ``frames`` blurred by a Gaussian of ``sigma`` pixels (reflected
    border; taps out to 3 sigma, as ``gauss_down_kernel``)."""
    from lib.ops.degradation import gaussian_kernel_2d
    size = 1 + 2 * int(math.ceil(3.0 * sigma))
    channels = frames.shape[-1]
    kernel = np.tile(gaussian_kernel_2d(size, sigma).astype(np.float32)[:, :, None, None],
                     [1, 1, channels, 1])
    half = size // 2
    padded = tf.pad(frames, [[0, 0], [half, half], [half, half], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, tf.constant(kernel, frames.dtype), [1, 1, 1, 1], "VALID")


def temporal_loss(gen_outputs, targets, hr_flows, norm="l2", blur_sigma=0.0):
    """``temporal_loss``: mean over pixels of the channel-summed squared part of the error
    ``e = generated - target`` that does not move with the scene: ``e_t - W_t(e_{t-1})``.

    ``W_t`` is the warp the generator itself applies to frame t-1 (``dense_image_warp`` with the
    HR flow ``hr_flows[:, t-1]``, [B, T-1, H, W, 2]), so an error that travels with the content
    (a texture that differs from the target but stays put on the object) costs nothing, and one
    that changes from frame to frame (flicker, crawling detail: what makes tOF and tLP worse) costs
    its full square. The warp is linear, so this is also ``(g_t - W g_{t-1}) - (y_t - W y_{t-1})``:
    the generated frame-to-frame change against the target's. The flow's gradient is stopped:
    the term trains the generator, not FNet (which could otherwise lower it by warping badly).

    ``norm="l1"`` (``--temporal_loss_norm l1``) takes the length of each pixel's change instead
    of its square (Charbonnier: ``sqrt(|d|^2 + eps^2) - eps``): the squared norm is ruled by the
    few large changes where the flow is wrong (occlusions, edges), which the generator cannot
    fix, while the length gives a grey level of flicker in flat texture the same pull as one at
    an edge.

    ``blur_sigma`` > 0 (``--temporal_loss_blur``) blurs each pixel's change by a Gaussian first:
    the bilinear warp cannot carry detail finer than a few pixels at a fractional shift (half a
    pixel halves what it keeps at a 4-pixel period and wipes out the 2-pixel one), so an
    unblurred term charges fine texture that does travel with the content as if it flickered,
    and pulls the output towards the target there, as a second content loss would. Blurred, the
    term keeps the scale that Farneback's flow (and so tOF) follows and leaves the finest detail
    to the perceptual loss.
    """
    shape = tf.shape(gen_outputs)
    error = gen_outputs - targets
    previous = tf.reshape(error[:, :-1], tf.concat([[-1], shape[2:]], axis=0))
    flows = tf.reshape(tf.stop_gradient(hr_flows), tf.concat([[-1], shape[2:4], [2]], axis=0))
    carried = dense_image_warp(previous, flows)
    change = tf.reshape(error[:, 1:], tf.shape(carried)) - carried
    if blur_sigma > 0:
        change = blurred(change, blur_sigma)
    squared = tf.reduce_sum(tf.square(change), axis=[-1])
    if norm not in ("l2", "l1"):
        raise ValueError(f"temporal_loss norm must be 'l2' or 'l1', got {norm!r}")
    if norm == "l1":
        eps = tf.constant(CHARBONNIER_EPS, squared.dtype)
        return tf.reduce_mean(tf.sqrt(squared + eps * eps) - eps)
    return tf.reduce_mean(squared)


def target_flows(targets):
    """The targets' own motion, as ``temporal_loss`` takes it: [B, T-1, H, W, 2] float32 in the
    dense-warp convention, so that ``dense_image_warp(targets[:, t-1], flows[:, t-1])`` is
    (approximately) ``targets[:, t]``.

    ``--temporal_loss_flow target`` (ours). tOF compares the Farneback flow of the output with
    the Farneback flow of the target; detail that moves as the target moves leaves the first
    equal to the second. FNet's flow is estimated from the LR frames and upscaled: where it is
    wrong (fine detail, edges, small moving parts) the term charges every error, moving or not,
    and so trades perceptual detail for PSNR. This flow is the metric's own estimate on the HR
    targets: the grey frames as tOF makes them (uint8, ``COLOR_RGB2GRAY``) and the metric's
    Farneback parameters, computed from frame t to frame t-1 (for each pixel of frame t, where it
    was) and negated into ``dense_image_warp``'s subtractive (dy, dx) order. A constant of the
    data: no gradient; computed on the CPU, a few ms per 128x128 pair.
    """
    from metrics.temporal import farneback, grey

    def farneback_pairs(frames):
        frames = np.asarray(frames, np.float32)
        batch, count, height, width, _ = frames.shape
        levels = np.clip(np.rint((frames + 1.0) * 127.5), 0, 255).astype(np.uint8)
        out = np.zeros((batch, count - 1, height, width, 2), np.float32)
        for b in range(batch):
            greys = [grey(frame) for frame in levels[b]]
            for t in range(1, count):
                back = farneback(greys[t], greys[t - 1])     # frame t -> frame t-1, (dx, dy)
                out[b, t - 1] = -back[..., ::-1]
        return out

    frames = tf.cast(tf.stop_gradient(targets), tf.float32)
    flows = tf.numpy_function(farneback_pairs, [frames], tf.float32, stateful=False)
    shape = tf.shape(frames)
    return tf.reshape(flows, tf.concat([shape[:1], shape[1:2] - 1, shape[2:4], [2]], axis=0))


def adversarial_loss(d_fake, eps):
    """``t_adversarial_loss``: mean of -log(D(fake) + EPS)."""
    return tf.reduce_mean(-tf.math.log(d_fake + eps))


def discriminator_loss(d_real, d_fake, eps):
    """``t_discrim_loss``: mean of -(log(1 - D(fake) + EPS) + log(D(real) + EPS))."""
    fake_term = tf.math.log(1.0 - d_fake + eps)
    real_term = tf.math.log(d_real + eps)
    return tf.reduce_mean(-(fake_term + real_term))


def balance_term(d_real, eps):
    """The D part of ``t_balance``: mean(log(D(real) + EPS)); the caller adds t_adversarial_loss."""
    return tf.reduce_mean(tf.math.log(d_real + eps))


def d_layer_losses(real_layers, fake_layers):
    """Raw per-layer L1 feature distances (channel-summed, mean over pixels), their scaled sum."""
    raw, total = [], 0.0
    for i, (real, fake) in enumerate(zip(real_layers, fake_layers)):
        layer_loss = tf.reduce_mean(tf.reduce_sum(tf.abs(real - fake), axis=[3]))
        raw.append(layer_loss)
        total += D_LAYER_RANGE * layer_loss / D_LAYER_NORMS[i]
    return raw, total


def dt_ratio(global_step, ratio_0, ratio_add, ratio_max):
    """The adversarial fade-in factor min(max, ratio_0 + add * step) (``Dst_ratio``)."""
    step = tf.cast(global_step, tf.float32)
    return tf.minimum(tf.constant(ratio_max, tf.float32),
                      tf.constant(ratio_0, tf.float32) + tf.constant(ratio_add, tf.float32) * step)
