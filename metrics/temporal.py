"""tOF, the temporal optical-flow metric, as the original defined it (reference section 7.2).

Both frames of a pair are converted to grey (``cv2.COLOR_RGB2GRAY`` on the uint8 RGB frame, full
size: the border crop is applied to the flow afterwards). Dense flow from the previous to the
current frame comes from ``cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)``
(pyramid scale 0.5, 3 levels, window 15, 3 iterations, poly_n 5, poly_sigma 1.2, no flags), for
the target pair and for the output pair. Both flow fields are cropped with ``crop_8x8``; tOF is the
mean over pixels of the Euclidean norm of the difference vector (the original's comment says "l1",
but the code takes the L2 norm of each 2-vector), in float32 as the original.
"""
import cv2
import numpy as np

from metrics.image_metrics import crop_8x8

FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)


def grey(rgb_uint8):
    return cv2.cvtColor(np.ascontiguousarray(rgb_uint8), cv2.COLOR_RGB2GRAY)


def farneback(prev_grey, cur_grey):
    """Dense flow (HxWx2 float32) from ``prev_grey`` to ``cur_grey``, the original parameters."""
    return cv2.calcOpticalFlowFarneback(prev_grey, cur_grey, None, *FARNEBACK_PARAMS)


def tof_from_flows(target_flow, output_flow):
    """Mean per-pixel Euclidean norm of the difference of the two crop_8x8'd flow fields."""
    target_flow, _, _ = crop_8x8(target_flow)
    output_flow, _, _ = crop_8x8(output_flow)
    diff = np.absolute(target_flow - output_flow)
    return float(np.sqrt(np.sum(diff * diff, axis=-1)).mean())


def tof(prev_target_grey, target_grey, prev_output_grey, output_grey):
    """tOF of one frame pair, from grey frames."""
    return tof_from_flows(farneback(prev_target_grey, target_grey),
                          farneback(prev_output_grey, output_grey))
