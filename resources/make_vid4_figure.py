"""The README figures ``resources/vid4_shipped.png`` and ``resources/vid4_temporal_profiles.png``.

The first: Vid4 crops of bicubic, our shipped FRVSR and TecoGAN models, and the ground truth, side
by side (one row per scene). The second: temporal profiles as the paper shows them, for the same
methods: one pixel row (through the middle of each crop) taken from every frame and stacked over
time (top = first frame), so flicker shows as horizontal streaks and detail that moves coherently
as smooth slanted lines.

    python3 resources/make_vid4_figure.py --lr_root ../shared/data/Vid4/LR \\
        --hr_root ../shared/data/Vid4/GT --results FRVSR=eval_vid4/FRVSR_ours \\
        --results TecoGAN=eval_vid4/TecoGAN_ours

Each results folder holds ``<scene>/output_*.png`` as ``runGan.py 1`` / main.py write them.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # before TensorFlow loads: no C++ notices

from lib.infer.demo import bicubic_x4, label_panel                           # noqa: E402
from lib.errors import ArgumentParser, UserError, run_cli                   # noqa: E402
from lib.io.frame_io import (list_frames, read_image_rgb8,                  # noqa: E402
                             write_image_rgb8_atomic)
from lib.io.output_paths import check_output_file                           # noqa: E402

# (scene, frame index, top, left) of a 160x160 HR crop with fine detail in each scene
CROPS = [("calendar", 20, 250, 300), ("city", 20, 200, 250), ("foliage", 20, 180, 300),
         ("walk", 20, 150, 330)]
SIZE = 160
PROFILE_STRETCH = 3     # each frame's row drawn 3 px high, so 40-odd frames make a visible panel


def crop(image, top, left):
    return np.ascontiguousarray(image[top:top + SIZE, left:left + SIZE])


def frame(folder, index):
    frames = list_frames(folder)
    if index >= len(frames):
        raise UserError(f"'{folder}' has {len(frames)} frames; the figure uses frame {index}")
    return read_image_rgb8(frames[index])


def parse_results(entries):
    """``--results NAME=DIR`` entries as (name, folder) pairs; one error line for a bad one."""
    if not entries:
        raise UserError("give at least one --results NAME=DIR")
    methods = []
    for entry in entries:
        name, sep, folder = entry.partition("=")
        if not sep or not name or not folder:
            raise UserError(f"--results '{entry}' is not NAME=DIR (e.g. "
                            "TecoGAN=eval_vid4/TecoGAN_ours)")
        methods.append((name, folder))
    return methods


def main(argv):
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr_root", required=True)
    parser.add_argument("--hr_root", required=True)
    parser.add_argument("--results", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--output", default=os.path.join(HERE, "vid4_shipped.png"))
    parser.add_argument("--profile_output",
                        default=os.path.join(HERE, "vid4_temporal_profiles.png"))
    args = parser.parse_args(argv[1:])
    methods = parse_results(args.results)
    # the figures replace the README's (that is what this script is for), but a folder, a missing
    # folder or an unwritable place is said now, not after every frame has been read
    check_output_file(args.output, "--output", overwrite=True)
    check_output_file(args.profile_output, "--profile_output", overwrite=True)
    rows = []
    for scene, index, top, left in CROPS:
        lr = frame(os.path.join(args.lr_root, scene), index)
        gt = frame(os.path.join(args.hr_root, scene), index)
        panels = [("bicubic", bicubic_x4(lr))]
        for name, folder in methods:
            panels.append((f"ours {name}", frame(os.path.join(folder, scene), index)))
        panels.append(("ground truth", gt))
        row = []
        for label, image in panels:
            row.append(label_panel(crop(image, top, left), label))
            row.append(np.full((SIZE, 4, 3), 255, np.uint8))
        rows.append(np.concatenate(row[:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    write_image_rgb8_atomic(args.output, np.concatenate(rows[:-1], axis=0))
    print(f"wrote {args.output}")
    profiles = temporal_profile_rows(args, methods)
    write_image_rgb8_atomic(args.profile_output, profiles)
    print(f"wrote {args.profile_output}")
    return 0


def profile(frames, top, left, stretch=PROFILE_STRETCH):
    """Row ``top + SIZE // 2`` of each frame, columns left .. left + SIZE, stacked over time."""
    y = top + SIZE // 2
    lines = [image[y, left:left + SIZE] for image in frames]
    return np.repeat(np.stack(lines, axis=0), stretch, axis=0)


def all_frames(folder, count=None):
    frames = list_frames(folder)
    if count is not None and len(frames) != count:
        raise UserError(f"'{folder}' has {len(frames)} frames, the ground truth {count}")
    return [read_image_rgb8(f) for f in frames]


def temporal_profile_rows(args, methods):
    rows = []
    for scene, _, top, left in CROPS:
        gt = all_frames(os.path.join(args.hr_root, scene))
        lr = all_frames(os.path.join(args.lr_root, scene), len(gt))
        panels = [("bicubic", profile([bicubic_x4(f) for f in lr], top, left))]
        for name, folder in methods:
            panels.append((f"ours {name}",
                           profile(all_frames(os.path.join(folder, scene), len(gt)), top, left)))
        panels.append((f"GT {scene}", profile(gt, top, left)))
        row = []
        for label, image in panels:
            row.append(label_panel(np.ascontiguousarray(image), label))
            row.append(np.full((image.shape[0], 4, 3), 255, np.uint8))
        rows.append(np.concatenate(row[:-1], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv))
