"""``python3 -m metrics.validate``: choose checkpoints and learning rates on held-out scenes.

    python3 -m metrics.validate --checkpoint model/shipped/FRVSR_ours \\
        --checkpoint model/shipped/TecoGAN_ours --val_dir /work/data/val
    python3 -m metrics.validate --run_dir runs/frvsr --val_dir /work/data/val --json val.json

Vid4 is the test set: looking at it while training turns it into a validation set. This scores
every checkpoint (each ``--checkpoint`` prefix, and every ``model-N`` and ``model_ema-N`` of each
``--run_dir``, sorted by N) on the scenes of ``--val_dir`` (one folder of HR frames per scene,
never trained on): each scene is degraded as ``main.py --mode inference --input_dir_HR``
degrades it, run through the recurrent inference, and scored with PSNR-Y, LPIPS and tOF as ``python3 -m metrics``
scores, and for a 4-pixel grid as ``python3 -m metrics.grid_phase`` measures it
(metrics/val_scoring.py). The bicubic baseline is scored once. Prints a compact table;
``--json`` writes the numbers. ``--reference`` adds, for every other method, on how many scenes
it beats that reference and its median change per scene: a mean over a few scenes can be decided
by one scene whose number swings from one checkpoint to the next (model/README.md, Model
selection); ``--exclude_scene`` adds a second mean without such a scene. ``--from_json`` tables
numbers written earlier by ``--json`` (several files at once, without scoring anything again):

    python3 -m metrics.validate --from_json val_3000.json --from_json val_3125.json \
        --exclude_scene friends --reference RUN/model_ema-3000

``--require "METRIC<=X"`` (repeatable) and ``--select METRIC`` apply a selection rule written
beforehand to the numbers and print every checkpoint's verdict and the one chosen
(metrics/val_select.py):

    python3 -m metrics.validate --from_json val.json --exclude_scene friends \\
        --require "tOF_excl<=0.2887" --require "PSNR_Y>=30.78" --select LPIPS --to_step 3000

(``--from_step``/``--to_step``/``--ema_only`` keep the run checkpoints a rule names, from a run
folder or from such files alike.)

``--watch`` follows a training run, scoring each checkpoint as it is saved (metrics/val_watch.py);
``--plot FILE.png`` draws the numbers against the step and LPIPS against tOF (metrics/val_plot.py).

Bad input is one ``error:`` line and exit status 2, reported before TensorFlow loads.
"""
import json
import os
import re
import statistics
import sys

import numpy as np

from lib.errors import ArgumentParser, UserError, run_cli

BICUBIC = "bicubic"
# per scene and mean, in the table and the JSON; "grid": the largest mean high-pass of a column or
# row phase x % 4 over the scored output frames, in grey levels (metrics/grid_phase.py; natural
# ground truth and bicubic about 0.1, a visible 4-pixel grid 1 or more). Content aligned with the
# pixel grid has a phase preference of its own (the text scene signs_serif: 0.35 in its ground
# truth, Vid4 calendar 0.51), so "grid_err" measures what the output adds: the largest difference
# between the output's phase means and the ground truth's (the measure --phase_loss trains on).
METRICS = ("PSNR_Y", "LPIPS", "tOF", "grid", "grid_err")
HIGHER_IS_BETTER = {"PSNR_Y": True, "LPIPS": False, "tOF": False, "grid": False,
                    "grid_err": False}
# not in the JSON files written before it was added: read from them as not computed (NaN)
ADDED_LATER = ("grid_err",)


def mean_over_scenes(per_scene):
    """{metric: mean of the scenes' means} (every scene counts the same, as in the metrics)."""
    return {key: float(np.mean([s[key] for s in per_scene.values()])) for key in METRICS}


