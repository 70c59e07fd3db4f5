"""The convolutional trunk shared by VGG19 (the original's perceptual loss, ``vgg19.py``) and the
offline VGG16 stand-in (``vgg16.py``): 3x3 convolutions in five stages with 2x2 max-pools between
them, TF-slim variable names ``<scope>/convS/convS_I/{weights,biases}``, and features normalised
per pixel over their channels. With ``compute_dtype=tf.bfloat16`` the convolutions run in bfloat16
and the features are normalised in float32. A subclass gives its scope, stages, feature layers, the input
pre-processing its weights were trained with, and how its weights are loaded."""
import tensorflow as tf

from lib.ops.layers import Conv2D, max_pool_2x2


def layer_names(stages):
    """(name, in_channels, out_channels) of the convolutions in order, e.g. 'conv1/conv1_1'."""
    out, cin = [], 3
    for stage, repeat, cout in stages:
        for i in range(1, repeat + 1):
            out.append((f"conv{stage}/conv{stage}_{i}", cin, cout))
            cin = cout
    return out


def unit_normalise(features):
    """The original's per-pixel normalisation over channels, f / sqrt(sum f^2 + 1e-12)."""
    return features / tf.sqrt(tf.reduce_sum(tf.square(features), axis=[3], keepdims=True) + 1e-12)


class VGGTrunk(tf.Module):
    """``vgg(images)`` -> {layer name: unit-normalised features [N, h, w, C]} for images in
    [-1, 1]; ``official_variables()`` -> {TF-slim name: variable}."""
    scope = None            # "vgg_19" / "vgg_16": the variable-name prefix
    stages = ()             # ((stage, convolutions, channels), ...)
    feature_layers = ()     # the layers the perceptual loss compares

    def __init__(self, compute_dtype=tf.float32):
        super().__init__(name=self.scope)
        self.compute_dtype = tf.as_dtype(compute_dtype)
        self.convs = [(n, Conv2D(cin, cout, 3, scope=n, compute_dtype=self.compute_dtype))
                      for n, cin, cout in layer_names(self.stages)]

    def official_variables(self):
        out = {}
        for n, conv in self.convs:
            out[f"{self.scope}/{n}/weights"] = conv.kernel
            out[f"{self.scope}/{n}/biases"] = conv.bias
        return out

    def preprocess(self, images):
        """Images in [-1, 1] -> what the weights were trained on."""
        raise NotImplementedError

    def load(self, path):
        raise NotImplementedError

    def __call__(self, images, layers=None):
        wanted = set(self.feature_layers if layers is None else layers)
        last = max(i for i, (n, _) in enumerate(self.convs) if f"{self.scope}/{n}" in wanted)
        net = self.preprocess(images)
        features = {}
        for i, (n, conv) in enumerate(self.convs[:last + 1]):
            if i > 0 and n.endswith("_1"):
                net = max_pool_2x2(net)
            net = tf.nn.relu(conv(net))
            if f"{self.scope}/{n}" in wanted:
                features[f"{self.scope}/{n}"] = unit_normalise(tf.cast(net, tf.float32))
        return features
