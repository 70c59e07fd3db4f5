"""Where the training scenes are: ``--input_video_dir`` (``runGan.py 3|4 --train_data``), or the
``TECOGAN_TRAIN_DATA`` environment variable. Imports no TensorFlow (runGan.py checks it first)."""
import os

from lib.errors import UserError

TRAIN_DATA_ENV = "TECOGAN_TRAIN_DATA"


def frame_name(index):
    return f"col_high_{index:04d}.png"


def scene_dir(root, prefix, index):
    return os.path.join(root, f"{prefix}_{index:04d}")


def resolve_data_dir(path, option="--input_video_dir"):
    """``path`` (the value of ``option``), or ``$TECOGAN_TRAIN_DATA`` when it is empty."""
    path = path or os.environ.get(TRAIN_DATA_ENV, "")
    if not path:
        raise UserError(f"no training data: pass {option} DIR or set {TRAIN_DATA_ENV}=DIR; DIR "
                        "must hold scenes DIR/scene_2000/col_high_0000.png ... (made by "
                        "dataPrepare.py)")
    if not os.path.isdir(path):
        raise UserError(f"training data folder '{path}' does not exist")
    return path
