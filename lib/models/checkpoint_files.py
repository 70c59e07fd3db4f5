"""Checkpoint file names, without TensorFlow (the inference checks run before it loads)."""
import os

# what users pass instead of the prefix: one of the bundle's files
CHECKPOINT_SUFFIXES = (".index", ".meta", ".data-00000-of-00001")


def checkpoint_prefix(path):
    """``path`` with ``~`` expanded and a bundle file's suffix removed: ``model/TecoGAN.index``
    and ``model/TecoGAN`` both give ``model/TecoGAN`` (a folder stays a folder)."""
    path = os.path.expanduser(path)
    for suffix in CHECKPOINT_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path
