"""The per-frame loop, the bicubic baseline and the runs behind ``python3 -m metrics`` and mode 2.

Per folder pair (reference section 7.2): frames i = 2 .. N-3 of the sorted lists are evaluated
(N = number of target frames; result i is paired with target i). A result frame larger than its
target is cropped to the target's size at the top-left. For each frame:

* tOF (from the second evaluated frame on): Farneback flow of the grey target pair and of the grey
  output pair, both crop_8x8'd, mean Euclidean norm of the difference (:mod:`metrics.temporal`);
* PSNR and SSIM on Y of the crop_8x8'd frames (:mod:`metrics.image_metrics`);
* LPIPS(target, output) on the crops, and tLP100 = |LPIPS(t_{i-1}, t_i) - LPIPS(o_{i-1}, o_i)| x 100
  (:mod:`LPIPSmodels`, TensorFlow by default); NaN only with ``--lpips off`` (``--lpips torch``
  without the torch stack is an error).

The bicubic baseline is the legacy TF1 bicubic x4 (``lib.ops.resize.bicubic_four``, the TF op, float32)
of LR/255, saved as inference saves its outputs: ``np.clip(x * 255, 0, 255).astype(uint8)``
(truncation), written as PNG frames under ``<output>/bicubic/frames/<scene>/`` and then scored
exactly like any result folder.
"""
import os
from dataclasses import dataclass, field

import numpy as np

from lib.errors import ArgumentParser, UserError
from lib.io import frame_io
from lib.io.frame_io import list_frames, read_image_rgb8
from lib.project import import_tensorflow
from metrics import inputs, report
from metrics.image_metrics import crop_8x8, psnr_y, ssim_y
from metrics.report import KEYS
from metrics.temporal import farneback, grey, tof_from_flows

PRIMARY = "results"
BASELINE = "bicubic"


@dataclass
class FolderResult:
    method: str
    scene: str
    result_dir: str
    target_dir: str
    frames: list = field(default_factory=list)     # evaluated frame indices (2 .. N-3)
    names: list = field(default_factory=list)      # target file names of those frames
    values: dict = field(default_factory=lambda: {k: [] for k in KEYS})
    lpips_computed: bool = False


@dataclass
class Evaluation:
    groups: list            # [(method, [FolderResult, ...]), ...]
    summary: list           # rows of report.summary_rows
    lpips_message: str
    lpips_computed: bool
    files: dict             # name -> path of every file written