def parse_args(argv=None):
    parser = ArgumentParser(prog="python3 -m metrics.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=[],
                        help="a checkpoint prefix (repeat the flag to compare several)")
    parser.add_argument("--run_dir", action="append", default=[],
                        help="a training run folder: every model-N and model_ema-N (--ema_decay) "
                        "in it, sorted by N")
    parser.add_argument("--val_dir", default=None,
                        help="folder with one sub-folder of HR frames per validation scene")
    parser.add_argument("--from_json", action="append", default=[],
                        help="instead of scoring: table the numbers of a file written by --json "
                        "(repeat the flag to merge several; they must hold the same scenes)")
    parser.add_argument("--exclude_scene", action="append", default=[],
                        help="also give the mean of scenes without this one (repeatable), "
                        "in the table ('mean excl.') and the JSON ('mean_excluding')")
    parser.add_argument("--num_resblock", type=int, default=None,
                        help="residual blocks of the generator (10: FRVSR recipe, shipped models; "
                        "16: the released TecoGAN); default: each checkpoint's own, read from it")
    parser.add_argument("--reference", default=None,
                        help="a checkpoint prefix (scored first if not listed) or 'bicubic': "
                        "also print, per method and metric, on how many scenes it is better than "
                        "this one and its median change per scene")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--require", action="append", default=[], metavar="METRIC<=X",
                        help="a requirement of the selection rule, e.g. 'tOF_excl<=0.2887' or "
                             "'PSNR_Y>=30.8' (METRIC_excl: the mean without --exclude_scene); "
                             "repeatable")
    parser.add_argument("--select", default=None, metavar="METRIC",
                        help="choose the best checkpoint by this metric among those meeting "
                             "every --require")
    parser.add_argument("--lpips", choices=("tf", "off"), default="tf",
                        help="'tf': LPIPS with the shipped AlexNet weights; 'off': skip it")
    parser.add_argument("--plot", default=None,
                        help="also draw the numbers into this PNG: LPIPS and tOF against the "
                        "step per run, and LPIPS against tOF (metrics/val_plot.py)")
    parser.add_argument("--from_step", type=int, default=0,
                        help="of each --run_dir (or the --from_json files), only the checkpoints "
                        "of step N >= this")
    parser.add_argument("--to_step", type=int, default=None,
                        help="of each --run_dir (or the --from_json files), only the checkpoints "
                        "of step N <= this: a selection rule's last candidate, when the training "
                        "(and a --watch) went on past it")
    parser.add_argument("--ema_only", action="store_true",
                        help="of each --run_dir (or the --from_json files), only the model_ema-N "
                        "checkpoints (--ema_decay)")
    parser.add_argument("--watch", action="store_true",
                        help="keep scoring each new checkpoint of --run_dir as the training saves "
                        "it, into --json (resumed from it), with tensorboard scalars in "
                        "RUN/log/validation(_ema); metrics/val_watch.py")
    parser.add_argument("--poll", type=float, default=None,
                        help="--watch: seconds between looks for new checkpoints (default 60)")
    parser.add_argument("--stop_after", type=float, default=None,
                        help="--watch: stop after this many seconds of polling without a new "
                        "checkpoint (default: run until Ctrl-C)")
    args = parser.parse_args(argv)
    args.exclude_scene = list(dict.fromkeys(args.exclude_scene))   # a scene named twice: once
    return args


def check_sources(args):
    """Either score (--val_dir with --checkpoint / --run_dir) or table earlier numbers
    (--from_json), never both."""
    if args.from_json and (args.val_dir or args.checkpoint or args.run_dir):
        raise UserError("--from_json tables numbers already scored: give it without --val_dir, "
                        "--checkpoint and --run_dir")
    if args.json and (args.from_step or args.to_step is not None or args.ema_only) and any(
            os.path.abspath(args.json) == os.path.abspath(p) for p in args.from_json):
        raise UserError(f"--json '{args.json}' is one of the --from_json files, and --from_step/"
                        "--to_step/--ema_only leave methods out: writing it would lose their "
                        "numbers; give another --json file")
    if not args.from_json and args.val_dir is None:
        raise UserError("give --val_dir (a folder of validation scenes) to score checkpoints, "
                        "or --from_json FILE to table numbers written earlier by --json")


