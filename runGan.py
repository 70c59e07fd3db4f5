"""The numbered-mode runner of the original, kept thin: ``python3 runGan.py N [extra flags]``.

``python3 runGan.py --help`` lists the modes and their flags (``lib.rungan.HELP``), ``runGan.py N
--help`` one mode's. Extra flags after N go to the program the mode runs (main.py for 1, 3, 4), so
``python3 runGan.py 1 --output_ext mp4`` works; they are checked first (``lib/rungan.py``): a flag
the mode does not take is one ``error:`` line, exit status 2, and nothing runs.
"""
import os
import sys

# TensorFlow's C++ start-up lines (CPU features, XLA service...) mean nothing to users; set before
# any module imports TensorFlow, and inherited by the main.py child processes.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lib.errors import UserError, run_cli  # noqa: E402
from lib.project import REPO_ROOT, run_main_forwarding_signals  # noqa: E402
from lib.rungan import (HELP, HELP_ARGS, MODES, check_mode_args, mode_help,  # noqa: E402,F401
                        parse_mode, wants_help)
from lib.train.recipes import last_flag_value  # noqa: E402  (one parser of repeated flags)

RESULTS = "./results"


def call_main(args):
    """Run main.py as a child process (as the original did) and return its exit status.

    SIGINT and SIGTERM to this runner reach the child exactly once
    (:func:`lib.project.run_main_forwarding_signals`, as for training): a Ctrl+C at the terminal,
    a ``kill`` of this runner or of its process group all stop it the same way (it finishes its
    frame, releases the output folder and exits with 130)."""
    return run_main_forwarding_signals(args, "it stops after the current frame")


def mode_download(extra):
    from lib.io.assets import main as download_main
    return download_main(extra)