def evaluate_folder(result_dir, target_dir, lpips_metric=None, method=PRIMARY, scene=None,
                    log=None, progress=False, verbose=False, paths=None):
    """All metrics of one result folder against its target folder (a :class:`FolderResult`)."""
    from tqdm import tqdm

    results, targets = paths if paths is not None else inputs.pair_frames(result_dir, target_dir)
    log = log or (lambda line, echo=True: None)
    res = FolderResult(method, scene or os.path.basename(os.path.normpath(target_dir)),
                       result_dir, target_dir, lpips_computed=lpips_metric is not None)
    cut = inputs.CUT_FRAMES
    prev = None
    indices = inputs.evaluated_indices(len(targets))
    for i in tqdm(indices, desc=f"{method} {res.scene}", unit="frame", disable=not progress,
                  leave=False):
        output_img = inputs.read_frame(results[i])
        target_img = inputs.read_frame(targets[i])
        msg = "frame %d, tar %s, out %s, " % (i, str(target_img.shape), str(output_img.shape))
        if target_img.shape[0] < output_img.shape[0] or target_img.shape[1] < output_img.shape[1]:
            output_img = output_img[:target_img.shape[0], :target_img.shape[1]]
        log(results[i], echo=verbose)
        cur = {"out_grey": grey(output_img), "tar_grey": grey(target_img)}
        if i > cut:
            value = tof_from_flows(farneback(prev["tar_grey"], cur["tar_grey"]),
                                   farneback(prev["out_grey"], cur["out_grey"]))
            res.values["tOF"].append(value)
            msg += "tOF %02.2f, " % value
        target_crop, ofy, ofx = crop_8x8(target_img)
        output_crop, _, _ = crop_8x8(output_img)
        res.values["PSNR"].append(psnr_y(target_crop, output_crop))
        msg += "psnr %02.2f" % res.values["PSNR"][-1]
        res.values["SSIM"].append(ssim_y(target_crop, output_crop))
        msg += ", ssim %02.2f" % res.values["SSIM"][-1]
        if lpips_metric is not None:
            cur["tar_feats"] = lpips_metric.features(target_crop)
            cur["out_feats"] = lpips_metric.features(output_crop)
            dist = lpips_metric.distance_features(cur["tar_feats"], cur["out_feats"])
            res.values["LPIPS"].append(float(dist))
            msg += ", lpips %02.2f" % dist
            if i > cut:
                dist_t = lpips_metric.distance_features(prev["tar_feats"], cur["tar_feats"])
                dist_o = lpips_metric.distance_features(prev["out_feats"], cur["out_feats"])
                value = np.absolute(np.float32(dist_t) - np.float32(dist_o)) * 100.0
                res.values["tLP100"].append(float(value))
                msg += ", tLPx100 %02.2f" % value
        else:
            res.values["LPIPS"].append(float("nan"))
            if i > cut:
                res.values["tLP100"].append(float("nan"))
        msg += ", crop (%d, %d)" % (ofy, ofx)
        log(msg, echo=verbose)
        res.frames.append(i)
        res.names.append(os.path.basename(targets[i]))
        prev = cur
    return res


# ---------------------------------------------------------------------------------------------
# bicubic baseline

def check_lr_for_targets(lr_dir, target_dir):
    """The LR folder can make a baseline for ``target_dir``: same frame count, 4x size >= target."""
    lrs = inputs.list_pngs(lr_dir, "LR")
    targets = inputs.list_pngs(target_dir, "target")
    if len(lrs) != len(targets):
        raise UserError(f"LR folder '{lr_dir}' has {inputs.frames_text(len(lrs), 'PNG frame')} "
                        f"but target folder '{target_dir}' has {len(targets)}; the bicubic "
                        "baseline pairs them by sorted index")
    # make_bicubic_frames decodes every LR frame, not only the evaluated ones: a truncated one
    # must be found now, not after the results were scored
    for path in lrs:
        inputs.png_header(path)
        frame_io.check_png_complete(path)
    for i in inputs.evaluated_indices(len(targets)):
        l_h, l_w, _ = inputs.png_header(lrs[i])
        t_h, t_w, _ = inputs.png_header(targets[i])
        if 4 * l_h < t_h or 4 * l_w < t_w:
            raise UserError(f"LR frame '{lrs[i]}' ({l_w}x{l_h}) times 4 is smaller than its target "
                            f"'{targets[i]}' ({t_w}x{t_h})")
    return lrs


def _write_png_whole(path, rgb):
    """The bytes ``cv2.imwrite`` writes, through a temporary (a full disk: one error, no half
    frame)."""
    import cv2
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise UserError(f"cannot encode image '{path}'")
    with report.whole_file(path, "wb") as handle:
        handle.write(encoded.tobytes())


def make_bicubic_frames(lr_dir, out_dir, progress=False):
    """Write the bicubic x4 of every PNG frame of ``lr_dir`` to ``out_dir`` (same names)."""
    from tqdm import tqdm
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()                           # only when a baseline is made
    from lib.infer.bicubic import bicubic_frame

    frames = list_frames(lr_dir, extensions=(".png",), exclude_prefix=inputs.EXCLUDE_PREFIX)
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):            # stale frames would break the index pairing
        if name.lower().endswith(".png"):
            try:
                os.remove(os.path.join(out_dir, name))
            except OSError as err:
                raise UserError(f"cannot remove the old bicubic frame "
                                f"'{os.path.join(out_dir, name)}': {err.strerror or err}") from None
    for path in tqdm(frames, desc=f"bicubic {os.path.basename(lr_dir)}", unit="frame",
                     disable=not progress, leave=False):
        _write_png_whole(os.path.join(out_dir, os.path.basename(path)),
                         bicubic_frame(read_image_rgb8(path)))
    return out_dir


