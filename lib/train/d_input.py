"""The input of the spatio-temporal discriminator (reference section 4.3, ``Dt_mergeDs``).

The unrolled sequence (T' frames) is cut into non-overlapping triplets (3j, 3j+1, 3j+2) of its first
``t_size = 3 * (T' // 3)`` frames. For each triplet the first frame is warped onto the middle one
with the forward flow already computed for the pair (3j -> 3j+1), the middle frame stays, and the
last frame is warped with a flow that maps 3j+2 onto 3j+1: with ping-pong it is reused from the
mirrored half of the sequence, without it an extra FNet pass computes it. These flows are
stop-gradient: the D never trains FNet.

Every 9-channel block is packed R(t-1) R(t) R(t+1) G(t-1) ... B(t+1) (channel = c * 3 + tau). The
27-channel input is [original triplet, warped triplet with a ``crop_dt`` central crop zero-padded
back, LR triplet resized to HR with the legacy bilinear resize]; the same LR block is used for the
real and the fake input.
"""
import tensorflow as tf

from lib.ops.resize import resize_bilinear_legacy, upscale_four
from lib.ops.warp import dense_image_warp


def triplet_layout(num_frames):
    """(t_size, number of triplets) for an unrolled sequence of ``num_frames`` frames."""
    t_size = 3 * (num_frames // 3)
    return t_size, t_size // 3


def backward_flow_indices(num_frames):
    """Ping-pong: indices into the T'-1 forward flows that map frame 3j+2 onto 3j+1."""
    t_size, _ = triplet_layout(num_frames)
    return list(range(num_frames - 1))[-2:-1 - t_size:-3]


def pack_triplets(frames, height, width, channels=3):
    """[N * 3, H, W, C] (consecutive triplets) -> [N, H, W, C * 3] packed c * 3 + tau."""
    x = tf.reshape(frames, [-1, 3, height, width, channels])
    x = tf.transpose(x, [0, 2, 3, 4, 1])
    return tf.reshape(x, [-1, height, width, channels * 3])


def crop_and_pad(x, crop_dt):
    """Keep the central ``int(H * crop_dt)`` square, zero the border (crop, pad_to_bounding_box)."""
    if crop_dt >= 1.0:
        return x
    height = x.shape[1]
    size = int(height * crop_dt)
    offset = (height - size) // 2
    kept = x[:, offset:offset + size, offset:offset + size, :]
    rest = height - size - offset
    return tf.pad(kept, [[0, 0], [offset, rest], [offset, rest], [0, 0]])


def triplet_flows(gen_flow, r_inputs, fnet, pingpang):
    """HR flows [B * t_size, H, W, 2] for (previous, none, next) of every triplet, stop-gradient.

    ``gen_flow``: [B, T'-1, H, W, 2] forward HR flows; ``r_inputs``: [B, T', h, w, 3] LR frames.
    """
    num_frames = r_inputs.shape[1]
    t_size, n_trip = triplet_layout(num_frames)
    height, width = gen_flow.shape[2], gen_flow.shape[3]
    v_pre = gen_flow[:, 0:t_size:3]
    if pingpang:
        v_next = tf.gather(gen_flow, backward_flow_indices(num_frames), axis=1)
    else:
        lr_h, lr_w, ch = r_inputs.shape[2], r_inputs.shape[3], r_inputs.shape[4]
        back_input = tf.concat([r_inputs[:, 2:t_size:3], r_inputs[:, 1:t_size:3]], axis=-1)
        back_input = tf.reshape(back_input, [-1, lr_h, lr_w, 2 * ch])
        back_flow = upscale_four(fnet(back_input) * 4.0)
        v_next = tf.reshape(back_flow, [-1, n_trip, height, width, 2])
    velocity = tf.stack([v_pre, tf.zeros_like(v_pre), v_next], axis=2)
    return tf.stop_gradient(tf.reshape(velocity, [-1, height, width, 2]))


def lr_conditioning(r_inputs, hr_size):
    """The LR triplets packed and resized to HR (legacy bilinear): [B * n_trip, H, W, 9]."""
    num_frames, lr_h, lr_w = r_inputs.shape[1], r_inputs.shape[2], r_inputs.shape[3]
    t_size, _ = triplet_layout(num_frames)
    lr = tf.reshape(r_inputs[:, :t_size], [-1, lr_h, lr_w, 3])
    return resize_bilinear_legacy(pack_triplets(lr, lr_h, lr_w), hr_size)


def discriminator_input(hr_frames, velocity, input_hi, crop_dt):
    """27-channel D input for ``hr_frames`` [B, T', H, W, 3] (targets or generator outputs)."""
    num_frames, height, width = hr_frames.shape[1], hr_frames.shape[2], hr_frames.shape[3]
    t_size, _ = triplet_layout(num_frames)
    frames = tf.reshape(hr_frames[:, :t_size], [-1, height, width, 3])
    warped = dense_image_warp(frames, velocity)
    warped = crop_and_pad(pack_triplets(warped, height, width), crop_dt)
    return tf.concat([pack_triplets(frames, height, width), warped, input_hi], axis=-1)
