"""The spatio-temporal discriminator ``discriminator_F`` of TecoGAN (reference section 4.3).

Variable names map one-to-one to the original graph (``tdiscriminator/discriminator_unit/...``):

* ``input_stage/conv`` 3x3 conv with bias, LeakyReLU 0.2;
* ``disblock_{1,3,5,7}``: 4x4 stride-2 conv without bias, BatchNorm (slim: decay 0.9, eps 1e-3,
  beta only, always in training mode, i.e. batch statistics), LeakyReLU 0.2;
* ``dense_layer_2/dense``: a per-pixel ``tf.layers.Dense(1)`` on the channel axis, then sigmoid.

The call returns the patch probabilities, the four post-LeakyReLU block outputs (for the
feature-matching loss) and the batch statistics of every BatchNorm (the caller updates the moving
averages, which the original updated but never used).

``compute_dtype=tf.bfloat16`` (``--precision bf16``): the convolutions run in bfloat16; every
BatchNorm (its statistics), the feature-matching layers and the dense output are float32.

Under ``tf.distribute`` with several replicas the BatchNorm statistics are synchronised (computed
over the global batch), so a step on N replicas equals the single-device step on the same batch.
"""
import tensorflow as tf

from lib.ops.layers import Conv2D, collect_official, glorot_uniform, lrelu

D_SCOPE = "tdiscriminator/discriminator_unit"
BN_EPSILON = 1e-3
BN_DECAY = 0.9
BLOCKS = (("disblock_1", 64, 64), ("disblock_3", 64, 64), ("disblock_5", 64, 128),
          ("disblock_7", 128, 256))


def _replica_context():
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync <= 1:
        return None
    return ctx


class BatchNormNoScale(tf.Module):
    """slim.batch_norm(scale=False, fused=True, is_training=True): beta only, batch statistics."""

    def __init__(self, channels, scope, name=None):
        super().__init__(name=name or scope.replace("/", "_"))
        self.scope = scope
        self.beta = tf.Variable(tf.zeros([channels]), name="beta")
        self.moving_mean = tf.Variable(tf.zeros([channels]), name="moving_mean", trainable=False)
        self.moving_variance = tf.Variable(tf.ones([channels]), name="moving_variance",
                                           trainable=False)
        self.official_variables = {"BatchNorm/beta": self.beta,
                                   "BatchNorm/moving_mean": self.moving_mean,
                                   "BatchNorm/moving_variance": self.moving_variance}

    def __call__(self, x):
        """Normalised ``x`` and (batch mean, Bessel-corrected batch variance) for moving stats."""
        ctx = _replica_context()
        if ctx is None:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, tf.ones_like(self.beta), self.beta, epsilon=BN_EPSILON, is_training=True)
            return y, (mean, variance)
        # Synchronised statistics over all replicas (two-pass for accuracy); the gradients of
        # all_reduce are all-reduced too, so this differentiates like the global computation.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)
        total, n = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                                  [tf.reduce_sum(x, axis=[0, 1, 2]), count])
        mean = total / n
        centred = x - mean
        sq = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                            tf.reduce_sum(tf.square(centred), axis=[0, 1, 2]))
        variance = sq / n
        y = centred * tf.math.rsqrt(variance + BN_EPSILON) + self.beta
        return y, (tf.stop_gradient(mean), tf.stop_gradient(variance * n / tf.maximum(n - 1, 1)))


class Dense1x1(tf.Module):
    """``tf.layers.Dense(units)`` applied to the last axis of an NHWC tensor (tensordot)."""

    def __init__(self, in_units, units, scope, seed=0, name=None):
        super().__init__(name=name or scope.replace("/", "_"))
        self.scope = scope
        self.kernel = tf.Variable(glorot_uniform([in_units, units], in_units, units, scope, seed),
                                  name="kernel")
        self.bias = tf.Variable(tf.zeros([units]), name="bias")
        self.official_variables = {"dense/kernel": self.kernel, "dense/bias": self.bias}

    def __call__(self, x):
        shape = tf.shape(x)
        flat = tf.reshape(x, [-1, self.kernel.shape[0]])
        y = tf.matmul(flat, self.kernel)
        y = tf.reshape(y, tf.concat([shape[:-1], [self.kernel.shape[1]]], axis=0))
        return tf.nn.bias_add(y, self.bias)


class Discriminator(tf.Module):
    """``discriminator_F``: [N, H, W, 27] -> (sigmoid patches [N, H/16, W/16, 1], layers, bn)."""

    def __init__(self, in_channels=27, seed=0, name="tdiscriminator", compute_dtype=tf.float32):
        super().__init__(name=name)
        self.in_channels, self.seed = in_channels, seed
        self.compute_dtype = dtype = tf.as_dtype(compute_dtype)
        self.input_conv = Conv2D(in_channels, 64, 3, scope="input_stage/conv", seed=seed,
                                 compute_dtype=dtype)
        self.blocks = []
        for scope, cin, cout in BLOCKS:
            conv = Conv2D(cin, cout, 4, stride=2, use_bias=False, scope=f"{scope}/conv1", seed=seed,
                          compute_dtype=dtype)
            bn = BatchNormNoScale(cout, scope=scope)
            self.blocks.append((conv, bn))
        self.dense = Dense1x1(256, 1, scope="dense_layer_2", seed=seed)

    def __call__(self, x):
        net = lrelu(self.input_conv(x), 0.2)
        layers, stats = [], []
        for conv, bn in self.blocks:
            net, stat = bn(tf.cast(conv(net), tf.float32))
            net = lrelu(net, 0.2)
            layers.append(net)
            stats.append(stat)
        return tf.sigmoid(self.dense(net)), layers, stats

    def batch_norms(self):
        return [bn for _, bn in self.blocks]

    def official_variables(self):
        layers = [self.input_conv] + [c for c, _ in self.blocks] + [b for _, b in self.blocks] \
            + [self.dense]
        return collect_official(D_SCOPE, layers)

    def model_variables(self):
        """The original's MODEL_VARIABLES of the D: everything but the dense bias (slim quirk).

        This is what ``--pre_trained_model`` loads for the D, as the original did.
        """
        names = self.official_variables()
        return {k: v for k, v in names.items() if not k.endswith("dense_layer_2/dense/bias")}

    def trainable(self):
        """Trainable D variables in a fixed order: all but the BatchNorm moving statistics."""
        return [v for k, v in sorted(self.official_variables().items())
                if not k.endswith(("moving_mean", "moving_variance"))]

    def get_config(self):
        return {"in_channels": self.in_channels, "seed": self.seed,
                "compute_dtype": self.compute_dtype.name}
