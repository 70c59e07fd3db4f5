"""The held-out validation scenes of ``python3 -m metrics.validate``: found and checked before
TensorFlow loads, then read as HR targets and degraded to LR exactly as ``main.py --mode
inference --input_dir_HR`` does (``lib.io.frame_source``: OpenCV Gaussian blur sigma 1.5, every
4th pixel).

A validation folder holds one sub-folder per scene, each a sequence of HR frames of one size
(``col_high_%04d.png`` as dataPrepare writes them, or any frame names main.py accepts). Files
beside the scene folders (a README, a licence list) are ignored.
"""
import os
from dataclasses import dataclass

from lib.errors import UserError
from lib.io.frame_io import image_size, list_frames, read_image_rgb8
from lib.io.frame_source import open_source
from metrics.image_metrics import crop_8x8_box
from metrics.inputs import CUT_FRAMES, MIN_FRAMES


@dataclass
class ValScene:
    name: str
    folder: str
    hr_paths: list
    hr_size: tuple      # (width, height)
    lr_size: tuple


def find_scenes(val_dir):
    """Every scene folder of ``val_dir`` (sorted by name), checked: frames present, one size, at
    least MIN_FRAMES frames (the first and last CUT_FRAMES are not scored, as in the metrics),
    large enough for the metrics' border crop."""
    if not val_dir or not os.path.isdir(val_dir):
        raise UserError(f"--val_dir '{val_dir}' does not exist or is not a folder")
    folders = sorted(n for n in os.listdir(val_dir) if os.path.isdir(os.path.join(val_dir, n)))
    if not folders:
        raise UserError(f"--val_dir '{val_dir}' holds no scene folders (one sub-folder of HR "
                        "frames per scene)")
    return [check_scene(os.path.join(val_dir, name)) for name in folders]


def check_scene(folder):
    name = os.path.basename(os.path.normpath(folder))
    # open_source checks what inference checks (frames present, complete, one size, LR >= 8 px)
    source = open_source(None, folder, report=lambda _line: None)
    paths = list_frames(folder)
    if len(paths) < MIN_FRAMES:
        raise UserError(f"validation scene '{folder}' has {len(paths)} frames; it needs at least "
                        f"{MIN_FRAMES} (the first and last {CUT_FRAMES} are not scored)")
    width, height = image_size(paths[0])
    if min(crop_8x8_box(height, width)[2:]) <= 0:
        raise UserError(f"validation scene '{folder}' has {width}x{height} frames; the metrics' "
                        "border crop needs at least 48x48")
    return ValScene(name, folder, paths, (width, height), source.size)


def load_frames(scene):
    """(HR frames, LR frames) of a scene as RGB uint8 arrays, LR made as inference makes it."""
    source = open_source(None, scene.folder, report=lambda _line: None)
    lr_frames = [rgb for _name, rgb in source]
    hr_frames = [read_image_rgb8(path) for path in scene.hr_paths]
    return hr_frames, lr_frames