def make_results_folder():
    """./results, created if needed; a clear error when something else has that name."""
    if os.path.lexists(RESULTS) and not os.path.isdir(RESULTS):
        raise UserError(f"'{RESULTS}' exists but is not a folder; move it away (mode 1 writes its "
                        "outputs there) or pass --output_dir DIR")
    try:
        os.makedirs(RESULTS, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create '{RESULTS}': {err.strerror}") from None


def own_input_name(extra):
    """The name of the user's --input_dir_LR/--input_dir_HR (a video without its extension), so
    their outputs go to ./results/<name>/ instead of ./results/calendar/; None without one."""
    path = last_flag_value(extra, "input_dir_LR") or last_flag_value(extra, "input_dir_HR")
    if not path:
        return None
    from lib.io.frame_io import VIDEO_EXTENSIONS
    base = os.path.basename(os.path.normpath(path))
    stem, ext = os.path.splitext(base)
    is_file = os.path.isfile(path) or ext.lower() in VIDEO_EXTENSIONS
    return (stem if ext and is_file else base) or "results"


def mode_inference(extra):
    checkpoint = "./model/TecoGAN"
    if not os.path.exists(checkpoint + ".index") and not _has_flag(extra, "checkpoint"):
        return mode_inference_shipped(extra)
    name = own_input_name(extra)
    if not os.path.isdir("./LR/calendar") and name is None:
        raise UserError("the test input ./LR/calendar is missing; fetch it with "
                        "'python3 runGan.py 0' (or pass --input_dir_LR PATH)")
    blocks = 16
    if _has_flag(extra, "checkpoint") and not _has_flag(extra, "num_resblock"):
        from lib.infer import demo
        given = last_flag_value(extra, "checkpoint")
        blocks = demo.checkpoint_num_resblock(given)
        print(f"--num_resblock {blocks} (read from the checkpoint {given})")
    args = inference_args(extra, "./LR/calendar", name or "calendar", blocks, checkpoint)
    return call_main(args)


def inference_args(extra, input_lr, name, blocks, checkpoint):
    """main.py's arguments for mode 1: the original's defaults, each only where the user gave no
    value of their own, then the user's flags."""
    defaults = [("cudaID", "0"), ("output_dir", "./results/"), ("summary_dir", "./results/log/"),
                ("mode", "inference"), ("input_dir_LR", input_lr), ("output_pre", name),
                ("num_resblock", str(blocks)), ("checkpoint", checkpoint), ("output_ext", "png")]
    skip = {flag for flag, _ in defaults if _has_flag(extra, flag)}
    if _has_flag(extra, "input_dir_HR"):
        skip.add("input_dir_LR")     # main.py prefers an LR input: the default would win
    if "output_dir" in skip:
        skip.add("summary_dir")      # the logs go with the outputs (main.py: <output_dir>/log)
    else:
        make_results_folder()
    args = [a for flag, value in defaults if flag not in skip for a in (f"--{flag}", value)]
    return args + list(extra)


def mode_inference_shipped(extra):
    """No official model: the model this project trained (model/shipped/) on the shipped demo clip
    (or on --input_dir_LR/--input_dir_HR when given), then a bicubic | ours comparison image."""
    from lib.infer import demo
    checkpoint = demo.shipped_checkpoint()
    blocks = demo.SHIPPED_BLOCKS[demo.DEFAULT_SHIPPED]   # known: no TensorFlow import here
    own_name = own_input_name(extra)
    own_input = own_name is not None
    shown = os.path.relpath(checkpoint, REPO_ROOT)
    print(f"./model/TecoGAN (the official model) is not here: using the model trained by this "
          f"project, {shown} ({blocks} residual blocks; see model/README.md).\nFor the official "
          "model and the Vid4 scenes run 'python3 runGan.py 0' first.")
    name = own_name if own_input else demo.DEMO_NAME
    status = call_main(inference_args(extra, demo.DEMO_LR, name, blocks, checkpoint))
    if status == 0 and not own_input and not _has_flag(extra, "output_ext") \
            and not _has_flag(extra, "output_pre") and not _has_flag(extra, "output_dir"):
        demo.write_comparison(demo.DEMO_LR, os.path.join("./results", name),
                              os.path.join("./results", f"{name}_bicubic_vs_ours.png"),
                              label=f"ours (shipped {demo.DEFAULT_SHIPPED})", box=demo.DEMO_BOX,
                              gap=demo.DEMO_GAP)
    return status


def mode_metrics(extra):
    """Every ./results/<scene> against ./HR/<scene>, plus the bicubic baseline of ./LR/<scene>.

    Extra flags: --no_bicubic, --lpips, --results_root/--hr_root/--lr_root/--output DIR.
    """
    from metrics.evaluate import mode2_main
    mode2_main(extra)
    return 0


def metrics_parser():
    """Mode 2's one parser (metrics.evaluate.mode2_parser)."""
    from metrics.evaluate import mode2_parser
    return mode2_parser()


def mode_train(extra, tecogan):
    from lib.train.recipes import run_training_mode
    # main.py runs in its own process group; SIGINT/SIGTERM to runGan are forwarded exactly once,
    # so the child saves its last checkpoint before it exits.
    return run_training_mode(3 if tecogan else 4, extra)


def _has_flag(args, name):
    """Whether ``args`` give ``--name`` (or ``--name=V``). ``main`` has spelled every flag
    ``--name`` (lib.flags.check_args), ``-name`` included, which absl takes too; only values
    may still start with one dash, and they must not count as flags."""
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in args)


def main(argv):
    if len(argv) >= 2 and argv[1] in HELP_ARGS + ("help",):
        print(HELP)
        return 0
    mode, extra = parse_mode(argv)
    if wants_help(extra):
        print(mode_help(mode))          # and nothing runs
        return 0
    extra = check_mode_args(mode, extra)     # every flag spelled --name from here on
    print(f"Testing test case {mode}")
    if mode == 0:
        status = mode_download(extra)
    elif mode == 1:
        status = mode_inference(extra)
    elif mode == 2:
        status = mode_metrics(extra)
    else:
        status = mode_train(extra, tecogan=(mode == 3))
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv))
