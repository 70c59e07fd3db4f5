"""Finding, pairing and checking the frames to evaluate, with clear errors instead of tracebacks.

As the original: PNG files of each folder (names starting with "IB" excluded), sorted by the
original's digit rule, paired by index (result k with target k). All checks run before any metric
is computed, so a bad folder is reported at once:

* a missing folder, a folder without PNG frames (with a hint when it holds other images);
* different frame counts in a result/target pair (naming the frames that have no partner);
* fewer than 6 frames (the first and last two are skipped and tOF/tLP need two frames);
* files that are not PNG images, 16-bit PNGs (the metrics are defined on 8-bit images), PNGs cut
  short (a truncated copy: the file does not end with the IEND chunk);
* result frames smaller than their targets, or target frames whose size changes within the
  sequence (the original crashed with an empty-array or broadcast error). A result larger than
  its target is cropped at the top-left, as in the original.

Sizes and bit depths come from the PNG header (IHDR) and completeness from the last 12 bytes, so
checking costs no decoding.
"""
import os

import numpy as np

from lib.io import frame_io
from lib.errors import UserError
from lib.io.frame_io import decode_image_file, list_frames, to_rgb_uint8

CUT_FRAMES = 2          # the original's ``cutfr``: skipped at each end
MIN_FRAMES = 2 * CUT_FRAMES + 2
EXCLUDE_PREFIX = "IB"
_OTHER_IMAGES = (".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_pngs(folder, role):
    """Sorted PNG frames of ``folder``; ``role`` ('result', 'target', ...) goes into messages."""
    if not folder or not os.path.isdir(folder):
        raise UserError(f"{role} folder '{folder}' does not exist or is not a folder")
    # Frames are paired by sorted index: one that cannot be read (a symlink loop, a dangling
    # link) must be named itself, not left out to shift the pairing and blame another frame.
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.lower().endswith(".png") and not name.startswith(EXCLUDE_PREFIX):
            reason = frame_io.not_a_frame_reason(path)
            if reason is not None:
                raise UserError(f"{role} frame '{path}' cannot be read ({reason}); the metrics "
                                "pair frames by sorted index, so fix or remove it")
    try:
        return list_frames(folder, extensions=(".png",), exclude_prefix=EXCLUDE_PREFIX)
    except UserError:
        others = [n for n in os.listdir(folder) if n.lower().endswith(_OTHER_IMAGES)]
        hint = (f"; it holds {len(others)} other image files (e.g. '{sorted(others)[0]}'): the "
                "metrics read lossless PNG frames, as the original (run inference with "
                "--output_ext png)") if others else ""
        raise UserError(f"no PNG frames in {role} folder '{folder}'{hint}") from None


def png_header(path):
    """(height, width, bit_depth) from a PNG file's IHDR chunk; UserError if it is not a PNG."""
    width, height, depth, _ = frame_io.png_header(path)
    return height, width, depth


def read_frame(path):
    """Decode an 8-bit PNG frame as RGB uint8 (grey and RGBA converted as the original's imread)."""
    image = decode_image_file(path)
    if image is not None and image.dtype != np.uint8:
        raise UserError(f"'{path}' is a {8 * image.dtype.itemsize}-bit image; the metrics are "
                        "defined on 8-bit frames, convert it to 8 bit first")
    return to_rgb_uint8(image, path)


def _names(paths):
    return [os.path.basename(p) for p in paths]


def _short_list(items, limit=5):
    items = list(items)
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def frames_text(count, noun="frame"):
    """'1 frame', '5 frames'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def evaluated_indices(n_frames):
    """Indices of the evaluated frames: 2 .. N-3."""
    return list(range(CUT_FRAMES, n_frames - CUT_FRAMES))


def pair_frames(result_dir, target_dir):
    """Checked (result_paths, target_paths) of one folder pair, paired by sorted index."""
    results = list_pngs(result_dir, "result")
    targets = list_pngs(target_dir, "target")
    if len(results) != len(targets):
        n = min(len(results), len(targets))
        longer, role = (results, "result") if len(results) > len(targets) else (targets, "target")
        raise UserError(
            f"'{result_dir}' has {frames_text(len(results), 'PNG frame')} but '{target_dir}' "
            f"has {len(targets)}; "
            f"frames are paired by sorted index, so these {role} frames have no partner: "
            f"{_short_list(_names(longer[n:]))}")
    if len(targets) < MIN_FRAMES:
        raise UserError(
            f"'{target_dir}' has only {frames_text(len(targets))}; the metrics need at least "
            f"{MIN_FRAMES} "
            f"(the first and last {CUT_FRAMES} are skipped and tOF/tLP need two evaluated frames)")
    problems = []
    first_size = None
    for i in evaluated_indices(len(targets)):
        t_h, t_w, t_depth = png_header(targets[i])
        r_h, r_w, r_depth = png_header(results[i])
        for path, depth in ((targets[i], t_depth), (results[i], r_depth)):
            if depth > 8:
                raise UserError(f"'{path}' is a {depth}-bit PNG; the metrics are defined on 8-bit "
                                "frames, convert it to 8 bit first")
            # a cut-short frame would otherwise be found only when decoded, mid-run
            frame_io.check_png_complete(path)
        if first_size is None:
            first_size = (t_h, t_w)
        elif (t_h, t_w) != first_size:
            raise UserError(f"target frame '{targets[i]}' is {t_w}x{t_h} but the earlier target "
                            f"frames are {first_size[1]}x{first_size[0]}; all frames of a sequence "
                            "must have the same size")
        if r_h < t_h or r_w < t_w:
            problems.append(f"{os.path.basename(results[i])} ({r_w}x{r_h}) vs "
                            f"{os.path.basename(targets[i])} ({t_w}x{t_h})")
    if problems:
        raise UserError(
            f"result frames in '{result_dir}' are smaller than their targets in '{target_dir}' "
            f"(width x height; a result must be at least the target's size, a larger one is "
            f"cropped at the top-left): {_short_list(problems, 3)}")
    if first_size[0] < 48 or first_size[1] < 48:
        raise UserError(f"frames in '{target_dir}' are {first_size[1]}x{first_size[0]}; the "
                        "border crop of the metrics needs at least 48x48 pixels")
    return results, targets
