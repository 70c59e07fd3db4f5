"""Small layers as ``tf.Module``s whose variables carry the original TF1 checkpoint names.

Mixed precision (``compute_dtype=tf.bfloat16``): the variables stay float32 (what Adam updates and
checkpoints hold); each call casts its input and its variables to the compute dtype, so the
convolution runs in bfloat16 and returns bfloat16. With the default float32 the graph is exactly
the original's (no cast op is added).

Each layer keeps ``official_variables``: a dict from the name suffix that TF-slim gave the variable
(``Conv/weights``, ``Conv2d_transpose/biases`` ...) to the ``tf.Variable``. Networks prefix these with
their variable scopes, so importing and exporting the official checkpoint is a dictionary lookup.
"""
import hashlib

import numpy as np
import tensorflow as tf


def _name_seed(name, seed):
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return [int.from_bytes(digest[:4], "little") >> 1, int.from_bytes(digest[4:8], "little") >> 1]


def glorot_uniform(shape, fan_in, fan_out, name, seed):
    """Xavier/Glorot uniform (the original's initialiser), deterministic per variable name."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.random.stateless_uniform(shape, _name_seed(name, seed), -limit, limit, tf.float32)


def in_compute_dtype(dtype, *tensors):
    """``tensors`` cast to ``dtype`` (returned unchanged, no op added, when they have it)."""
    return [t if t is None or t.dtype == dtype else tf.cast(t, dtype) for t in tensors]


class Conv2D(tf.Module):
    """slim.conv2d without activation: k x k, SAME padding, optional bias, kernel [kh, kw, in, out]."""

    def __init__(self, in_channels, filters, kernel_size=3, stride=1, use_bias=True,
                 scope="conv", seed=0, name=None, compute_dtype=tf.float32):
        super().__init__(name=name or scope.replace("/", "_"))
        self.compute_dtype = tf.as_dtype(compute_dtype)
        self.in_channels, self.filters = in_channels, filters
        self.kernel_size, self.stride, self.use_bias, self.scope = kernel_size, stride, use_bias, scope
        shape = [kernel_size, kernel_size, in_channels, filters]
        receptive = kernel_size * kernel_size
        self.kernel = tf.Variable(
            glorot_uniform(shape, receptive * in_channels, receptive * filters, scope, seed),
            name="weights")
        self.official_variables = {"Conv/weights": self.kernel}
        self.bias = None
        if use_bias:
            self.bias = tf.Variable(tf.zeros([filters]), name="biases")
            self.official_variables["Conv/biases"] = self.bias

    def __call__(self, x):
        x, kernel, bias = in_compute_dtype(self.compute_dtype, x, self.kernel, self.bias)
        y = tf.nn.conv2d(x, kernel, strides=self.stride, padding="SAME")
        if bias is not None:
            y = tf.nn.bias_add(y, bias)
        return y

    def get_config(self):
        return {"in_channels": self.in_channels, "filters": self.filters,
                "kernel_size": self.kernel_size, "stride": self.stride,
                "use_bias": self.use_bias, "scope": self.scope,
                "compute_dtype": self.compute_dtype.name}


class Conv2DTranspose(tf.Module):
    """slim.conv2d_transpose: stride-2 SAME transposed conv, kernel [kh, kw, out, in], bias."""

    def __init__(self, in_channels, filters, kernel_size=3, stride=2, scope="conv_tran", seed=0,
                 name=None, compute_dtype=tf.float32):
        super().__init__(name=name or scope.replace("/", "_"))
        self.compute_dtype = tf.as_dtype(compute_dtype)
        self.in_channels, self.filters = in_channels, filters
        self.kernel_size, self.stride, self.scope = kernel_size, stride, scope
        shape = [kernel_size, kernel_size, filters, in_channels]
        receptive = kernel_size * kernel_size
        self.kernel = tf.Variable(
            glorot_uniform(shape, receptive * in_channels, receptive * filters, scope, seed),
            name="weights")
        self.bias = tf.Variable(tf.zeros([filters]), name="biases")
        self.official_variables = {"Conv2d_transpose/weights": self.kernel,
                                   "Conv2d_transpose/biases": self.bias}

    def __call__(self, x):
        x, kernel, bias = in_compute_dtype(self.compute_dtype, x, self.kernel, self.bias)
        shape = tf.shape(x)
        out_shape = tf.stack([shape[0], shape[1] * self.stride, shape[2] * self.stride,
                              self.filters])
        y = tf.nn.conv2d_transpose(x, kernel, out_shape, strides=self.stride, padding="SAME")
        return tf.nn.bias_add(y, bias)

    def get_config(self):
        return {"in_channels": self.in_channels, "filters": self.filters,
                "kernel_size": self.kernel_size, "stride": self.stride, "scope": self.scope,
                "compute_dtype": self.compute_dtype.name}


def lrelu(x, alpha=0.2):
    """The original LeakyReLU: max(alpha * x, x)."""
    return tf.maximum(alpha * x, x)


def max_pool_2x2(x):
    """slim.max_pool2d([2, 2]) with its default stride 2 and VALID padding."""
    return tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")


def collect_official(prefix, layers):
    """Merge the ``official_variables`` of ``layers`` under ``prefix/<layer.scope>/``."""
    out = {}
    for layer in layers:
        for suffix, var in layer.official_variables.items():
            out[f"{prefix}/{layer.scope}/{suffix}"] = var
    return out
