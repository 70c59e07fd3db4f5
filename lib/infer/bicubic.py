"""The bicubic baseline: the legacy TF1 bicubic x4 of an LR frame (``lib.ops.resize``), saved as
inference saves its outputs. The metrics score it as the 'bicubic' method and the demo figure
shows it beside ours."""
import numpy as np
import tensorflow as tf

from lib.io.frame_io import to_uint8_truncated
from lib.ops.resize import bicubic_four


def bicubic_frame(lr_rgb8):
    """Legacy bicubic x4 of one LR RGB uint8 frame, saved as inference saves (x255, clip, trunc):
    the baseline of the metrics and of the demo figure."""
    lr = np.asarray(lr_rgb8).astype(np.float32) / 255.0
    return to_uint8_truncated(bicubic_four(tf.constant(lr[np.newaxis]))[0].numpy())
