"""``python3 -m metrics.tof_split``: where a model's tOF comes from, split by how textured the
target is there.

    python3 -m metrics.tof_split --checkpoint model/shipped/FRVSR_ours \\
        --checkpoint model/shipped/TecoGAN_ours --val_dir /work/data/val

tOF (metrics/temporal.py) is the mean over pixels of |F(output pair) - F(target pair)|, F the
Farneback flow. Farneback follows texture, so the same number can mean two different things: the
output flickers (its texture does not move with the content), or the output's texture is not the
target's (a flow estimated on other texture differs even when both move exactly alike; in a flat
target region, where the target's flow is unreliable, even correct moving detail counts). This
splits each scene's tOF by the target's local texture, the standard deviation of its grey levels
in a 9x9 window around each pixel of the current frame, into bins of ``TEXTURE_EDGES`` grey
levels. Per bin: ``share`` of the scored pixels, ``tOF`` contribution (the bins' contributions add
up to the scene's tOF exactly as ``python3 -m metrics.validate`` scores it) and ``tOF in bin``
(the contribution divided by the share: the mean flow difference of those pixels).

Same frames, pairs, crop and inference as ``metrics.validate`` (metrics/val_scoring.py); the
bicubic baseline is scored first. Bad input is one ``error:`` line and exit status 2.
"""
import json
import os
import sys

import numpy as np

from lib.errors import ArgumentParser, UserError, run_cli

TEXTURE_EDGES = (2.0, 4.0, 8.0, 16.0)   # grey levels: the bins' inner edges
TEXTURE_WINDOW = 9


