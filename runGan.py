"""The numbered-mode runner of the original, kept thin: ``python3 runGan.py N [extra flags]``.

``python3 runGan.py --help`` lists the modes and their flags (:data:`HELP`). Extra flags after N go
to the program the mode runs (main.py for 1, 3, 4), so ``python3 runGan.py 1 --output_ext mp4``
works. Errors end with one line and a non-zero exit.
"""
import os
import subprocess
import sys

# TensorFlow's C++ start-up lines (CPU features, XLA service...) mean nothing to users; set before
# any module imports TensorFlow, and inherited by the main.py child processes.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lib.errors import UserError, run_cli  # noqa: E402
from lib.project import REPO_ROOT, main_command  # noqa: E402
from lib.train.recipes import last_flag_value  # noqa: E402  (one parser of repeated flags)

MODES = {0: "download", 1: "inference", 2: "evaluation", 3: "train TecoGAN", 4: "train FRVSR"}
RESULTS = "./results"

HELP = """usage: python3 runGan.py N [flags]    (python3 runGan.py N --help: that mode's own help)

  0  download the official model and the test scenes: model/, LR/, HR/ (resumes, verifies)
       --parts model,vid4,tos|all   only some parts (default model,vid4,tos)
       --mirror URL|DIR             same file names from another server or a local folder
                                    (or set TECOGAN_MIRROR)
       --overwrite                  fetch again and replace files that differ from the archives
       --root DIR                   folder that receives model/, LR/, HR/ (default .)

  1  inference: ./LR/calendar -> ./results/calendar/ with ./model/TecoGAN (16 blocks); without
     the official model, the model this project ships (model/shipped/TecoGAN_ours, 10 blocks) on
     its demo clip -> ./results/bigbuckbunny/ + ./results/bigbuckbunny_bicubic_vs_ours.png
       any main.py inference flag (python3 main.py --help), e.g.
       --input_dir_LR PATH          your own frames folder or video -> ./results/<its name>/
       --input_dir_HR PATH          HR frames or video, degraded to LR first
       --output_ext png|jpg|mp4|mkv frames, or one video (H.264 4:2:0, the source's sound)
       --video_crf N                video quality: 18 default, 0 lossless 4:4:4
       --checkpoint P --num_resblock N   another model
       --tile N, --precision bf16|fp16, --nofast_path, --overwrite, --noprogress

  2  evaluation: every ./results/<scene> against ./HR/<scene> -> ./results/metric_log/
     (PSNR-Y, SSIM-Y, LPIPS, tOF, tLP100 as the original metric script; plus bicubic)
       --no_bicubic                 skip the bicubic x4 baseline of ./LR/<scene>
       --lpips auto|off             off skips LPIPS and tLP100
       --results_root DIR           default ./results
       --hr_root DIR                default ./HR
       --lr_root DIR                default ./LR (for the bicubic baseline)
       --output DIR                 default ./results/metric_log/

  3  train TecoGAN from an FRVSR model (the original's recipe: 16 blocks, VGG, ping-pong, D)
     -> ex_TecoGAN<date>/; fetches model/vgg_19.ckpt and model/ourFRVSR when missing
  4  train FRVSR (pre-training, 10 blocks, no discriminator) -> ex_FRVSR<date>/
     modes 3 and 4:
       --train_data DIR             training scenes DIR/scene_2000/... (or TECOGAN_TRAIN_DATA)
       --resume                     continue the newest ex_TecoGAN*/ (ex_FRVSR*/) run
       --run_dir DIR                run folder (resumed when it holds a checkpoint)
       --model_dir DIR              where vgg_19.ckpt and ourFRVSR are kept (default model)
       --mirror URL|DIR             fetch them from another server or folder
       any main.py training flag overrides the recipe, e.g. --max_iter 900000, --vgg_scaling -1

Also: python3 main.py --mode export ... writes a SavedModel of one recurrent step (README,
"Deploy"); python3 -m metrics ... runs the original metric script's command line.
"""