RUN_CHECKPOINT = re.compile(r"(model|model_ema)-(\d+)")


def in_step_range(step, is_ema, from_step=0, to_step=None, ema_only=False):
    """Whether a run folder's checkpoint (``model_ema-N`` if ``is_ema``, else ``model-N``) is one
    that --from_step, --to_step and --ema_only keep."""
    return step >= from_step and (to_step is None or step <= to_step) and (is_ema or not ema_only)


def step_range_text(from_step=0, to_step=None):
    return f"N >= {from_step}" + ("" if to_step is None else f" and N <= {to_step}")


def judged_by_rule(result, args):
    """``result`` without the checkpoints of --run_dir that --from_step/--to_step/--ema_only
    leave out. A --watch resumes its --json whole, and that file may hold the checkpoints of an
    earlier rule's range: they stay in the file and the table, but a rule judges and chooses only
    among the checkpoints this command names (--checkpoint and --reference always count)."""
    from lib.models.checkpoint_files import checkpoint_prefix
    named = {checkpoint_prefix(c) for c in args.checkpoint} | {args.reference}
    run_dirs = {os.path.normpath(r) for r in args.run_dir}

    def kept(name):
        match = RUN_CHECKPOINT.fullmatch(os.path.basename(name))
        return (match is None or name in named
                or os.path.normpath(os.path.dirname(name)) not in run_dirs
                or in_step_range(int(match.group(2)), match.group(1) == "model_ema",
                                 args.from_step, args.to_step, args.ema_only))
    return {**result, "methods": [m for m in result["methods"] if kept(m["method"])]}


def run_checkpoints(run_dir, from_step=0, ema_only=False, allow_empty=False, to_step=None):
    """The ``model-N`` and ``model_ema-N`` prefixes of a run folder with ``from_step`` <= N <=
    ``to_step`` (only ``model_ema-N`` with ``ema_only``), sorted by N (each ``model-N`` before
    its ``model_ema-N``)."""
    if not os.path.isdir(run_dir):
        raise UserError(f"--run_dir '{run_dir}' does not exist or is not a folder")
    found = sorted((int(m.group(2)), m.group(1) == "model_ema")
                   for m in (re.fullmatch(RUN_CHECKPOINT.pattern + r"\.index", n)
                             for n in os.listdir(run_dir)) if m)
    if not found and not allow_empty:
        raise UserError(f"--run_dir '{run_dir}' holds no model-N checkpoints (model-N.index)")
    found = [(n, ema) for n, ema in found if in_step_range(n, ema, from_step, to_step, ema_only)]
    if not found and not allow_empty:
        raise UserError(f"--run_dir '{run_dir}' holds no "
                        f"{'model_ema-N' if ema_only else 'model-N'} checkpoint with "
                        f"{step_range_text(from_step, to_step)} (--from_step, --to_step)")
    # normalised, so that 'RUN/', 'RUN' and './RUN' name the same checkpoints (a resumed watch
    # recognises what it scored before)
    return [os.path.normpath(os.path.join(run_dir, f"{'model_ema' if ema else 'model'}-{n}"))
            for n, ema in found]


