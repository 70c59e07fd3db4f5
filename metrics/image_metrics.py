"""Spatial metrics exactly as the original ``metrics.py`` defined them (reference section 7.2).

* ``crop_8x8``: a centred crop to a multiple of 32 that removes at least 16 px in each dimension
  (e.g. calendar 576x720 -> 544x704 at offset (16, 8)). Used for PSNR, SSIM, LPIPS, tLP and the tOF
  flow fields.
* PSNR and SSIM are measured on the luma Y only. Each RGB image is rounded and clipped to 0..255
  (kept as float32), then converted with the BT.601 "studio range" matrix of the VSR-DUF code:
  ``Y = 16 + 0.256788235294118 R + 0.504129411764706 G + 0.097905882352941 B``
  (= 16 + (65.481 R + 128.553 G + 24.966 B) / 255). Y is not rounded.
* PSNR = 20 log10(255 / RMSE) over the Y pixels.
* SSIM = ``skimage.metrics.structural_similarity(Y_true, Y_pred, data_range=Y_pred.max() -
  Y_pred.min())`` with skimage's defaults (7x7 uniform window, K1 0.01, K2 0.03, sample
  covariance): the modern name of ``skimage.measure.compare_ssim`` that the original called. The
  data range comes from the *prediction*, as in the original.
"""
import numpy as np

# First row of the VSR-DUF RGB -> YCbCr matrix (the original's ``_rgb2ycbcr``), and its offset.
Y_COEFFS = np.array([0.256788235294118, 0.504129411764706, 0.097905882352941], dtype=np.float64)
Y_OFFSET = 16.0


def crop_8x8_box(height, width):
    """(y, x, h, w) of the original ``crop_8x8`` for an image of the given size."""
    h = (height // 32) * 32
    w = (width // 32) * 32
    while h > height - 16:
        h -= 32
    while w > width - 16:
        w -= 32
    return (height - h) // 2, (width - w) // 2, h, w


def crop_8x8(img):
    """The original's border crop of an HxW[xC] array; returns (crop, y, x)."""
    y, x, h, w = crop_8x8_box(img.shape[0], img.shape[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"image of size {img.shape[0]}x{img.shape[1]} is too small for crop_8x8 "
                         "(needs at least 48x48 pixels)")
    return img[y:y + h, x:x + w], y, x


def round_clip(img):
    """The original ``to_uint8(x, 0, 255)``: float32, rounded, clipped to [0, 255] (kept float)."""
    return np.clip(np.round(np.asarray(img).astype(np.float32)), 0, 255)


def rgb_to_y(img):
    """BT.601 studio-range luma (float64, not rounded) of an RGB image already in 0..255."""
    img = np.asarray(img)
    flat = img.reshape(-1, img.shape[-1])
    return (flat @ Y_COEFFS + Y_OFFSET).reshape(img.shape[:-1])


def luma(img):
    """Y of an RGB image after the original's rounding and clipping."""
    return rgb_to_y(round_clip(img))


def psnr_y(img_true, img_pred):
    """PSNR (dB) on Y between two RGB images in 0..255 (the target first)."""
    diff = luma(img_true) - luma(img_pred)
    rmse = np.sqrt(np.mean(np.power(diff, 2)))
    with np.errstate(divide="ignore"):
        return float(20 * np.log10(255.0 / rmse))


def ssim_y(img_true, img_pred):
    """SSIM on Y with the data range of the prediction (the target first)."""
    from skimage.metrics import structural_similarity  # imported lazily: slow to import

    y_true = luma(img_true)
    y_pred = luma(img_pred)
    return float(structural_similarity(y_true, y_pred, data_range=y_pred.max() - y_pred.min()))
