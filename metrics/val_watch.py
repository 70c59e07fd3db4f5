"""``python3 -m metrics.validate --watch``: score each checkpoint of a training run as it is saved.

    nice -n 5 python3 -m metrics.validate --run_dir ex_TecoGAN03-04-05 --val_dir val --watch \\
        --ema_only --exclude_scene friends --json ex_TecoGAN03-04-05/val.json

Beside a training run (``runGan.py 3``/``4``, a checkpoint every ``--save_freq`` steps) this
loads the validation scenes and the LPIPS network once, scores the bicubic baseline (and any
``--checkpoint``) once, then every ``model-N``/``model_ema-N`` of each ``--run_dir`` (N >=
``--from_step``; only ``model_ema-N`` with ``--ema_only``) that ``--json`` does not hold yet,
oldest first, looking for new ones every ``--poll`` seconds. After each checkpoint it prints one
line, rewrites ``--json`` whole (so a watch stopped and started again goes on where it was) and
writes the scores as tensorboard scalars (``val/PSNR_Y``, ``val/LPIPS``, ``val/tOF``,
``val/grid``, ``val/grid_err``, and ``val_excl/...`` for the mean without ``--exclude_scene``)
at step N into
``RUN/log/validation`` (model-N) and ``RUN/log/validation_ema`` (model_ema-N), where
``tensorboard --logdir RUN/log`` shows them beside the training's own curves; ``--plot`` is
redrawn too. With ``--require``/``--select`` (metrics/val_select.py) each line is followed by
the rule's verdict on that checkpoint and the checkpoint chosen so far, among this watch's
range only (an earlier watch's checkpoints outside ``--from_step``/``--to_step`` stay in
``--json`` and the table, but are not candidates). A checkpoint that cannot be read is
reported on one line and skipped. Ctrl-C stops it with the usual table (a checkpoint
interrupted half-scored is not kept; the next start scores it); ``--stop_after S`` stops it
once it has polled S seconds without finding a new checkpoint (e.g. after the run ended).

Scoring takes the CPU from the training while it runs (about a minute per checkpoint for five
scenes of 40 frames on two cores): nice it, as above.
"""
import json
import os
import re
import sys
import time

from lib.errors import UserError

SCALAR_GROUPS = (("mean", "val"), ("mean_excluding", "val_excl"))


def _unreadable():
    """The errors of a checkpoint that cannot be loaded: ours, and TensorFlow's (a truncated or
    corrupt bundle)."""
    import tensorflow as tf
    return (UserError, tf.errors.OpError, ValueError)


def watch(args, log=print):
    """Score as described above until stopped; the result and the reference, as
    :func:`metrics.validate.score` returns them."""
    from metrics import val_scoring, validate
    from metrics.val_scenes import find_scenes
    from metrics.val_select import apply_rule, parse_rule, watch_line
    rule = parse_rule(args.require, args.select, validate.METRICS, args.exclude_scene)
    fixed, reference = validate.list_checkpoints(args)   # --checkpoint/--reference, and any found
    scenes = find_scenes(args.val_dir)
    validate.check_excluded([s.name for s in scenes], args.exclude_scene)
    frames_per_scene = {s.name: len(s.hr_paths) for s in scenes}
    result = resumed(args.json, frames_per_scene, args.num_resblock)
    result["val_dir"], result["num_resblock"] = args.val_dir, args.num_resblock
    done = {os.path.normpath(m["method"]) for m in result["methods"]}   # as run_checkpoints names
    log(f"watching {', '.join(args.run_dir)} on {len(scenes)} validation scene(s) of "
        f"'{args.val_dir}'" + (f"; {len(done)} method(s) already in '{args.json}'" if done else ""))
    sys.stdout.flush()
    frames, lpips_metric = validate.load_scoring(scenes, args.lpips)
    unreadable = _unreadable()
    outputs = val_scoring.MethodOutputs(args.num_resblock)
    writers = ScalarWriters()
    skipped, idle = set(), 0.0
    try:
        while True:
            waiting = [c for c in pending(args, fixed)
                       if os.path.normpath(c) not in done and c not in skipped]
            seen_before = len(done) + len(skipped)
            for method in waiting:
                try:
                    scored = validate.score_method(method, outputs(method), frames, lpips_metric)
                except unreadable as err:
                    skipped.add(method)
                    log(f"skipped {method}: it cannot be read ({str(err).splitlines()[0]})")
                    continue
                result["methods"].append(scored)
                done.add(os.path.normpath(method))
                if args.exclude_scene:
                    validate.add_mean_excluding(result, args.exclude_scene)
                if rule[0] or rule[1]:
                    result["selection"] = apply_rule(validate.judged_by_rule(result, args),
                                                     *rule, validate.HIGHER_IS_BETTER,
                                                     validate.BICUBIC)
                validate.write_json(args.json, result)
                if args.plot:
                    from metrics.val_plot import plot
                    plot(result, args.plot)
                writers.write(method, scored)
                log(summary_line(scored))
                if "selection" in result:
                    log(watch_line(result["selection"], method))
                sys.stdout.flush()
            if len(done) + len(skipped) > seen_before:   # new ones: look again at once, more
                idle = 0.0                                # may have been saved meanwhile
                continue
            if args.stop_after is not None and idle >= args.stop_after:
                log(f"no new checkpoint for {args.stop_after:g} s: stopped")
                break
            time.sleep(args.poll)
            idle += args.poll           # seconds waited since the last checkpoint was found
    except KeyboardInterrupt:
        log("stopped (Ctrl-C); the numbers of every checkpoint scored so far are in "
            f"'{args.json}'")
    finally:
        writers.close()
    if not result["methods"]:
        raise UserError("stopped before anything was scored")
    return result, reference


