"""The numbered-mode runner of the original, kept thin: ``python3 runGan.py N [extra flags]``.

  0  download the official model and the test scenes (model/, LR/, HR/)
  1  inference: ./LR/calendar -> ./results/calendar with ./model/TecoGAN; without it, the model
     this project ships (model/shipped/) on its demo clip -> ./results/bigbuckbunny/
  2  evaluation: every ./results/<scene> against ./HR/<scene> -> ./results/metric_log/
  3  train TecoGAN (needs model/vgg_19.ckpt and an FRVSR start model; fetched when missing)
  4  train FRVSR (the pre-training stage, no discriminator)

Extra flags after N go to the program the mode runs (main.py for 1, 3, 4), so
``python3 runGan.py 1 --output_ext mp4`` works. Errors end with one line and a non-zero exit.
"""
import os
import subprocess
import sys

from lib.errors import UserError, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = {0: "download", 1: "inference", 2: "evaluation", 3: "train TecoGAN", 4: "train FRVSR"}


def call_main(args):
    """Run main.py as a child process (as the original did); Ctrl+C reaches the child too."""
    cmd = [sys.executable, os.path.join(HERE, "main.py")] + list(args)
    process = subprocess.Popen(cmd)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # The child got the same SIGINT from the terminal; let it save and finish.
        return process.wait()


def mode_download(extra):
    from lib.assets import main as download_main
    return download_main(extra)


def mode_inference(extra):
    checkpoint = "./model/TecoGAN"
    if not os.path.exists(checkpoint + ".index") and not _has_flag(extra, "checkpoint"):
        return mode_inference_shipped(extra)
    if not os.path.isdir("./LR/calendar") and not _has_flag(extra, "input_dir_LR") \
            and not _has_flag(extra, "input_dir_HR"):
        raise UserError("the test input ./LR/calendar is missing; fetch it with "
                        "'python3 runGan.py 0' (or pass --input_dir_LR PATH)")
    os.makedirs("./results/", exist_ok=True)
    args = ["--cudaID", "0", "--output_dir", "./results/", "--summary_dir", "./results/log/",
            "--mode", "inference", "--input_dir_LR", "./LR/calendar", "--output_pre", "calendar",
            "--num_resblock", "16", "--checkpoint", checkpoint, "--output_ext", "png"]
    return call_main(args + list(extra))


def mode_inference_shipped(extra):
    """No official model: the model this project trained (model/shipped/) on the shipped demo clip
    (or on --input_dir_LR/--input_dir_HR when given), then a bicubic | ours comparison image."""
    from lib import demo
    checkpoint = demo.shipped_checkpoint()
    blocks = demo.checkpoint_num_resblock(checkpoint)
    own_input = _has_flag(extra, "input_dir_LR") or _has_flag(extra, "input_dir_HR")
    shown = os.path.relpath(checkpoint, demo.REPO_ROOT)
    print(f"./model/TecoGAN (the official model) is not here: using the model trained by this "
          f"project, {shown} ({blocks} residual blocks; see model/README.md).\nFor the official "
          "model and the Vid4 scenes run 'python3 runGan.py 0' first.")
    name = "calendar" if own_input else demo.DEMO_NAME
    os.makedirs("./results/", exist_ok=True)
    args = ["--cudaID", "0", "--output_dir", "./results/", "--summary_dir", "./results/log/",
            "--mode", "inference", "--input_dir_LR", demo.DEMO_LR, "--output_pre", name,
            "--num_resblock", str(blocks), "--checkpoint", checkpoint, "--output_ext", "png"]
    status = call_main(args + list(extra))
    if status == 0 and not own_input and not _has_flag(extra, "output_ext") \
            and not _has_flag(extra, "output_pre") and not _has_flag(extra, "output_dir"):
        demo.write_comparison(demo.DEMO_LR, os.path.join("./results", name),
                              os.path.join("./results", f"{name}_bicubic_vs_ours.png"))
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


def mode_train(extra, tecogan):
    from lib.train_recipes import run_training_mode
    # main.py runs in its own process group; SIGINT/SIGTERM to runGan are forwarded exactly once,
    # so the child saves its last checkpoint before it exits.
    return run_training_mode(3 if tecogan else 4, extra)


def _has_flag(args, name):
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in args)


def main(argv):
    if len(argv) < 2 or argv[1] not in {str(k) for k in MODES}:
        lines = "\n".join(f"  {k}  {v}" for k, v in MODES.items())
        raise UserError(f"usage: python3 runGan.py N [flags], with N one of\n{lines}")
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
