"""Reading and writing frames: image folders (as the original) and video files (beyond it).

Frame order follows the original loader: names sorted alphabetically, then stably by the integer
made of all digits in the name (so 9999 comes before 10000). Names without digits, which made the
original raise, keep their alphabetical place (key -1, the same key the original gave to "0").

Images are validated instead of silently misread: 8-bit and 16-bit, grey, RGB and RGBA PNGs are
converted to RGB uint8-range floats; anything unreadable is a :class:`UserError` naming the file.
"""
import errno
import os
import re
import stat

import cv2
import numpy as np

from lib.errors import UserError
from lib.io import atomic

IMAGE_EXTENSIONS = (".png",)
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
PARTIAL_SUFFIX = ".partial"       # frames being written; renamed to the final name when complete

# OpenCV refuses to decode images above these limits (CV_IO_MAX_IMAGE_PIXELS/_WIDTH/_HEIGHT, which
# the environment variables below override); checking PNG headers against them up front names the
# file before any work is planned for it.
_OPENCV_LIMITS = (("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30), ("OPENCV_IO_MAX_IMAGE_WIDTH", 1 << 20),
                  ("OPENCV_IO_MAX_IMAGE_HEIGHT", 1 << 20))


def digit_sort_key(name):
    """The original key: int of all digits in the base name; 0 (or no digits) sorts first as -1."""
    digits = "".join(re.findall(r"\d", os.path.basename(name)))
    value = int(digits) if digits else 0
    return value if value != 0 else -1


def sort_frame_names(names):
    return sorted(sorted(names), key=digit_sort_key)


def not_a_frame_reason(path):
    """Why ``path`` cannot be a frame (dangling link, symlink loop, FIFO, folder...), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if os.path.islink(path):
            return "symlink loop" if err.errno == errno.ELOOP else "dangling link"
        return err.strerror or "unreadable"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    return "not a regular file"


def list_frames(folder, extensions=IMAGE_EXTENSIONS, exclude_prefix=None, report_skipped=None):
    """Sorted full paths of the frames in ``folder``; clear errors when missing or empty.

    Entries with a frame extension that are not regular files (dangling links, symlink loops,
    FIFOs, folders) are left out; ``report_skipped`` (e.g. ``print``) gets one line naming them.
    """
    if folder is None or not os.path.isdir(folder):
        raise UserError(f"input folder '{folder}' does not exist or is not a folder")
    names, skipped = [], []
    for name in os.listdir(folder):
        if not name.lower().endswith(tuple(extensions)):
            continue
        if exclude_prefix and name.startswith(exclude_prefix):
            continue
        reason = not_a_frame_reason(os.path.join(folder, name))
        if reason is None:
            names.append(name)
        else:
            skipped.append(f"{name} ({reason})")
    if skipped and report_skipped is not None:
        report_skipped(f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of "
                       f"'{folder}' that are not frames: {', '.join(sorted(skipped))}")
    if not names:
        raise UserError(f"no {'/'.join(extensions)} frames found in '{folder}'")
    return [os.path.join(folder, n) for n in sort_frame_names(names)]


def to_rgb_uint8(image, path="image"):
    """Convert an array read by OpenCV (BGR/BGRA/grey, 8 or 16 bit) to RGB uint8."""
    if image is None:
        raise UserError(f"cannot read image '{path}' (unreadable, truncated or not an image)")
    if image.dtype == np.uint16:
        # 16-bit PNGs: rescale to 8 bit with rounding (the original fed raw 0..65535 values, which
        # produced white frames; issue #44 of the original project).
        image = np.clip(np.round(image.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UserError(f"'{path}' has unsupported pixel type {image.dtype}; use 8- or 16-bit images")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        # Alpha is dropped, as the original did (colour kept as stored).
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        raise UserError(f"'{path}' has an unsupported shape {image.shape}")
    return np.ascontiguousarray(image)


def decode_image_file(path):
    """The image as OpenCV decodes it (any depth and channels), or None when it cannot."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}") from None
    if not data.size:
        return None
    try:
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as err:     # OpenCV's size limits raise instead of returning None
        message = str(err).strip().splitlines()[-1] if str(err).strip() else "cv2.error"
        raise UserError(f"cannot decode image '{path}': {message}") from None


