r"""A periodic grid in super-resolved frames: the mean high-pass per pixel phase.

Two stride-2 transposed convolutions make the generator's output periodic in 4 pixels when their
kernels are not balanced (the checkerboard artifact of transposed convolutions). Such a grid is
invisible in PSNR but shows as stripes in flat texture. This measures it directly:

* high-pass = grey minus its 9x9 box blur (edges reflected), in grey levels (full-range BT.601
  grey, 0.299 R + 0.587 G + 0.114 B, 0..255);
* for each column phase ``x mod 4`` (and row phase ``y mod 4``) the mean high-pass over the frame
  (and over all frames given).

A natural image, ground truth or bicubic, gives phase means near 0 (on Vid4 and the demo clip
within about +-0.12 levels); a model with a grid gives a consistent sign pattern, e.g. -1.18 and
+1.08 for columns 1 and 2.

    python3 -m metrics.grid_phase results/bigbuckbunny [more folders or frames] [--period 4]
"""
import argparse
import os
import sys

import numpy as np

if __package__ in (None, ""):      # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.errors import UserError, run_cli  # noqa: E402

BLUR = 9
PERIOD = 4
GREY = np.array([0.299, 0.587, 0.114])


def grey(frame):
    """Full-range grey levels (0..255, float64) of an RGB frame."""
    return np.asarray(frame, np.float64) @ GREY


def high_pass(image, size=BLUR):
    """``image`` (2-D) minus its ``size`` x ``size`` box blur (edges reflected), float64."""
    import cv2
    image = np.asarray(image, np.float64)
    return image - cv2.blur(image, (size, size), borderType=cv2.BORDER_REFLECT_101)


def phase_means(frames, period=PERIOD):
    """(column phase means, row phase means) of the high-pass of RGB uint8 ``frames``, in grey
    levels: element ``p`` is the mean over all pixels with ``x % period == p`` (``y`` for rows)."""
    columns = rows = None
    count = 0
    for frame in frames:
        height, width = np.shape(frame)[:2]
        # before anything of ``period`` elements is allocated: a --period of 10**12 is this
        # error, not a MemoryError
        if height < period or width < period:
            raise UserError(f"a frame of {width}x{height} is smaller than the period {period}")
        if columns is None:
            columns, rows = np.zeros(period), np.zeros(period)
        hp = high_pass(grey(frame))
        columns += [hp[:, p::period].mean() for p in range(period)]
        rows += [hp[p::period, :].mean() for p in range(period)]
        count += 1
    if count == 0:
        raise UserError("no frames to measure")
    return columns / count, rows / count


def largest_offset(frames, period=PERIOD):
    """The largest absolute phase mean over columns and rows (grey levels)."""
    return largest(*phase_means(frames, period))


def largest(columns, rows):
    """The largest absolute value of column and row phase means (or of their differences)."""
    return float(max(np.abs(columns).max(), np.abs(rows).max()))


def frame_files(paths):
    """The frame files of ``paths`` (folders of frames or single frames), all checked before the
    first is read."""
    from lib.io.frame_io import list_frames
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = list_frames(path)
            if not found:
                raise UserError(f"'{path}' holds no PNG or JPEG frames")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        elif os.path.exists(path):
            raise UserError(f"'{path}' is neither a frame file nor a folder of frames")
        else:
            raise UserError(f"'{path}' does not exist")
    return files


def _frames(files):
    from lib.io.frame_io import read_image_rgb8
    for name in files:
        yield read_image_rgb8(name)


def main(argv=None):
    from lib.errors import ArgumentParser
    parser = ArgumentParser(prog="python3 -m metrics.grid_phase",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="folders of frames or single frames")
    parser.add_argument("--period", type=int, default=PERIOD)
    args = parser.parse_args(argv)
    if args.period < 2:
        raise UserError(f"--period must be at least 2, got {args.period}")
    columns, rows = phase_means(_frames(frame_files(args.paths)), args.period)
    print("column phase means (grey levels): " + " ".join(f"{v:+.3f}" for v in columns))
    print("row phase means (grey levels):    " + " ".join(f"{v:+.3f}" for v in rows))
    print(f"largest offset: {max(np.abs(columns).max(), np.abs(rows).max()):.3f}")
    return 0


if __name__ == "__main__":
    run_cli(main)
