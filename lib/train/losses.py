"""Every loss term of TecoGAN with the original's formula (reference section 5.2).

All terms are means over the batch, so under ``tf.distribute`` the step scales each replica's
value by 1 / num_replicas and sums; the results equal the single-device values.
"""
import tensorflow as tf

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