def read_image_rgb8(path):
    """Read an image file as RGB uint8 HxWx3 (see :func:`to_rgb_uint8`)."""
    return to_rgb_uint8(decode_image_file(path), path)


def write_image_rgb8(path, rgb):
    """Write an RGB uint8 image; the format follows the extension (OpenCV defaults, as the original)."""
    ok = cv2.imwrite(path, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise UserError(f"cannot write image '{path}'")


def write_image_rgb8_atomic(path, rgb):
    """As :func:`write_image_rgb8` (the same bytes), but the file appears under its final name only
    when complete. The temporary has a unique name (:mod:`lib.io.atomic`) and is removed on any
    error (a full disk, Ctrl-C); only SIGKILL can leave one behind, never a half frame."""
    ext = os.path.splitext(path)[1]
    try:
        ok, encoded = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]))
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"cannot encode image '{path}' (extension '{ext}')")
    try:
        atomic.write_bytes(path, encoded.tobytes(), fsync=False)
    except OSError as err:
        if atomic.is_no_space(err):
            raise UserError(f"no space left on the device for '{path}'; free some space and "
                            "run the same command again (the frames written so far are whole)") \
                from None
        raise UserError(f"cannot write image '{path}': {err.strerror}") from None


def save_img_truncated(path, image01):
    """The original ``save_img``: x * 255, clip to [0, 255], truncate to uint8, RGB -> BGR."""
    write_image_rgb8(path, to_uint8_truncated(image01))


def to_uint8_truncated(image01):
    return np.clip(np.asarray(image01) * 255.0, 0, 255).astype(np.uint8)


def png_header(path):
    """(width, height, bit_depth, colour_type) from a PNG's IHDR without decoding the image."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(33)
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}") from None
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise UserError(f"'{path}' is not a PNG image (truncated or another format)")
    width = int.from_bytes(head[16:20], "big")
    height = int.from_bytes(head[20:24], "big")
    if width == 0 or height == 0:
        raise UserError(f"'{path}' is an empty PNG image (size {width}x{height})")
    check_decodable_size(path, width, height)
    return width, height, head[24], head[25]


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"    # the IEND chunk every complete PNG ends with


def check_png_complete(path):
    """UserError naming ``path`` when the PNG does not end with its IEND chunk (a truncated copy
    or download); reads 12 bytes, so a whole clip is checked before any work starts."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - len(PNG_END)))
            tail = handle.read()
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}") from None
    if tail != PNG_END:
        raise UserError(f"'{path}' is a truncated or corrupt PNG (it does not end with the IEND "
                        "chunk); copy or export it again")


def check_decodable_size(path, width, height):
    """UserError naming ``path`` when OpenCV would refuse to decode an image of this size."""
    limits = {}
    for name, default in _OPENCV_LIMITS:
        try:
            limits[name] = int(os.environ.get(name, default))
        except ValueError:
            limits[name] = default
    if (width * height > limits["OPENCV_IO_MAX_IMAGE_PIXELS"]
            or width > limits["OPENCV_IO_MAX_IMAGE_WIDTH"]
            or height > limits["OPENCV_IO_MAX_IMAGE_HEIGHT"]):
        raise UserError(f"'{path}' claims {width}x{height} pixels, more than OpenCV decodes "
                        f"({limits['OPENCV_IO_MAX_IMAGE_PIXELS']} pixels, "
                        f"{limits['OPENCV_IO_MAX_IMAGE_WIDTH']} per side; the "
                        "OPENCV_IO_MAX_IMAGE_* environment variables raise the limits)")


def image_size(path):
    """(width, height) of an image file, cheaply for PNG."""
    if path.lower().endswith(".png"):
        return png_header(path)[:2]
    image = read_image_rgb8(path)
    return image.shape[1], image.shape[0]


def check_same_size(paths):
    """Raise a UserError naming the first frame whose size differs from the first frame's."""
    first = image_size(paths[0])
    for path in paths[1:]:
        size = image_size(path)
        if size != first:
            raise UserError(f"frames must all have the same size: '{os.path.basename(paths[0])}' "
                            f"is {first[0]}x{first[1]} but '{os.path.basename(path)}' is "
                            f"{size[0]}x{size[1]}")
    return first
