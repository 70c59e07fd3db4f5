"""The model and demo clip this project ships, so ``python3 runGan.py 1`` works offline.

When the official ``./model/TecoGAN`` is absent, mode 1 super-resolves the shipped demo clip
(``resources/demo/bigbuckbunny_LR``, Big Buck Bunny frames 120..131, CC-BY 3.0 Blender Foundation)
with the model trained by this project (``model/shipped/``, official TF1 variable names; see
``model/README.md``) and writes ``results/<clip>/`` plus a side-by-side image bicubic | ours.
"""
import os

import cv2
import numpy as np

from lib.errors import UserError
from lib.io.frame_io import list_frames, read_image_rgb8, write_image_rgb8
from lib.project import REPO_ROOT, import_tensorflow

SHIPPED_DIR = os.path.join(REPO_ROOT, "model", "shipped")
SHIPPED_MODELS = {"TecoGAN": os.path.join(SHIPPED_DIR, "TecoGAN_ours"),
                  "FRVSR": os.path.join(SHIPPED_DIR, "FRVSR_ours")}
# Residual blocks of the shipped generators, so runGan.py need not import TensorFlow to read them
# from the checkpoint (tests/cli/test_rungan_cli.py checks them against the files).
SHIPPED_BLOCKS = {"TecoGAN": 10, "FRVSR": 10}
# Shipped models that also hold the discriminator they were trained against, so that
# --pre_trained_model --checkpoint model/shipped/<name> continues the GAN (model/README.md);
# inference reads only the generator and FNet.
SHIPPED_WITH_DISCRIMINATOR = {"TecoGAN": True, "FRVSR": False}
DEFAULT_SHIPPED = "TecoGAN"
# The README figure resources/demo_bicubic_vs_ours.png is this function's output for the demo
# clip (python3 runGan.py 1, then copy results/bigbuckbunny_bicubic_vs_ours.png).
README_FIGURE = os.path.join(REPO_ROOT, "resources", "demo_bicubic_vs_ours.png")
DEMO_LR = os.path.join(REPO_ROOT, "resources", "demo", "bigbuckbunny_LR")
DEMO_NAME = "bigbuckbunny"
# The detail shown side by side for the demo clip: (top, left, height, width) in HR pixels of the
# middle frame (fur and grass against the soft background), 4 white columns between the panels.
DEMO_BOX = (150, 420, 300, 400)
DEMO_GAP = 4


def shipped_checkpoint(kind=DEFAULT_SHIPPED):
    """Prefix of a shipped model; a clear error if this checkout lacks it."""
    prefix = SHIPPED_MODELS[kind]
    if not os.path.isfile(prefix + ".index"):
        raise UserError(f"the shipped model '{prefix}' is missing from this checkout (expected "
                        f"'{prefix}.index' and '.data-00000-of-00001'); restore it with 'git "
                        "checkout -- model/shipped' or fetch the official one with "
                        "'python3 runGan.py 0'")
    return prefix


def checkpoint_num_resblock(prefix):
    """The generator's residual block count stored in a checkpoint (the --num_resblock it needs)."""
    from lib.infer.prepare import check_checkpoint_present
    check_checkpoint_present(prefix)    # missing: main.py's message (the shipped model, mode 0)
    # imports TensorFlow: only when asked (runGan.py imports this module and must stay TF-free)
    import_tensorflow()
    from lib.models.checkpoint import checkpoint_resblocks, open_checkpoint
    prefix, _, shapes = open_checkpoint(prefix)
    blocks = checkpoint_resblocks(shapes)
    if not blocks:
        raise UserError(f"checkpoint '{prefix}' holds no generator residual blocks")
    return blocks


def bicubic_x4(lr_rgb8):
    """The legacy TF1 bicubic x4 the metrics use as baseline (saved as inference saves)."""
    import_tensorflow()                           # only when the figure is made
    from lib.infer.bicubic import bicubic_frame
    return bicubic_frame(lr_rgb8)


def _label_font(panel_width):
    """(scale, thickness) of the label font for a panel ``panel_width`` pixels wide."""
    scale = max(0.6, panel_width / 900.0)
    return scale, max(1, int(round(2 * scale)))


def label_box(text, panel_width):
    """(height, width) of the dark box :func:`label_panel` puts in the top-left corner.

    It depends on OpenCV's font metrics only, not on how the glyphs are rasterised (which changed
    in OpenCV 5.1), so tests can check the layout exactly and the glyphs within a tolerance."""
    scale, thickness = _label_font(panel_width)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = int(8 * scale)
    return h + base + 2 * pad, w + 2 * pad


def label_panel(panel, text):
    """Write ``text`` in the top-left corner, white on a dark box, readable at any size."""
    scale, thickness = _label_font(panel.shape[1])
    box_h, box_w = label_box(text, panel.shape[1])
    pad = int(8 * scale)
    panel[:box_h, :box_w] //= 3
    (_, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.putText(panel, text, (pad, h + pad), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                thickness, cv2.LINE_AA)
    return panel


def centre_crop(image, height, width):
    top = max(0, (image.shape[0] - height) // 2)
    left = max(0, (image.shape[1] - width) // 2)
    return image[top:top + height, left:left + width]


def side_by_side(lr_rgb8, sr_rgb8, labels=("bicubic", "ours"), crop_fraction=0.5, box=None,
                 gap=None):
    """One RGB image: the bicubic x4 of ``lr_rgb8`` next to ``sr_rgb8`` (same crop).

    ``box`` = (top, left, height, width) picks the crop; without it the centre ``crop_fraction``
    of the width (full height) is kept, so the details are visible at page width.
    """
    bicubic = bicubic_x4(lr_rgb8)
    if bicubic.shape != sr_rgb8.shape:
        raise UserError(f"the result frame is {sr_rgb8.shape[1]}x{sr_rgb8.shape[0]}, not 4x the "
                        f"LR frame ({lr_rgb8.shape[1]}x{lr_rgb8.shape[0]})")
    height, width = sr_rgb8.shape[:2]
    if box is not None and box[0] + box[2] <= height and box[1] + box[3] <= width:
        top, left, crop_h, crop_w = box
        crops = [img[top:top + crop_h, left:left + crop_w] for img in (bicubic, sr_rgb8)]
    else:
        crop_h, crop_w = height, max(1, int(width * crop_fraction))
        crops = [centre_crop(img, crop_h, crop_w) for img in (bicubic, sr_rgb8)]
    panels = [label_panel(np.ascontiguousarray(crop), text) for crop, text in zip(crops, labels)]
    gap = np.full((crop_h, gap or max(2, width // 200), 3), 255, np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=1)


def write_comparison(lr_dir, result_dir, out_path, log=print, label="ours", box=None, gap=None):
    """Side-by-side image for the middle frame of a finished run; returns ``out_path``.

    For the demo clip runGan.py passes :data:`DEMO_BOX` and :data:`DEMO_GAP`; the README figure
    is that output."""
    lrs = list_frames(lr_dir)
    results = list_frames(result_dir)
    if not lrs or len(lrs) != len(results):
        raise UserError(f"cannot pair '{lr_dir}' ({len(lrs)} frames) with '{result_dir}' "
                        f"({len(results)} frames) for the comparison image")
    middle = len(lrs) // 2
    image = side_by_side(read_image_rgb8(lrs[middle]), read_image_rgb8(results[middle]),
                         labels=("bicubic", label), box=box, gap=gap)
    write_image_rgb8(out_path, image)
    log(f"comparison (bicubic | {label}) of {os.path.basename(results[middle])}: {out_path}")
    return out_path