def check_watch_args(args):
    """The options of --run_dir listing and --watch make sense together."""
    if args.from_step < 0:
        raise UserError(f"--from_step {args.from_step}: give a step >= 0")
    if args.to_step is not None and args.to_step < args.from_step:
        raise UserError(f"--to_step {args.to_step}: give a step >= --from_step ({args.from_step})")
    if (args.from_step or args.to_step is not None or args.ema_only) \
            and not (args.run_dir or args.from_json):
        raise UserError("--from_step, --to_step and --ema_only choose among the checkpoints of "
                        "--run_dir (or of the --from_json files); give --run_dir")
    if not args.watch:
        if args.stop_after is not None or args.poll is not None:
            raise UserError("--poll and --stop_after go with --watch")
        return
    if args.from_json:
        raise UserError("--watch scores new checkpoints; it does not go with --from_json")
    if not args.run_dir or not args.json:
        raise UserError("--watch needs --run_dir (the training run to follow) and --json (where "
                        "the numbers are kept, and from which a stopped watch resumes)")
    args.poll = 60.0 if args.poll is None else args.poll
    if not 0 < args.poll < float("inf"):   # also rejects NaN
        raise UserError(f"--poll {args.poll}: give a number of seconds > 0")
    if args.stop_after is not None and not 0 <= args.stop_after < float("inf"):
        raise UserError(f"--stop_after {args.stop_after}: give a number of seconds >= 0")


def list_checkpoints(args):
    """The checkpoints to score, in order, and the reference's prefix as listed among them."""
    from lib.infer.prepare import check_checkpoint_present, check_num_resblock
    from lib.models.checkpoint_files import checkpoint_prefix
    if args.num_resblock is not None:
        check_num_resblock(args.num_resblock)
    checkpoints = [checkpoint_prefix(c) for c in args.checkpoint]
    for run_dir in args.run_dir:
        checkpoints += run_checkpoints(run_dir, args.from_step, args.ema_only,
                                       allow_empty=args.watch, to_step=args.to_step)
    if not checkpoints and not args.watch:
        raise UserError("give --checkpoint PREFIX (repeatable) and/or --run_dir RUN_FOLDER")
    reference = args.reference
    if reference not in (None, BICUBIC):
        reference = checkpoint_prefix(reference)
        if reference not in checkpoints:
            checkpoints.insert(0, reference)
    for checkpoint in checkpoints:
        check_checkpoint_present(checkpoint)
        if os.path.isdir(checkpoint):
            raise UserError(f"--checkpoint '{checkpoint}' is a folder; give a checkpoint prefix "
                            "(e.g. RUN/model-400), or the folder as --run_dir")
    return checkpoints, reference


def load_results(paths, reference):
    """The results of earlier ``--json`` files merged into one (methods in file order; a method,
    e.g. the bicubic baseline, listed again in a later file is kept once), and the reference
    as a method name among them."""
    from lib.models.checkpoint_files import checkpoint_prefix
    merged, seen = None, set()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                result = json.load(handle)
            scenes, methods = result["scenes"], result["methods"]
            if not scenes or not methods:
                raise ValueError("no scenes or no methods")
            names = [m["method"] for m in methods]
            for m, name in zip(methods, names):   # every number the table reads: a number
                if not isinstance(name, str) or not name:
                    raise TypeError(f"a method's name is {name!r}")
                for scene in scenes:
                    for key in METRICS:
                        value = m["scenes"][scene].get(key) if key in ADDED_LATER \
                            else m["scenes"][scene][key]
                        if value is not None and (isinstance(value, bool)
                                                  or not isinstance(value, (int, float))
                                                  or abs(value) == float("inf")):
                            raise TypeError(f"{name} {scene} {key} is {value!r}")
        except FileNotFoundError:
            raise UserError(f"--from_json '{path}' does not exist") from None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"--from_json '{path}' is not a file written by --json "
                            f"({type(exc).__name__}: {exc})") from None
        if merged is None:
            merged = {"scenes": scenes, "methods": [], "from_json": list(paths)}
        elif scenes != merged["scenes"]:
            raise UserError(f"--from_json '{path}' holds other scenes ({scene_list(scenes)}) "
                            f"than '{paths[0]}' ({scene_list(merged['scenes'])}): numbers of "
                            "different validation sets cannot be compared")
        for m, name in zip(methods, names):
            if name not in seen:
                seen.add(name)
                merged["methods"].append(rebuilt_from_scenes(m, scenes))
    if reference is not None:
        reference = reference if reference == BICUBIC else checkpoint_prefix(reference)
        if reference not in seen:
            raise UserError(f"--reference '{reference}' is not among the methods of the "
                            "--from_json files: " + ", ".join(sorted(seen)))
    return merged, reference


