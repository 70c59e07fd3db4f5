"""``python3 -m metrics --output DIR --results a,b --targets c,d [--baseline_lr lr_a,lr_b]``.

The original ``metrics.py`` command line (comma lists, paired in order), plus the bicubic baseline
and switches of ours. User-fixable problems print one ``error: ...`` line and exit with status 2.
"""
import sys

from lib.errors import ArgumentParser, UserError, run_cli


def _split(text):
    return [p for p in (text or "").split(",") if p.strip()] if text else []


def parse_args(argv=None):
    from LPIPSmodels import MODES
    parser = ArgumentParser(
        prog="python3 -m metrics",
        description="TecoGAN metrics (PSNR-Y, SSIM-Y, LPIPS, tOF, tLP100) of result frame folders "
                    "against ground-truth folders, computed as the original metrics.py.")
    parser.add_argument("--output", required=True,
                        help="folder for metrics.csv, metricsfile.txt, the per-frame CSV, plots")
    parser.add_argument("--results", default="", help="comma list of result folders (may be "
                        "left out with --baseline_lr: then only the bicubic baseline is scored)")
    parser.add_argument("--targets", default="", help="comma list of ground-truth folders, "
                        "one per result folder, same order")
    parser.add_argument("--baseline_lr", default="", help="(ours) comma list of LR folders, one "
                        "per target: also score their legacy bicubic x4 as the 'bicubic' method")
    parser.add_argument("--lpips", choices=MODES, default="auto",
                        help="(ours) 'auto'/'tf': LPIPS and tLP in TensorFlow with the shipped "
                        "AlexNet weights (no download, no PyTorch); 'torch': the pip lpips "
                        "package on the same weights (cross-check); 'off': skip them")
    parser.add_argument("--device", default=None,
                        help="(ours) torch device for --lpips torch (default: cuda if available, "
                        "else cpu)")
    parser.add_argument("--verbose", action="store_true",
                        help="(ours) print every per-frame line (always in metricsfile.txt)")
    parser.add_argument("--no_progress", action="store_true", help="(ours) no progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    from metrics.evaluate import evaluate
    from metrics.output_guard import guarded_output

    args = parse_args(argv)
    results, targets = _split(args.results), _split(args.targets)
    baseline = _split(args.baseline_lr)
    if not results and not targets:
        raise UserError("give --results and --targets (comma lists of folders, paired in order)")
    # --targets with --baseline_lr but no --results: score the bicubic baseline only
    paired = (results, targets) if results or not baseline else ([], [])
    if args.device is not None and args.lpips != "torch":
        print(f"note: --device {args.device} is ignored: it picks the torch device of "
              f"--lpips torch, and this run uses --lpips {args.lpips}", flush=True)
    inputs = ([("--targets", f) for f in targets] + [("--results", f) for f in results]
              + [("--baseline_lr", f) for f in baseline])
    with guarded_output(args.output, "--output", inputs):
        return evaluate(*paired, args.output, baseline_lr=baseline or None,
                        baseline_targets=targets if baseline else None, lpips=args.lpips,
                        device=args.device, progress=not args.no_progress, verbose=args.verbose)


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
