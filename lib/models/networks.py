"""FNet (flow estimator) and the FRVSR generator of TecoGAN, layer for layer.

Variable names map one-to-one to the official checkpoint (reference section 4.5):
``fnet/autoencode_unit/...`` and ``generator/generator_unit/...``. Value ranges follow the original:
LR inputs in [0, 1], generator output in [-1, 1] (not clamped), flows in LR pixels with channel 0
vertical.

``compute_dtype=tf.bfloat16`` (training with ``--precision bf16``): the convolutions and the
activations between them run in bfloat16; what leaves a network is float32 again (FNet's flow, so
the warp coordinates stay exact, and the generator's residual before the bicubic skip is added).
"""
import tensorflow as tf

from lib.ops.layers import Conv2D, Conv2DTranspose, collect_official, lrelu, max_pool_2x2
from lib.ops.resize import bicubic_four, upscale_two

FNET_SCOPE = "fnet/autoencode_unit"
GENERATOR_SCOPE = "generator/generator_unit"
MAX_FLOW = 24.0


def preprocess(x):
    """[0, 1] -> [-1, 1]."""
    return x * 2.0 - 1.0


def deprocess(x):
    """[-1, 1] -> [0, 1]."""
    return (x + 1.0) / 2.0


class FNet(tf.Module):
    """Encoder-decoder flow estimator: input [prev LR, cur LR] (6 ch), output LR flow (2 ch).

    Three VALID 2x2 max-pools then three legacy-bilinear x2 upsamplings, so the flow is
    (h // 8 * 8) x (w // 8 * 8); inference pads it back symmetrically.
    """

    ENCODER = ((6, 32), (32, 64), (64, 128))
    DECODER = ((128, 256), (256, 128), (128, 64))

    def __init__(self, seed=0, name="fnet", compute_dtype=tf.float32):
        super().__init__(name=name)
        self.seed, self.compute_dtype = seed, tf.as_dtype(compute_dtype)
        self.encoder = [self._block(f"encoder_{i + 1}", cin, cout)
                        for i, (cin, cout) in enumerate(self.ENCODER)]
        self.decoder = [self._block(f"decoder_{i + 1}", cin, cout)
                        for i, (cin, cout) in enumerate(self.DECODER)]
        self.out_conv1 = self._conv(64, 32, "output_stage/conv1")
        self.out_conv2 = self._conv(32, 2, "output_stage/conv2")

    def _conv(self, cin, cout, scope):
        return Conv2D(cin, cout, scope=scope, seed=self.seed, compute_dtype=self.compute_dtype)

    def _block(self, scope, cin, cout):
        return (self._conv(cin, cout, f"{scope}/conv_1"), self._conv(cout, cout, f"{scope}/conv_2"))

    def __call__(self, pair):
        net = pair
        for conv_1, conv_2 in self.encoder:
            net = max_pool_2x2(lrelu(conv_2(lrelu(conv_1(net)))))
        for conv_1, conv_2 in self.decoder:
            net = upscale_two(lrelu(conv_2(lrelu(conv_1(net)))))
        net = lrelu(self.out_conv1(net))
        return tf.tanh(tf.cast(self.out_conv2(net), tf.float32)) * MAX_FLOW

    def layers(self):
        convs = [c for block in self.encoder + self.decoder for c in block]
        return convs + [self.out_conv1, self.out_conv2]

    def official_variables(self):
        return collect_official(FNET_SCOPE, self.layers())

    def get_config(self):
        return {"seed": self.seed, "compute_dtype": self.compute_dtype.name}


class Generator(tf.Module):
    """FRVSR generator: [LR (3 ch), space_to_depth_4(warped previous output in [0,1]) (48 ch)].

    Output = preprocess(conv_stack(input) + bicubic_four(LR)), i.e. in [-1, 1], not clamped.
    """

    def __init__(self, num_resblock=16, seed=0, name="generator", compute_dtype=tf.float32):
        super().__init__(name=name)
        if int(num_resblock) < 1:
            raise ValueError(f"num_resblock must be >= 1, got {num_resblock}")
        self.num_resblock, self.seed = int(num_resblock), seed
        self.compute_dtype = dtype = tf.as_dtype(compute_dtype)
        self.input_conv = Conv2D(51, 64, scope="input_stage/conv", seed=seed, compute_dtype=dtype)
        self.resblocks = [
            (Conv2D(64, 64, scope=f"resblock_{i}/conv_1", seed=seed, compute_dtype=dtype),
             Conv2D(64, 64, scope=f"resblock_{i}/conv_2", seed=seed, compute_dtype=dtype))
            for i in range(1, self.num_resblock + 1)]
        self.up1 = Conv2DTranspose(64, 64, scope="conv_tran2highres/conv_tran1", seed=seed,
                                   compute_dtype=dtype)
        self.up2 = Conv2DTranspose(64, 64, scope="conv_tran2highres/conv_tran2", seed=seed,
                                   compute_dtype=dtype)
        self.output_conv = Conv2D(64, 3, scope="output_stage/conv", seed=seed, compute_dtype=dtype)

    def features(self, gen_input):
        """The LR-resolution part: input conv and residual blocks (64 ch at LR size)."""
        net = tf.nn.relu(self.input_conv(gen_input))
        for conv_1, conv_2 in self.resblocks:
            net = net + conv_2(tf.nn.relu(conv_1(net)))
        return net

    def upsample(self, features):
        """The HR part without the bicubic skip: two transposed convs and the output conv."""
        net = tf.nn.relu(self.up1(features))
        net = tf.nn.relu(self.up2(net))
        return self.output_conv(net)

    def __call__(self, gen_input):
        residual = tf.cast(self.upsample(self.features(gen_input)), tf.float32)
        return preprocess(residual + bicubic_four(gen_input[..., :3]))

    def layers(self):
        return ([self.input_conv] + [c for block in self.resblocks for c in block]
                + [self.up1, self.up2, self.output_conv])

    def official_variables(self):
        return collect_official(GENERATOR_SCOPE, self.layers())

    def get_config(self):
        return {"num_resblock": self.num_resblock, "seed": self.seed,
                "compute_dtype": self.compute_dtype.name}


def count_parameters(variables):
    return int(sum(int(tf.size(v)) for v in variables))
