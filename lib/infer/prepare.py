"""Every check of ``--mode inference`` that needs no TensorFlow, run before it is imported.

A wrong path, flag or frame is answered in well under a second (importing TensorFlow alone takes
several), and nothing is created or changed on disk until all of these checks have passed.
"""
import importlib.util
import os
from types import SimpleNamespace

from lib.errors import UserError
from lib.io.folder_lock import FolderLock
from lib.io.frame_source import open_source
from lib.io.output_plan import (VIDEO_OUTPUTS, OutputPlan, check_writable_folder, input_identity,
                                safe_subfolder)
from lib.logging_utils import log_file_problem
from lib.models.checkpoint_files import check_no_pattern, checkpoint_prefix

SHIPPED_HINT = ("fetch the official model with 'python3 runGan.py 0' (then --checkpoint "
                "./model/TecoGAN --num_resblock 16), or use the model shipped with this project: "
                "--checkpoint model/shipped/TecoGAN_ours --num_resblock 10")


def check_num_resblock(num_resblock):
    if num_resblock is None or int(num_resblock) < 1:
        raise UserError(f"--num_resblock must be at least 1 (16 for TecoGAN, 10 for FRVSR and "
                        f"the shipped models), not {num_resblock}")


def check_checkpoint_present(checkpoint):
    """The checkpoint's files exist (reading them needs TensorFlow and comes later)."""
    if not checkpoint:
        raise UserError(f"no --checkpoint given; {SHIPPED_HINT}")
    path = checkpoint_prefix(checkpoint)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "checkpoint")):
            raise UserError(f"checkpoint folder '{path}' holds no checkpoint (no 'checkpoint' "
                            f"file naming one); {SHIPPED_HINT}")
        return
    if not os.path.isfile(path + ".index"):
        raise UserError(f"checkpoint '{checkpoint}' not found (expected '{path}.index' and "
                        f"'{path}.data-00000-of-00001'); {SHIPPED_HINT}")


def check_tile(tile):
    if tile < -1:
        raise UserError(f"--tile must be a tile size in LR pixels, 0 (automatic) or -1 (never "
                        f"tile), not {tile}")
    return tile


def check_video_crf(output_ext, video_crf):
    """x264's CRF range, for a video output; else the encoder would refuse it at the first
    frame, after TensorFlow, the checkpoint and the warm-up (and the manifest written)."""
    if str(output_ext).lower().lstrip(".") in VIDEO_OUTPUTS and not 0 <= video_crf <= 51:
        raise UserError(f"--video_crf must be 0..51 (0 = lossless 4:4:4, 18 = the default, "
                        f"higher = smaller files), not {video_crf}")


def prepare_inference(config, report=print):
    """Check an :class:`lib.infer.config.InferenceConfig`: options, input, checkpoint and output
    locations; returns what the run needs (``source``, ``plan``, ``summary_dir``).

    ``report`` gets the one-line notes (skipped non-frame entries of the input folder).
    """
    if not config.output_dir:
        raise UserError("--output_dir is required")
    check_num_resblock(config.num_resblock)
    check_tile(config.tile)
    check_video_crf(config.output_ext, config.video_crf)
    image_dir = safe_subfolder(config.output_dir, config.output_pre)
    source = open_source(config.input_dir_LR, config.input_dir_HR, config.input_dir_len, report)
    check_checkpoint_present(config.checkpoint)
    summary_dir = config.summary_dir or os.path.join(config.output_dir, "log")
    check_writable_folder(config.output_dir, "--output_dir")
    check_writable_folder(image_dir, "--output_dir/--output_pre")
    check_writable_folder(summary_dir, "--summary_dir")
    problem = log_file_problem(summary_dir)     # else found after TensorFlow and the checkpoint
    if problem:
        raise UserError(problem)
    identity = input_identity(source, config.checkpoint, config.num_resblock)
    plan = OutputPlan(image_dir, config.output_name, config.output_ext, source, config.overwrite,
                      identity)
    FolderLock(image_dir, what="inference output folder").check_free()   # taken at the 1st frame
    return SimpleNamespace(source=source, plan=plan, summary_dir=summary_dir)


EXPORT_FORMATS = ("savedmodel", "tflite", "onnx")


def check_export_format(export_format):
    """A known --format, and its converter installed (tf2onnx for onnx; TFLite is part of TF)."""
    if export_format not in EXPORT_FORMATS:
        raise UserError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not "
                        f"'{export_format}'")
    if export_format == "onnx" and not all(importlib.util.find_spec(name)
                                           for name in ("tf2onnx", "onnx")):
        raise UserError("--format onnx needs the converter: pip install tf2onnx onnx "
                        "(versions that work: requirements-export.txt)")


def check_export_config(config):
    """Checks of an :class:`lib.infer.config.ExportConfig` that need no TensorFlow: block count,
    checkpoint files, a free output folder."""
    check_num_resblock(config.num_resblock)
    check_export_format(config.format)
    check_checkpoint_present(config.checkpoint)
    output_dir = config.output_dir
    if not output_dir:
        raise UserError("--output_dir is required: the folder the exported model is written to")
    if os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise UserError(f"--output_dir '{output_dir}' is a file; give a folder")
    if config.format == "savedmodel":
        # its variables are a checkpoint inside the folder, read by file pattern when loaded:
        # written fine, such a SavedModel could never be loaded
        check_no_pattern(output_dir, "--output_dir", "TensorFlow reads a SavedModel's "
                         "variables by file pattern, so the exported model could never be loaded")
    if os.path.isdir(output_dir) and os.listdir(output_dir) and not config.overwrite:
        raise UserError(f"--output_dir '{output_dir}' exists and is not empty; use "
                        "--overwrite to replace the files an export writes there (once the new "
                        "ones are complete; other files stay), or another folder")
    checkpoint = os.path.realpath(checkpoint_prefix(config.checkpoint))
    target = os.path.realpath(output_dir)
    if config.overwrite and (checkpoint == target or
                             checkpoint.startswith(target.rstrip(os.sep) + os.sep)):
        raise UserError(f"the checkpoint '{config.checkpoint}' lies inside --output_dir "
                        f"'{output_dir}'; export to another folder (--overwrite never replaces "
                        "files next to the checkpoint being exported)")
    check_writable_folder(os.path.dirname(os.path.abspath(output_dir)), "--output_dir")