# ---------------------------------------------------------------------------------------------
# whole runs

def _unique_scenes(target_dirs):
    """One name per target folder (its base name), unique: the name picks the folder of the
    bicubic frames, the plot and the rows of the CSVs, so two scenes must never share one.
    A clash gets the first free ``_1``, ``_2``, ... (a/cal, b/cal_1, c/cal: cal, cal_1, cal_2).
    Names are compared case-folded, as a case-insensitive file system would."""
    names, taken = [], set()
    for target in target_dirs:
        # abspath: '.' and '..' name the folder itself, never 'frames/..'
        base = os.path.basename(os.path.abspath(target)) or "scene"
        name, count = base, 0
        while name.casefold() in taken:
            count += 1
            name = f"{base}_{count}"
        taken.add(name.casefold())
        names.append(name)
    return names


def planned_outputs(output, scenes, baseline_scenes, with_results):
    """(folders, replaced, appended): every folder the run makes or writes into, every file it
    replaces whole, and the logs it appends to (see :func:`evaluate`)."""
    folders = [output, os.path.join(output, "plots")]
    replaced = [os.path.join(output, "metrics_per_frame.csv"), os.path.join(output, "summary.csv")]
    replaced += [os.path.join(output, "plots", f"{scene}.png")
                 for scene in dict.fromkeys([*scenes, *baseline_scenes])]
    appended = []
    if with_results:
        replaced.append(os.path.join(output, "metrics.csv"))
        appended.append(os.path.join(output, "metricsfile.txt"))
    if baseline_scenes:
        base = os.path.join(output, BASELINE)
        folders += [base, os.path.join(base, "frames")]
        folders += [os.path.join(base, "frames", scene) for scene in baseline_scenes]
        replaced.append(os.path.join(base, "metrics.csv"))
        appended.append(os.path.join(base, "metricsfile.txt"))
    return folders, replaced, appended


def check_outputs(output, scenes, baseline_scenes, with_results, input_folders):
    """UserError, before any work, for every output path that cannot be written as planned.

    ``input_folders``: (role, folder) pairs. A folder the run writes into must not be one of them
    (links resolved): the bicubic step first deletes the PNGs of its frame folder and then scores
    them, and a plot or CSV would land among the frames. An entry of the wrong kind (a folder
    where a file goes, a file where a folder goes, a folder named like a stale bicubic frame)
    would otherwise fail only after every metric was computed.
    """
    folders, replaced, appended = planned_outputs(output, scenes, baseline_scenes, with_results)
    real_inputs = {}
    for role, folder in input_folders:
        real_inputs.setdefault(os.path.realpath(folder), (role, folder))
    for folder in folders:
        hit = real_inputs.get(os.path.realpath(folder))
        if hit is not None:
            raise UserError(f"the metrics write into '{folder}', which is the {hit[0]} folder "
                            f"'{hit[1]}'; its frames would be replaced or mixed with outputs. "
                            "Choose another --output")
        if os.path.lexists(folder) and not os.path.isdir(folder):
            raise UserError(f"the metrics write into the folder '{folder}', but it is a file (or "
                            "a broken link); move it away or choose another --output")
        if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"the metrics write into '{folder}', which is not writable; choose "
                            "another --output")
    for path in replaced:
        # a link is replaced itself (what it points to is left alone): only a real folder blocks
        if os.path.isdir(path) and not os.path.islink(path):
            raise UserError(f"the metrics write the file '{path}', but a folder of that name is "
                            "there; move it away or choose another --output")
    for path in appended:
        if os.path.lexists(path) and not os.path.isfile(path):
            what = "a folder" if os.path.isdir(path) else "not a regular file"
            raise UserError(f"the metrics append to the log '{path}', but it is {what}; move it "
                            "away or choose another --output")
    for scene in baseline_scenes:       # make_bicubic_frames removes the old PNG frames there
        frames_dir = os.path.join(output, BASELINE, "frames", scene)
        if not os.path.isdir(frames_dir):
            continue
        for name in sorted(os.listdir(frames_dir)):
            path = os.path.join(frames_dir, name)
            if name.lower().endswith(".png") and os.path.isdir(path) \
                    and not os.path.islink(path):
                raise UserError(f"'{path}' is a folder among the bicubic frames, which are "
                                "replaced on every run; move it away or choose another --output")