def call_main(args):
    """Run main.py as a child process (as the original did); Ctrl+C reaches the child too."""
    cmd = main_command(args)
    process = subprocess.Popen(cmd)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # The child got the same SIGINT from the terminal; let it save and finish.
        return process.wait()


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
    if not _has_flag(extra, "output_dir"):
        make_results_folder()
    args = ["--cudaID", "0", "--output_dir", "./results/", "--summary_dir", "./results/log/",
            "--mode", "inference", "--input_dir_LR", "./LR/calendar", "--output_pre",
            name or "calendar", "--num_resblock", "16", "--checkpoint", checkpoint,
            "--output_ext", "png"]
    return call_main(args + list(extra))


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
    if not _has_flag(extra, "output_dir"):
        make_results_folder()
    args = ["--cudaID", "0", "--output_dir", "./results/", "--summary_dir", "./results/log/",
            "--mode", "inference", "--input_dir_LR", demo.DEMO_LR, "--output_pre", name,
            "--num_resblock", str(blocks), "--checkpoint", checkpoint, "--output_ext", "png"]
    status = call_main(args + list(extra))
    if status == 0 and not own_input and not _has_flag(extra, "output_ext") \
            and not _has_flag(extra, "output_pre") and not _has_flag(extra, "output_dir"):
        demo.write_comparison(demo.DEMO_LR, os.path.join("./results", name),
                              os.path.join("./results", f"{name}_bicubic_vs_ours.png"),
                              label=f"ours (shipped {demo.DEFAULT_SHIPPED})", box=demo.DEMO_BOX,
                              gap=demo.DEMO_GAP)
    return status


def mode_metrics(extra):
    """Every ./results/<scene> against ./HR/<scene>, plus the bicubic baseline of ./LR/<scene>.

    Extra flags: --no_bicubic, --lpips off, --results_root/--hr_root/--lr_root/--output DIR.
    """
    import argparse
    from metrics.evaluate import run_mode2
    parser = argparse.ArgumentParser(prog="python3 runGan.py 2")
    parser.add_argument("--results_root", default="./results")
    parser.add_argument("--hr_root", default="./HR")
    parser.add_argument("--lr_root", default="./LR")
    parser.add_argument("--output", default="./results/metric_log/")
    parser.add_argument("--no_bicubic", action="store_true", help="skip the bicubic baseline")
    parser.add_argument("--lpips", choices=("auto", "tf", "torch", "off"), default="auto")
    args = parser.parse_args(extra)
    run_mode2(results_root=args.results_root, hr_root=args.hr_root, lr_root=args.lr_root,
              output=args.output, with_bicubic=not args.no_bicubic, lpips=args.lpips)
    return 0


def metrics_parser():
    import argparse
    parser = argparse.ArgumentParser(prog="python3 runGan.py 2")
    parser.add_argument("--results_root", default="./results")
    parser.add_argument("--hr_root", default="./HR")
    parser.add_argument("--lr_root", default="./LR")
    parser.add_argument("--output", default="./results/metric_log/")
    parser.add_argument("--no_bicubic", action="store_true", help="skip the bicubic baseline")
    parser.add_argument("--lpips", choices=("auto", "off"), default="auto")
    return parser


def mode_train(extra, tecogan):
    from lib.train.recipes import run_training_mode
    # main.py runs in its own process group; SIGINT/SIGTERM to runGan are forwarded exactly once,
    # so the child saves its last checkpoint before it exits.
    return run_training_mode(3 if tecogan else 4, extra)


def _has_flag(args, name):
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in args)


def main(argv):
    if len(argv) >= 2 and argv[1] in ("--help", "-h", "help", "-?"):
        print(HELP)
        return 0
    if len(argv) < 2 or argv[1] not in {str(k) for k in MODES}:
        lines = "\n".join(f"  {k}  {v}" for k, v in MODES.items())
        raise UserError(f"usage: python3 runGan.py N [flags], with N one of\n{lines}\n"
                        "('python3 runGan.py --help' describes each mode and its flags)")
    mode, extra = int(argv[1]), argv[2:]
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