def keep_step_range(result, reference, from_step=0, to_step=None, ema_only=False):
    """``result`` read by --from_json without the run checkpoints (``RUN/model-N``,
    ``RUN/model_ema-N``) that --from_step, --to_step and --ema_only leave out; the bicubic baseline
    and checkpoints named otherwise (--checkpoint) stay. A rule applied to a watch's file after
    the training went on past the rule's last candidate sees only the candidates."""
    def kept(method):
        match = RUN_CHECKPOINT.fullmatch(os.path.basename(method["method"]))
        return match is None or in_step_range(int(match.group(2)), match.group(1) == "model_ema",
                                              from_step, to_step, ema_only)
    methods = [m for m in result["methods"] if kept(m)]
    if not any(RUN_CHECKPOINT.fullmatch(os.path.basename(m["method"])) for m in methods):
        raise UserError("the --from_json files hold no "
                        f"{'model_ema-N' if ema_only else 'model-N'} checkpoint with "
                        f"{step_range_text(from_step, to_step)} (--from_step, --to_step)")
    if reference not in (None, BICUBIC) and reference not in [m["method"] for m in methods]:
        raise UserError(f"--reference '{reference}' is outside --from_step/--to_step/--ema_only")
    return {**result, "methods": methods}


def scene_list(scenes):
    """``name (N frames)`` of each scene: two sets may differ only in their frame counts."""
    return ", ".join(f"{name} ({frames} frames)" for name, frames in scenes.items())


def rebuilt_from_scenes(method, scenes):
    """A method read from a --json file as this command would have written it: its per-scene
    numbers (checked by the caller; null back to NaN, ADDED_LATER's metrics added) and the mean
    over them computed again. The file's own means are not trusted: a hand-edited or older file
    may lack them, and its ``mean_excluding`` followed that run's --exclude_scene, not this one's
    (it is recomputed when --exclude_scene is given)."""
    per_scene = {scene: with_nan(method["scenes"][scene]) for scene in scenes}
    rebuilt = with_added_metrics({"method": method["method"], "scenes": per_scene})
    rebuilt["mean"] = mean_over_scenes(rebuilt["scenes"])
    return rebuilt


def with_added_metrics(method):
    """A method read from a JSON file written before ADDED_LATER's metrics existed, with them as
    not computed (NaN) in every scene and in the mean."""
    for numbers in [*method["scenes"].values(), *([method["mean"]] if "mean" in method else [])]:
        for key in ADDED_LATER:
            numbers.setdefault(key, float("nan"))
    return method


def with_nan(value):
    """The inverse of ``no_nan``: null (a metric not computed) back to NaN."""
    if isinstance(value, dict):
        return {k: with_nan(v) for k, v in value.items()}
    return float("nan") if value is None else value


def check_excluded(scenes, excluded):
    """Every --exclude_scene names a scene, and at least one scene is left."""
    unknown = [name for name in excluded if name not in scenes]
    if unknown:
        raise UserError(f"--exclude_scene {', '.join(unknown)}: no such scene; the scenes are "
                        + ", ".join(scenes))
    if not set(scenes) - set(excluded):
        raise UserError("--exclude_scene leaves no scene to average")


def add_mean_excluding(result, excluded):
    """Per method, ``mean_excluding``: the mean of scenes without ``excluded``, and which."""
    kept = [s for s in result["scenes"] if s not in excluded]
    for m in result["methods"]:
        m["mean_excluding"] = {"excluded": list(excluded),
                               **mean_over_scenes({s: m["scenes"][s] for s in kept})}


