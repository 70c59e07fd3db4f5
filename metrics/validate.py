"""``python3 -m metrics.validate``: choose checkpoints and learning rates on held-out scenes.

    python3 -m metrics.validate --checkpoint model/shipped/FRVSR_ours \\
        --checkpoint model/shipped/TecoGAN_ours --val_dir /work/data/val --num_resblock 10
    python3 -m metrics.validate --run_dir runs/frvsr --val_dir /work/data/val --json val.json

Vid4 is the test set: looking at it while training turns it into a validation set. This scores
every checkpoint (each ``--checkpoint`` prefix, and every ``model-N`` and ``model_ema-N`` of each
``--run_dir``, sorted by N) on the scenes of ``--val_dir`` (one folder of HR frames per scene,
never trained on): each scene is degraded as ``main.py --mode inference --input_dir_HR``
degrades it, run through the recurrent inference, and scored with PSNR-Y, LPIPS and tOF as ``python3 -m metrics``
scores, and for a 4-pixel grid as ``python3 -m metrics.grid_phase`` measures it
(metrics/val_scoring.py). The bicubic baseline is scored once. Prints a compact table;
``--json`` writes the numbers. Bad input is one ``error:`` line and exit status 2, reported
before TensorFlow loads.
"""
import json
import os
import re
import sys

from lib.errors import ArgumentParser, UserError, run_cli

BICUBIC = "bicubic"
# per scene and mean, in the table and the JSON; "grid": the largest mean high-pass of a column or
# row phase x % 4 over the scored output frames, in grey levels (metrics/grid_phase.py; ground
# truth and bicubic about 0.1, a visible 4-pixel grid 1 or more)
METRICS = ("PSNR_Y", "LPIPS", "tOF", "grid")


def parse_args(argv=None):
    parser = ArgumentParser(prog="python3 -m metrics.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a checkpoint prefix (repeat the flag to compare several)")
    parser.add_argument("--run_dir", action="append", default=[],
                        help="a training run folder: every model-N and model_ema-N (--ema_decay) "
                        "in it, sorted by N")
    parser.add_argument("--val_dir", required=True,
                        help="folder with one sub-folder of HR frames per validation scene")
    parser.add_argument("--num_resblock", type=int, default=10,
                        help="residual blocks of the generator (10: FRVSR recipe, shipped models; "
                        "16: the released TecoGAN)")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--lpips", choices=("tf", "off"), default="tf",
                        help="'tf': LPIPS with the shipped AlexNet weights; 'off': skip it")
    return parser.parse_args(argv)


def run_checkpoints(run_dir):
    """The ``model-N`` and ``model_ema-N`` prefixes of a run folder, sorted by N (each
    ``model-N`` before its ``model_ema-N``)."""
    if not os.path.isdir(run_dir):
        raise UserError(f"--run_dir '{run_dir}' does not exist or is not a folder")
    found = sorted((int(m.group(2)), m.group(1) == "model_ema")
                   for m in (re.fullmatch(r"(model|model_ema)-(\d+)\.index", n)
                             for n in os.listdir(run_dir)) if m)
    if not found:
        raise UserError(f"--run_dir '{run_dir}' holds no model-N checkpoints (model-N.index)")
    return [os.path.join(run_dir, f"{'model_ema' if ema else 'model'}-{n}") for n, ema in found]


def list_checkpoints(args):
    from lib.infer.prepare import check_checkpoint_present, check_num_resblock
    from lib.models.checkpoint_files import checkpoint_prefix
    check_num_resblock(args.num_resblock)
    checkpoints = [checkpoint_prefix(c) for c in args.checkpoint]
    for run_dir in args.run_dir:
        checkpoints += run_checkpoints(run_dir)
    if not checkpoints:
        raise UserError("give --checkpoint PREFIX (repeatable) and/or --run_dir RUN_FOLDER")
    for checkpoint in checkpoints:
        check_checkpoint_present(checkpoint)
        if os.path.isdir(checkpoint):
            raise UserError(f"--checkpoint '{checkpoint}' is a folder; give a checkpoint prefix "
                            "(e.g. RUN/model-400), or the folder as --run_dir")
    return checkpoints


def check_json_path(path):
    from lib.io.output_plan import check_writable_folder
    if path is None:
        return
    if os.path.isdir(path):
        raise UserError(f"--json '{path}' is a folder; give a file name")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), "--json")


def evaluate_all(scenes, checkpoints, num_resblock, lpips_mode, log=print):
    """{"scenes": {name: frames}, "methods": [{"method", "scenes": {name: metrics}, "mean"}]}."""
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")     # before TensorFlow loads: no C++ notices
    import_tensorflow()
    from LPIPSmodels import load_lpips
    from metrics import val_scoring
    from metrics.val_scenes import load_frames

    lpips_metric, _ = load_lpips("tf" if lpips_mode == "tf" else "off")
    frames = {scene.name: load_frames(scene) for scene in scenes}   # (HR, LR) per scene
    results, runner = [], None
    for method in [BICUBIC] + checkpoints:
        if method == BICUBIC:
            make_outputs = val_scoring.bicubic_outputs
        elif runner is None:
            runner = val_scoring.CheckpointRunner(num_resblock, method)
            make_outputs = runner.super_resolve
        else:
            runner.load(method)
        per_scene = {name: val_scoring.score(hr, make_outputs(lr), lpips_metric)
                     for name, (hr, lr) in frames.items()}
        results.append({"method": method, "scenes": per_scene,
                        "mean": val_scoring.mean_over_scenes(per_scene)})
        log(f"scored {method}")
    return {"scenes": {name: len(hr) for name, (hr, _lr) in frames.items()}, "methods": results}


def table(result):
    """One block per metric: a row per method, a column per scene and the mean of scenes."""
    scenes = list(result["scenes"])
    width = max(len(m["method"]) for m in result["methods"]) + 2
    cols = [s[:12] for s in scenes] + ["mean"]
    lines = []
    for key in METRICS:
        if all(m["mean"][key] != m["mean"][key] for m in result["methods"]):
            continue                    # not computed (LPIPS with --lpips off)
        lines.append(f"{key:<{width}}" + "".join(f"{c:>13}" for c in cols))
        for m in result["methods"]:
            values = [m["scenes"][s][key] for s in scenes] + [m["mean"][key]]
            lines.append(f"{m['method']:<{width}}" + "".join(f"{v:>13.4f}" for v in values))
        lines.append("")
    return "\n".join(lines)


def no_nan(value):
    """``value`` with NaN (LPIPS with --lpips off) as null: strict JSON."""
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def main(argv=None):
    from metrics.val_scenes import find_scenes
    args = parse_args(argv)
    checkpoints = list_checkpoints(args)
    scenes = find_scenes(args.val_dir)
    check_json_path(args.json)
    print(f"{len(checkpoints)} checkpoint(s) on {len(scenes)} validation scene(s) of "
          f"'{args.val_dir}': " + ", ".join(f"{s.name} ({len(s.hr_paths)} frames "
                                           f"{s.hr_size[0]}x{s.hr_size[1]})" for s in scenes))
    sys.stdout.flush()
    result = evaluate_all(scenes, checkpoints, args.num_resblock, args.lpips)
    result["val_dir"], result["num_resblock"] = args.val_dir, args.num_resblock
    print(table(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(no_nan(result), handle, indent=1)
        print(f"numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