def _configuration(log, config):
    log("[Configurations]:")
    for name, value in config.items():
        log("\t%s: %s" % (name, str(value)))
    log("End of configuration")


def _run_group(method, triples, dest, lpips_metric, lpips_message, config, progress, verbose):
    """Evaluate one method's folders and write metrics.csv / metricsfile.txt into ``dest``."""
    os.makedirs(dest, exist_ok=True)
    log = report.MetricsLog(os.path.join(dest, "metricsfile.txt"))
    try:        # on any error this run's lines leave the log again (MetricsLog's docstring)
        _configuration(log, {**config, "method": method,
                             "results": ",".join(t[1] for t in triples),
                             "targets": ",".join(t[2] for t in triples)})
        log(lpips_message, echo=False)
        results = []
        for k, (scene, result_dir, target_dir, paths) in enumerate(triples):
            res = evaluate_folder(result_dir, target_dir, lpips_metric, method=method, scene=scene,
                                  log=log, progress=progress, verbose=verbose, paths=paths)
            log(f"{method} {scene}: {result_dir} vs {target_dir}, {len(res.frames)} frames")
            report.log_folder_summary(log, k, res)
            results.append(res)
        agg = report.aggregate(results)
        report.log_totals(log, agg)
        csv_path = os.path.join(dest, "metrics.csv")
        report.write_original_csv(csv_path, results, agg)
        log("Finished.")
    except BaseException:
        log.abort()
        raise
    log.close()
    return results, {f"{method} metrics.csv": csv_path,
                     f"{method} metricsfile.txt": os.path.join(dest, "metricsfile.txt")}