def pending(args, fixed):
    """Everything to score, in order: bicubic, the fixed checkpoints, then the run folders'."""
    from metrics import validate
    found = [c for run_dir in args.run_dir
             for c in validate.run_checkpoints(run_dir, args.from_step, args.ema_only,
                                               allow_empty=True, to_step=args.to_step)]
    return [validate.BICUBIC] + [c for c in fixed if c not in found] + found


def resumed(path, frames_per_scene, num_resblock):
    """The numbers of an earlier watch in ``path``, when it exists and holds the same scenes
    (names and frame counts) and generator size; else an empty result."""
    from metrics import validate
    empty = {"scenes": dict(frames_per_scene), "methods": []}
    if not os.path.exists(path):
        return empty
    try:
        earlier, _ = validate.load_results([path], None)
    except UserError as err:        # its text names --from_json, the flag that usually reads it
        raise UserError(str(err).replace("--from_json", "--json", 1) + ": give another file, "
                        "or remove that one") from None
    if earlier["scenes"] != frames_per_scene:
        raise UserError(f"--json '{path}' holds numbers of other validation scenes "
                        f"({earlier['scenes']}; --val_dir has {frames_per_scene}): give another "
                        "--json file, or remove that one")
    with open(path, encoding="utf-8") as handle:
        size = json.load(handle).get("num_resblock", num_resblock)
    if size is not None and num_resblock is not None and size != num_resblock:
        raise UserError(f"--json '{path}' holds numbers of {size}-block generators, not "
                        f"--num_resblock {num_resblock}: give another --json file")
    # the mean without excluded scenes follows this run's --exclude_scene, not the earlier one's
    methods = [{k: v for k, v in m.items() if k != "mean_excluding"} for m in earlier["methods"]]
    return {"scenes": empty["scenes"], "methods": methods}


def summary_line(scored):
    """``name: PSNR_Y 30.88 LPIPS 0.1861 tOF 0.3479 grid 0.125`` (and the same without the
    excluded scenes)."""
    def numbers(mean):
        from metrics.validate import METRICS
        return " ".join(f"{key} {mean[key]:.4f}" for key in METRICS if mean[key] == mean[key])
    line = f"{scored['method']}: {numbers(scored['mean'])}"
    if "mean_excluding" in scored:
        excluded = ", ".join(scored["mean_excluding"]["excluded"])
        line += f" | without {excluded}: {numbers(scored['mean_excluding'])}"
    return line


def checkpoint_step(method):
    """(run folder, step, ema) of ``RUN/model-N`` or ``RUN/model_ema-N``; None for others."""
    match = re.fullmatch(r"(model|model_ema)-(\d+)", os.path.basename(method))
    if not match:
        return None
    return os.path.dirname(method), int(match.group(2)), match.group(1) == "model_ema"


class ScalarWriters:
    """One tensorboard writer per run folder and kind (RUN/log/validation, .../validation_ema)."""

    def __init__(self):
        self.writers = {}

    def write(self, method, scored):
        where = checkpoint_step(method)
        if where is None:               # bicubic, or a checkpoint outside a run's numbering
            return
        import tensorflow as tf
        run_dir, step, ema = where
        folder = os.path.join(run_dir, "log", "validation_ema" if ema else "validation")
        if folder not in self.writers:
            self.writers[folder] = tf.summary.create_file_writer(folder)
        from lib.train.summaries import write_scalars    # tf.summary.write: no TensorBoard needed
        with self.writers[folder].as_default():
            for key, group in SCALAR_GROUPS:
                write_scalars({metric: value for metric, value in scored.get(key, {}).items()
                               if isinstance(value, float) and value == value},  # NaN: LPIPS off
                              step, prefix=f"{group}/")
        self.writers[folder].flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()