def check_json_path(path):
    from lib.io.output_plan import check_writable_folder
    if path is None:
        return
    if not path:        # else it would be taken for "no --json" and nothing written
        raise UserError("--json is empty")
    if os.path.isdir(path):
        raise UserError(f"--json '{path}' is a folder; give a file name")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), "--json")


def load_scoring(scenes, lpips_mode):
    """TensorFlow loaded, every scene's (HR, LR) frames read once, and the LPIPS metric (None
    with ``lpips_mode`` 'off')."""
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")     # before TensorFlow loads: no C++ notices
    import_tensorflow()
    from LPIPSmodels import load_lpips
    from metrics.val_scenes import load_frames
    lpips_metric, _ = load_lpips("tf" if lpips_mode == "tf" else "off")
    frames = {scene.name: load_frames(scene) for scene in scenes}   # (HR, LR) per scene
    return frames, lpips_metric


def score_method(method, make_outputs, frames, lpips_metric):
    """{"method", "scenes": {name: metrics}, "mean"} of one method's outputs on every scene."""
    from metrics import val_scoring
    per_scene = {name: val_scoring.score(hr, make_outputs(lr), lpips_metric)
                 for name, (hr, lr) in frames.items()}
    return {"method": method, "scenes": per_scene, "mean": mean_over_scenes(per_scene)}


def evaluate_all(scenes, checkpoints, num_resblock, lpips_mode, log=print):
    """{"scenes": {name: frames}, "methods": [{"method", "scenes": {name: metrics}, "mean"}]}."""
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()                 # quietly, before val_scoring imports it
    from metrics import val_scoring
    methods = val_scoring.methods_with_outputs(checkpoints, num_resblock)   # checked first
    frames, lpips_metric = load_scoring(scenes, lpips_mode)
    results = []
    for method, make_outputs in methods:
        results.append(score_method(method, make_outputs, frames, lpips_metric))
        log(f"scored {method}")
    return {"scenes": {name: len(hr) for name, (hr, _lr) in frames.items()}, "methods": results}


def table(result):
    """One block per metric: a row per method, a column per scene and the mean of scenes."""
    scenes = list(result["scenes"])
    width = max(len(m["method"]) for m in result["methods"]) + 2
    excluded = "mean_excluding" in result["methods"][0]
    cols = [s[:12] for s in scenes] + ["mean"] + (["mean excl."] if excluded else [])
    lines = []
    if excluded:
        lines += [f"mean excl.: the mean of scenes without "
                  f"{', '.join(result['methods'][0]['mean_excluding']['excluded'])}", ""]
    for key in METRICS:
        if all(m["mean"][key] != m["mean"][key] for m in result["methods"]):
            continue                    # not computed (LPIPS with --lpips off)
        lines.append(f"{key:<{width}}" + "".join(f"{c:>13}" for c in cols))
        for m in result["methods"]:
            values = [m["scenes"][s][key] for s in scenes] + [m["mean"][key]]
            values += [m["mean_excluding"][key]] if excluded else []
            lines.append(f"{m['method']:<{width}}" + "".join(f"{v:>13.4f}" for v in values))
        lines.append("")
    return "\n".join(lines)


def against_reference(result, reference):
    """Per method other than ``reference`` and per metric: on how many scenes it is better than
    the reference ("better") and the median of its per-scene changes ("median_change", method
    minus reference). Unlike the mean of scenes, neither moves much when one scene swings."""
    by_name = {m["method"]: m for m in result["methods"]}
    ref, scenes, rows = by_name[reference], list(result["scenes"]), []
    for method in result["methods"]:
        if method is ref:
            continue
        row = {"method": method["method"]}
        for key in METRICS:
            changes = [method["scenes"][s][key] - ref["scenes"][s][key] for s in scenes]
            if any(c != c for c in changes):
                continue                # not computed (LPIPS with --lpips off)
            sign = 1 if HIGHER_IS_BETTER[key] else -1
            row[key] = {"better": sum(sign * c > 0 for c in changes),
                        "median_change": statistics.median(changes)}
        rows.append(row)
    return {"reference": reference, "scenes": len(scenes), "methods": rows}