def evaluate(results, targets, output, baseline_lr=None, lpips="auto", device=None,
             progress=True, verbose=False, scenes=None, baseline_targets=None,
             baseline_scenes=None):
    """Score result folders against target folders (and optionally the bicubic baseline).

    results, targets: equal-length lists of folders, paired in order (as ``--results`` and
    ``--targets``). baseline_lr: LR folders whose bicubic x4 is scored as the ``bicubic`` method,
    against ``baseline_targets`` (default: ``targets``). lpips: 'auto' or 'tf' (TensorFlow),
    'torch' (the lpips package on the same weights), 'off'. Everything is checked before
    anything is computed; user-fixable problems raise :class:`UserError`.
    Files written under ``output``: metrics.csv, metricsfile.txt (results, original layout),
    bicubic/metrics.csv, bicubic/metricsfile.txt, bicubic/frames/<scene>/, metrics_per_frame.csv,
    plots/<scene>.png, summary.csv. Returns an :class:`Evaluation`; prints the summary table.
    """
    results, targets = list(results or []), list(targets or [])
    baseline_lr = list(baseline_lr or [])
    baseline_targets = list(baseline_targets) if baseline_targets is not None else (
        targets if baseline_lr else [])
    if len(results) != len(targets):
        raise UserError(f"--results lists {len(results)} folders but --targets {len(targets)}; "
                        "give one target folder per result folder, in the same order")
    if len(baseline_lr) != len(baseline_targets):
        raise UserError(f"--baseline_lr lists {len(baseline_lr)} folders but there are "
                        f"{len(baseline_targets)} target folders; give one LR folder per target")
    if not results and not baseline_lr:
        raise UserError("nothing to evaluate: no result folders given")
    if not output:
        raise UserError("--output (the folder for metrics.csv and the logs) is required")
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f"--output '{output}' exists and is not a folder")
    scenes = list(scenes) if scenes is not None else _unique_scenes(targets)
    baseline_scenes = (list(baseline_scenes) if baseline_scenes is not None
                       else _unique_scenes(baseline_targets))

    # 1. check everything first
    checked = [(scene, r, t, inputs.pair_frames(r, t))
               for scene, r, t in zip(scenes, results, targets)]
    for lr_dir, target_dir in zip(baseline_lr, baseline_targets):
        check_lr_for_targets(lr_dir, target_dir)
        inputs.pair_frames(target_dir, target_dir)      # the targets themselves (sizes, depth)
    check_outputs(output, scenes, baseline_scenes if baseline_lr else [], bool(checked),
                  [("result", f) for f in results] + [("target", f) for f in targets]
                  + [("LR", f) for f in baseline_lr] + [("target", f) for f in baseline_targets])

    # 2. LPIPS (None with a notice for --lpips off; a missing backend is an error), before the
    # output folder is made so that such an error leaves nothing behind
    from LPIPSmodels import load_lpips
    lpips_metric, lpips_message = load_lpips(lpips, device=device, log=print)
    if lpips_metric is not None:
        print(lpips_message, flush=True)   # else: printed once, under the summary table
    os.makedirs(output, exist_ok=True)

    config = {"output": output, "lpips": lpips}
    groups, files = [], {}
    if checked:
        res, written = _run_group(PRIMARY, checked, output, lpips_metric, lpips_message, config,
                                  progress, verbose)
        groups.append((PRIMARY, res))
        files.update(written)
    if baseline_lr:
        base_dir = os.path.join(output, BASELINE)
        triples = []
        for scene, lr_dir, target_dir in zip(baseline_scenes, baseline_lr, baseline_targets):
            frames_dir = make_bicubic_frames(lr_dir, os.path.join(base_dir, "frames", scene),
                                             progress=progress)
            triples.append((scene, frames_dir, target_dir,
                            inputs.pair_frames(frames_dir, target_dir)))
        res, written = _run_group(BASELINE, triples, base_dir, lpips_metric, lpips_message,
                                  {**config, "baseline_lr": ",".join(baseline_lr)}, progress,
                                  verbose)
        groups.append((BASELINE, res))
        files.update(written)

    everything = [r for _, group in groups for r in group]
    files["metrics_per_frame.csv"] = os.path.join(output, "metrics_per_frame.csv")
    report.write_tidy_csv(files["metrics_per_frame.csv"], everything)
    for path in report.plot_scenes(os.path.join(output, "plots"), everything):
        files[f"plot {os.path.basename(path)}"] = path
    rows = report.summary_rows(groups)
    files["summary.csv"] = os.path.join(output, "summary.csv")
    report.write_summary_csv(files["summary.csv"], rows)
    print()
    print(report.format_summary(rows))
    if lpips_metric is None:
        print(lpips_message)
    written = sorted({os.path.relpath(p, output).split(os.sep)[0] for p in files.values()})
    print(f"written in {output}: {', '.join(written)}", flush=True)
    return Evaluation(groups, rows, lpips_message, lpips_metric is not None, files)


def scenes_in(root):
    return sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n))) \
        if os.path.isdir(root) else []


