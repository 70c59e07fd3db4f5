"""Comparing labelled figures (lib/infer/demo.label_panel) across OpenCV versions.

OpenCV rasterises its Hershey glyphs differently from one version to the next (5.0 to 5.1 moved
anti-aliased edge pixels by up to 247 levels), while the font metrics, and so the dark label boxes,
stayed the same. So a figure is compared in two parts:

* everything outside the label boxes (the image panels, the gap, the boxes' extent): exactly, or
  within ``atol`` levels;
* inside each label box, the white glyphs: their top-left corner within one pixel, their right
  and bottom edges within ``EXTENT_TOLERANCE`` of the box's size, and their total ink within
  ``INK_TOLERANCE``. Measured between OpenCV 5.0 and 5.1 on the demo figure: "ours (shipped
  TecoGAN)" got 7 px (3.4 % of its 208 px box) wider, with spaces and parentheses drawn at other
  positions; the ink changed by 0.5 % ("bicubic": 0.6 %). Another word changes the box's size or
  the ink by far more (tested in tests/cli/test_rungan_cli.py).
"""
import numpy as np

from lib.infer.demo import label_box

EXTENT_TOLERANCE = 0.05
INK_TOLERANCE = 0.05
INK = 200     # a glyph pixel: every channel above this (the box behind is the image // 3 <= 85)
BOX_LEVEL = 85  # the darkened background's brightest value (255 // 3)


def _ink_rectangle(box):
    ys, xs = np.nonzero(box.min(axis=2) > INK)
    if ys.size == 0:
        return None
    return ys.min(), ys.max(), xs.min(), xs.max()


def _ink(box):
    """Total brightness of the glyphs above the darkened background."""
    return float(np.clip(box.min(axis=2) - BOX_LEVEL, 0, None).sum())


def labelled_figure_differences(made, reference, panels, atol=0):
    """List of human-readable differences (empty when the figures match).

    ``panels``: (left column, panel width, label text) for each labelled panel."""
    problems = []
    if made.shape != reference.shape:
        return [f"shape {made.shape} != {reference.shape}"]
    outside = np.ones(made.shape[:2], bool)
    for left, width, text in panels:
        box_h, box_w = label_box(text, width)
        outside[:box_h, left:left + box_w] = False
        ours = made[:box_h, left:left + box_w].astype(np.float64)
        theirs = reference[:box_h, left:left + box_w].astype(np.float64)
        rect_ours, rect_theirs = _ink_rectangle(ours), _ink_rectangle(theirs)
        if rect_ours is None or rect_theirs is None:
            problems.append(f"label '{text}': no glyphs ({rect_ours}, {rect_theirs})")
            continue
        top_left_off = max(abs(rect_ours[0] - rect_theirs[0]), abs(rect_ours[2] - rect_theirs[2]))
        bottom_off = abs(rect_ours[1] - rect_theirs[1]) / box_h
        right_off = abs(rect_ours[3] - rect_theirs[3]) / box_w
        if top_left_off > 1 or max(bottom_off, right_off) > EXTENT_TOLERANCE:
            problems.append(f"label '{text}': glyphs cover {rect_ours}, expected {rect_theirs}")
        ink_ours, ink_theirs = _ink(ours), _ink(theirs)
        if abs(ink_ours - ink_theirs) > INK_TOLERANCE * ink_theirs:
            problems.append(f"label '{text}': glyph ink {ink_ours:.0f}, expected {ink_theirs:.0f}")
    diff = np.abs(made.astype(int) - reference.astype(int)).max(axis=2)
    if diff[outside].max(initial=0) > atol:
        ys, xs = np.nonzero((diff > atol) & outside)
        problems.append(f"{ys.size} pixels outside the labels differ by more than {atol} "
                        f"(max {diff[outside].max()}, first at y={ys[0]}, x={xs[0]})")
    return problems