def reference_table(comparison):
    """Scenes better (of all) and the median change per scene, a column per metric."""
    width = max(len(m["method"]) for m in comparison["methods"]) + 2
    keys = [k for k in METRICS if any(k in m for m in comparison["methods"])]
    lines = [f"against {comparison['reference']}: scenes better (of {comparison['scenes']}) "
             "and the median change per scene",
             f"{'':<{width}}" + "".join(f"{k:>20}" for k in keys)]
    for m in comparison["methods"]:
        cells = [f"{m[k]['better']}/{comparison['scenes']} {m[k]['median_change']:+.4f}"
                 for k in keys]
        lines.append(f"{m['method']:<{width}}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines) + "\n"


def no_nan(value):
    """``value`` with NaN (LPIPS with --lpips off) as null: strict JSON."""
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def write_json(path, result):
    """``result`` as strict JSON, replacing ``path`` whole (a watch rewrites it after every
    checkpoint; an interruption leaves the previous version)."""
    from lib.io.atomic import write_text
    # The folder is made here, not when --json is checked: a run refused later leaves nothing.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_text(path, json.dumps(no_nan(result), indent=1), fsync=False)


def score(args):
    """Score the checkpoints of ``args`` on the scenes of ``--val_dir``."""
    from metrics.val_scenes import find_scenes
    checkpoints, reference = list_checkpoints(args)
    scenes = find_scenes(args.val_dir)
    check_excluded([s.name for s in scenes], args.exclude_scene)    # before the scoring, not after
    print(f"{len(checkpoints)} checkpoint(s) on {len(scenes)} validation scene(s) of "
          f"'{args.val_dir}': " + ", ".join(f"{s.name} ({len(s.hr_paths)} frames "
                                           f"{s.hr_size[0]}x{s.hr_size[1]})" for s in scenes))
    sys.stdout.flush()
    result = evaluate_all(scenes, checkpoints, args.num_resblock, args.lpips)
    result["val_dir"], result["num_resblock"] = args.val_dir, args.num_resblock
    return result, reference


def main(argv=None):
    args = parse_args(argv)
    check_sources(args)
    check_watch_args(args)
    check_json_path(args.json)
    from metrics.val_select import apply_rule, parse_rule, selection_text
    requirements, select = parse_rule(args.require, args.select, METRICS, args.exclude_scene)
    from metrics.val_plot import check_plot_path
    check_plot_path(args.plot)
    if args.from_json:
        result, reference = load_results(args.from_json, args.reference)
        if args.from_step or args.to_step is not None or args.ema_only:
            result = keep_step_range(result, reference, args.from_step, args.to_step,
                                     args.ema_only)
    elif args.watch:
        from metrics.val_watch import watch
        result, reference = watch(args)
    else:
        result, reference = score(args)
    check_excluded(list(result["scenes"]), args.exclude_scene)
    if args.exclude_scene:
        add_mean_excluding(result, args.exclude_scene)
    print(table(result))
    if reference is not None:
        if len(result["methods"]) < 2:
            raise UserError(f"--reference '{reference}': there is no other method to compare "
                            "with it")
        result["against_reference"] = against_reference(result, reference)
        print(reference_table(result["against_reference"]))
    if requirements or select:
        result["selection"] = apply_rule(judged_by_rule(result, args), requirements, select,
                                         HIGHER_IS_BETTER, BICUBIC)
        print(selection_text(result["selection"], result))
    if args.json:
        write_json(args.json, result)
        print(f"numbers written to {args.json}")
    if args.plot:
        from metrics.val_plot import plot
        print(f"plot drawn in {plot(result, args.plot)}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