def run_mode2(results_root="./results", hr_root="./HR", lr_root="./LR",
              output="./results/metric_log/", with_bicubic=True, lpips="auto", device=None,
              progress=True, verbose=False):
    """``runGan.py 2``: every scene in both ``results_root`` and ``hr_root`` (results/<scene> vs
    HR/<scene>), plus, with_bicubic, the bicubic x4 of ``lr_root``/<scene> for those scenes (or for
    every scene in both LR and HR when there are no results yet). Returns an :class:`Evaluation`.
    """
    if not os.path.isdir(hr_root):
        raise UserError(f"ground-truth folder '{hr_root}' does not exist; download the test data "
                        "first (runGan.py 0)")
    hr_scenes = set(scenes_in(hr_root))
    scenes = [s for s in scenes_in(results_root) if s in hr_scenes]
    base_scenes = []
    if with_bicubic:
        candidates = scenes if scenes else sorted(hr_scenes)
        base_scenes = [s for s in candidates if os.path.isdir(os.path.join(lr_root, s))]
        for s in candidates:
            if s not in base_scenes:
                print(f"bicubic baseline skipped for '{s}': no LR folder "
                      f"'{os.path.join(lr_root, s)}'", flush=True)
    if not scenes and not base_scenes:
        raise UserError(f"no scene to evaluate: no folder of '{results_root}' has a ground-truth "
                        f"folder of the same name in '{hr_root}' (run inference first: "
                        "runGan.py 1)")
    if not scenes:
        print(f"no results in '{results_root}' match '{hr_root}'; scoring the bicubic baseline "
              "only", flush=True)
    from metrics.output_guard import guarded_output
    inputs = [(f"--{flag}", os.path.join(root, s)) for flag, root, names in
              (("results_root", results_root, scenes), ("hr_root", hr_root, scenes + base_scenes),
               ("lr_root", lr_root, base_scenes)) for s in names]
    inputs += [("--results_root", results_root), ("--hr_root", hr_root), ("--lr_root", lr_root)]
    with guarded_output(output, "--output", inputs):     # issue 19: not an input, one run
        return evaluate([os.path.join(results_root, s) for s in scenes],
                        [os.path.join(hr_root, s) for s in scenes], output,
                        baseline_lr=[os.path.join(lr_root, s) for s in base_scenes],
                        baseline_targets=[os.path.join(hr_root, s) for s in base_scenes],
                        scenes=scenes, baseline_scenes=base_scenes, lpips=lpips, device=device,
                        progress=progress, verbose=verbose)


def mode2_parser(prog="python3 runGan.py 2"):
    """The command line of ``runGan.py 2`` (one parser: its checks, its --help)."""
    from LPIPSmodels import MODES
    parser = ArgumentParser(
        prog=prog, description="Evaluation: every <results_root>/<scene> against "
        "<hr_root>/<scene>, plus the bicubic x4 baseline of <lr_root>/<scene>, into --output "
        "(PSNR-Y, SSIM-Y, LPIPS, tOF, tLP100 as the original metric script).")
    parser.add_argument("--results_root", default="./results",
                        help="folder of result scenes (default: %(default)s)")
    parser.add_argument("--hr_root", default="./HR",
                        help="folder of ground-truth scenes (default: %(default)s)")
    parser.add_argument("--lr_root", default="./LR",
                        help="folder of LR scenes, for the bicubic baseline (default: %(default)s)")
    parser.add_argument("--output", default="./results/metric_log/",
                        help="folder for the metric files (default: %(default)s)")
    parser.add_argument("--no_bicubic", action="store_true", help="skip the bicubic baseline")
    parser.add_argument("--lpips", choices=MODES, default="auto",
                        help="'auto'/'tf': LPIPS and tLP100 in TensorFlow; 'torch': with the pip "
                        "lpips package (needs requirements-torch.txt); 'off': skip them")
    return parser


def mode2_main(argv):
    """``runGan.py 2 [flags]``: parse, then :func:`run_mode2`."""
    args = mode2_parser().parse_args(argv)
    return run_mode2(results_root=args.results_root, hr_root=args.hr_root,
                     lr_root=args.lr_root, output=args.output,
                     with_bicubic=not args.no_bicubic, lpips=args.lpips)
