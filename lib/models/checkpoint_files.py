"""Checkpoint file names, without TensorFlow (the inference checks run before it loads)."""
import os

from lib.errors import UserError

# what users pass instead of the prefix: one of the bundle's files
CHECKPOINT_SUFFIXES = (".index", ".meta", ".data-00000-of-00001")


# TensorFlow's checkpoint reader matches the prefix as a file pattern: with one of these in a
# path it finds no files, and a healthy checkpoint would read as missing or damaged
PATTERN_CHARACTERS = "*?["


CHECKPOINT_PATTERN_WHY = ("TensorFlow reads checkpoint paths as file patterns, so it could not "
                          "find its checkpoints")


def check_no_pattern(path, what, why=CHECKPOINT_PATTERN_WHY):
    """UserError when ``path`` holds a character TensorFlow would read as a file pattern
    (``why`` says what would then fail)."""
    found = sorted({c for c in str(path) if c in PATTERN_CHARACTERS})
    if found:
        raise UserError(f"{what} '{path}' holds {' '.join(found)}: {why}; rename the folder (or "
                        "the file) without * ? [")


def checkpoint_prefix(path):
    """``path`` with ``~`` expanded and a bundle file's suffix removed: ``model/TecoGAN.index``
    and ``model/TecoGAN`` both give ``model/TecoGAN`` (a folder stays a folder)."""
    path = os.path.expanduser(path)
    for suffix in CHECKPOINT_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path
