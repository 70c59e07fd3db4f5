"""The "BD" degradation of TecoGAN: Gaussian blur sigma = 1.5, then every 4th pixel.

Two variants exist in the original and both are kept:

* ``bd_downsample_image`` - OpenCV ``GaussianBlur(sigma 1.5)`` then ``[::4, ::4]``. On uint8 input
  OpenCV uses a 9-tap kernel; this is how the official Vid4 LR frames were made (bit-identical).
  Used for ``--input_dir_HR`` and to derive ``LR/calendar`` from ``HR/calendar``.
* ``gauss_down_by4`` - the training loader's fixed 9x9 kernel applied as a stride-4 VALID conv on
  a 136x136 HR crop, giving 32x32 LR whose pixel i is centred on HR pixel 4i of the 128 target.
"""
import cv2
import numpy as np
import tensorflow as tf
from scipy.signal.windows import gaussian

SIGMA = 1.5
KERNEL_WIDTH = 1 + 2 * int(SIGMA * 3.0)   # 9
BORDER = int(SIGMA * 3.0)                   # 4 HR pixels of margin on each side of the target


def bd_downsample_image(image, sigma=SIGMA):
    """Blur an HWC image with OpenCV (REFLECT_101 border) and keep every 4th pixel from 0."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    return blurred[::4, ::4]


def gaussian_kernel_2d(size=KERNEL_WIDTH, sigma=SIGMA):
    """The original ``gaussian_2dkernel``: outer product of scipy's window, normalised to 1."""
    taps = gaussian(size, std=sigma).reshape(size, 1)
    kernel = np.outer(taps, taps)
    return kernel / np.sum(kernel)


def gauss_down_kernel(sigma=SIGMA):
    """Block-diagonal [k, k, 3, 3] conv kernel that blurs each RGB channel on its own."""
    size = 1 + 2 * int(sigma * 3.0)
    kernel = np.zeros((size, size, 3, 3), np.float32)
    gk = gaussian_kernel_2d(size, sigma).astype(np.float32)
    for c in range(3):
        kernel[:, :, c, c] = gk
    return kernel


def gauss_down_by4(hr_images, sigma=SIGMA):
    """``tf_data_gaussDownby4``: NHWC float HR in [0,1] -> LR by a stride-4 VALID blur conv."""
    kernel = tf.constant(gauss_down_kernel(sigma), dtype=hr_images.dtype)
    return tf.nn.conv2d(hr_images, kernel, strides=[1, 4, 4, 1], padding="VALID")