def local_texture(grey_frame):
    """Per pixel: standard deviation of the grey levels in a 9x9 window (reflected border)."""
    import cv2
    g = grey_frame.astype(np.float64)
    size = (TEXTURE_WINDOW, TEXTURE_WINDOW)
    mean = cv2.blur(g, size, borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(g * g, size, borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def bin_names(edges=TEXTURE_EDGES):
    bounds = [0.0, *edges]
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(bounds, bounds[1:])] + [f">={edges[-1]:g}"]


def tof_by_texture(targets, outputs, edges=TEXTURE_EDGES):
    """{"share", "tOF", "tOF_in_bin"}: lists with one value per texture bin, over the frame pairs
    that ``metrics.val_scoring.score`` uses for tOF (RGB uint8 frames; an output larger than its
    target is cropped at the top-left, as there)."""
    from metrics.image_metrics import crop_8x8
    from metrics.inputs import evaluated_indices
    from metrics.temporal import farneback, grey
    bins = len(edges) + 1
    share, contribution, pairs, prev = np.zeros(bins), np.zeros(bins), 0, None
    for i in evaluated_indices(len(targets)):
        target = targets[i]
        output = outputs[i][:target.shape[0], :target.shape[1]]
        cur = (grey(target), grey(output))
        if prev is not None:
            # as metrics.temporal.tof_from_flows: float32 flows, each cropped, L2 per pixel
            diff = np.absolute(crop_8x8(farneback(prev[0], cur[0]))[0]
                               - crop_8x8(farneback(prev[1], cur[1]))[0])
            error = np.sqrt(np.sum(diff * diff, axis=-1))
            which = np.digitize(crop_8x8(local_texture(cur[0]))[0], edges)
            pixels = error.size
            share += np.bincount(which.ravel(), minlength=bins) / pixels
            contribution += np.bincount(which.ravel(), weights=error.ravel().astype(np.float64),
                                        minlength=bins) / pixels
            pairs += 1
        prev = cur
    if pairs == 0:
        raise UserError(f"{len(targets)} frames give no scored frame pair for tOF")
    share, contribution = share / pairs, contribution / pairs
    in_bin = np.divide(contribution, share, out=np.full(bins, np.nan), where=share > 0)
    return {"share": share.tolist(), "tOF": contribution.tolist(), "tOF_in_bin": in_bin.tolist()}


def parse_args(argv=None):
    parser = ArgumentParser(prog="python3 -m metrics.tof_split",
                            description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a checkpoint prefix (repeat the flag to compare several)")
    parser.add_argument("--val_dir", default=None,
                        help="folder with one sub-folder of HR frames per scene")
    parser.add_argument("--num_resblock", type=int, default=None,
                        help="residual blocks of the generator (10: shipped models); default: each "
                        "checkpoint's own, read from it")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file "
                        "(a new file: an existing one needs --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="let --json replace an existing file")
    return parser.parse_args(argv)


def check_json_output(path, overwrite, checkpoints, val_dir):
    """UserError unless ``path`` (--json) may be written: not an existing file without
    ``overwrite``, never one of the checkpoint files being scored nor anything under ``val_dir``
    (links resolved)."""
    import glob

    from lib.io.output_plan import check_writable_folder
    if not path:
        raise UserError("--json is empty")
    if os.path.isdir(path):
        raise UserError(f"--json '{path}' is a folder; give a file name")
    if os.path.lexists(path) and not overwrite:
        raise UserError(f"--json '{path}' exists already; nothing was written. Choose another "
                        "name, or add --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    check_writable_folder(folder, "--json")
    real = os.path.realpath(path)
    val = os.path.realpath(val_dir)
    if os.path.commonpath([real, val]) == val:
        raise UserError(f"--json '{path}' is inside --val_dir '{val_dir}', the frames being "
                        "scored; give a file elsewhere")
    for prefix in checkpoints:
        files = glob.glob(glob.escape(prefix) + ".*")
        files.append(os.path.join(os.path.dirname(prefix), "checkpoint"))   # TF's state file
        if any(os.path.realpath(f) == real for f in files if os.path.lexists(f)):
            raise UserError(f"--json '{path}' is a file of the checkpoint '{prefix}' being "
                            "scored; give another file name")
    os.makedirs(folder, exist_ok=True)      # only now: never a new folder in --val_dir


def write_json(path, result):
    """``result`` as strict JSON (NaN, a texture bin without pixels, as null), replacing ``path``
    whole: an error or a full disk leaves it as it was."""
    from lib.io.output_paths import write_text_atomically
    from metrics.validate import no_nan
    write_text_atomically(path, json.dumps(no_nan(result), indent=1, allow_nan=False), "--json")


def split_all(scenes, checkpoints, num_resblock):
    """{"bins": names, "methods": [{"method", "scenes": {name: tof_by_texture}}]}."""
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()
    from metrics import val_scoring
    from metrics.val_scenes import load_frames
    outputs = val_scoring.methods_with_outputs(checkpoints, num_resblock)   # checked first
    frames = {scene.name: load_frames(scene) for scene in scenes}
    methods = []
    for method, make_outputs in outputs:
        methods.append({"method": method, "scenes": {
            name: tof_by_texture(hr, make_outputs(lr)) for name, (hr, lr) in frames.items()}})
    return {"bins": bin_names(), "methods": methods}


def table(result):
    """Per scene: the share row, then each method's tOF contributions, total last."""
    names = result["bins"]
    width = max(len(m["method"]) for m in result["methods"]) + 2
    lines = [f"tOF by the target's local texture (std of grey levels, {TEXTURE_WINDOW}x"
             f"{TEXTURE_WINDOW}); contributions add up to the scene's tOF"]
    for scene in result["methods"][0]["scenes"]:
        lines.append("")
        lines.append(f"{scene:<{width}}" + "".join(f"{n:>10}" for n in names) + f"{'tOF':>10}")
        share = result["methods"][0]["scenes"][scene]["share"]
        lines.append(f"{'share':<{width}}" + "".join(f"{v:>10.3f}" for v in share))
        for method in result["methods"]:
            values = method["scenes"][scene]["tOF"]
            lines.append(f"{method['method']:<{width}}" + "".join(f"{v:>10.4f}" for v in values)
                         + f"{sum(values):>10.4f}")
    return "\n".join(lines)


def main(argv=None):
    from metrics.validate import list_checkpoints
    from metrics.val_scenes import find_scenes
    args = parse_args(argv)
    if args.json == "":
        raise UserError("--json is empty")
    if not args.checkpoint:
        raise UserError("give --checkpoint PREFIX (repeatable)")
    args.run_dir, args.reference = [], None
    checkpoints, _ = list_checkpoints(args)
    scenes = find_scenes(args.val_dir)
    if args.json is not None:
        check_json_output(args.json, args.overwrite, checkpoints, args.val_dir)
    result = split_all(scenes, checkpoints, args.num_resblock)
    print(table(result))
    if args.json is not None:
        write_json(args.json, result)
        print(f"numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
