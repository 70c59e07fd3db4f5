"""LPIPS (AlexNet, linear layers v0.1) in TensorFlow: the metric with no PyTorch and no download.

The network and its input conventions are those of the original metric script
(``LPIPSmodels/dist_model.py``, ``net-lin``, ``alex``, version 0.1) and of the ``lpips`` package:

* images: RGB uint8 -> ``x / 127.5 - 1`` (float64, then float32), as ``util.im2tensor``;
* ScalingLayer: ``(x - shift) / scale`` with shift (-.030, -.088, -.188), scale (.458, .448, .450);
* torchvision's AlexNet trunk, the ReLU outputs of its five convolutions (explicit symmetric
  padding as PyTorch, 3x3 stride-2 max-pools without padding);
* each feature map unit-normalised over channels, ``f / (sqrt(sum f^2) + 1e-10)``;
* squared difference, the 1x1 linear layer (no bias), spatial mean, summed over the five layers.

Weights: :mod:`LPIPSmodels.weights` (a torchvision AlexNet file the user has, else the shipped
``alex_lpips_v0.1.npz``; the linear layers always from the shipped file). Features of a frame are
computed once and reused for LPIPS and both tLP distances, as :class:`LPIPSmodels.adapter.LpipsAlex`.
"""
import numpy as np
import tensorflow as tf

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# torchvision alexnet.features: (index, stride, padding, max-pool before this conv)
ALEX_CONVS = ((0, 4, 2, False), (3, 1, 2, True), (6, 1, 1, True), (8, 1, 1, False),
              (10, 1, 1, False))
NORM_EPS = 1e-10


def _hwio(oihw):
    return tf.constant(np.ascontiguousarray(np.asarray(oihw, np.float32).transpose(2, 3, 1, 0)))


class LpipsTF:
    """LPIPS v0.1 AlexNet on RGB uint8 images (same interface as the PyTorch adapter)."""

    def __init__(self, weights, source="shipped"):
        """``weights``: torchvision/lpips-named arrays (``features.I.weight`` OIHW, ``.bias``,
        ``linK.model.1.weight``), see :func:`LPIPSmodels.weights.load_alexnet_lpips`."""
        self.source = source
        self.convs = [(_hwio(weights[f"features.{i}.weight"]),
                       tf.constant(np.asarray(weights[f"features.{i}.bias"], np.float32)),
                       stride, pad, pool) for i, stride, pad, pool in ALEX_CONVS]
        self.lins = [_hwio(weights[f"lin{k}.model.1.weight"]) for k in range(len(ALEX_CONVS))]
        self._features = tf.function(self._features_graph, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32)], reduce_retracing=True)
        self._distance = tf.function(self._distance_graph, reduce_retracing=True)

    def describe(self):
        return f"LPIPS AlexNet v0.1 in TensorFlow {tf.__version__}, weights: {self.source}"

    # -- graph pieces -----------------------------------------------------------------------------
    def _features_graph(self, images):
        x = (images - tf.constant(SHIFT, tf.float32)) / tf.constant(SCALE, tf.float32)
        out = []
        for kernel, bias, stride, pad, pool in self.convs:
            if pool:
                x = tf.nn.max_pool2d(x, ksize=3, strides=2, padding="VALID")
            x = tf.nn.conv2d(x, kernel, strides=stride,
                             padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
            x = tf.nn.relu(tf.nn.bias_add(x, bias))
            norm = tf.sqrt(tf.reduce_sum(tf.square(x), axis=3, keepdims=True))
            out.append(x / (norm + NORM_EPS))
        return out

    def _distance_graph(self, feats0, feats1):
        total = 0.0
        for f0, f1, lin in zip(feats0, feats1, self.lins):
            weighted = tf.nn.conv2d(tf.square(f0 - f1), lin, strides=1, padding="VALID")
            total += tf.reduce_mean(weighted, axis=[1, 2, 3])
        return total

    # -- public -----------------------------------------------------------------------------------
    @staticmethod
    def to_input(rgb_uint8):
        """The original ``im2tensor``: x / 127.5 - 1 in float64, then float32, batch of one."""
        arr = np.asarray(rgb_uint8) / (255.0 / 2.0) - 1.0
        return tf.constant(arr[np.newaxis].astype(np.float32))

    def features(self, rgb_uint8):
        """Unit-normalised trunk features of one RGB uint8 image."""
        return self._features(self.to_input(rgb_uint8))

    def distance_features(self, feats0, feats1):
        """LPIPS between two images given their :meth:`features` (a float32 scalar)."""
        return np.float32(self._distance(list(feats0), list(feats1)).numpy()[0])

    def distance(self, img0, img1):
        return self.distance_features(self.features(img0), self.features(img1))
