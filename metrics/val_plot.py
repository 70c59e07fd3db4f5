"""``python3 -m metrics.validate ... --plot FILE.png``: the validation numbers as a picture.

Left, LPIPS and tOF against the training step, one line per run folder (``RUN/model-N`` and
``RUN/model_ema-N`` are separate lines); right, the trade-off a GAN stage moves along, LPIPS
against tOF, each run's checkpoints joined in step order with the first and last step written
beside them, and every other checkpoint (e.g. the shipped models) as a star. Bicubic is left
out: its LPIPS is far off every model's scale. Where the numbers have a mean without excluded
scenes (``--exclude_scene``), that mean is drawn, as the rules of model/README.md use it.
"""
import os
import re

RUN_CHECKPOINT = re.compile(r"(.*)[/\\](model|model_ema)-(\d+)")


def series(result):
    """(runs, others): runs {"RUN/model_ema": [(step, LPIPS, tOF)] sorted by step}, others
    {checkpoint: (LPIPS, tOF)}; LPIPS is NaN where it was not computed."""
    runs, others = {}, {}
    for method in result["methods"]:
        name = method["method"]
        if name == "bicubic":
            continue
        mean = method.get("mean_excluding", method["mean"])
        point = (float(mean["LPIPS"]), float(mean["tOF"]))
        match = RUN_CHECKPOINT.fullmatch(name)
        if match:
            runs.setdefault(f"{match.group(1)}/{match.group(2)}", []).append(
                (int(match.group(3)), *point))
        else:
            others[name] = point
    return {run: sorted(points) for run, points in runs.items()}, others


def short(name, width=40):
    return name if len(name) <= width else "..." + name[-(width - 3):]


def plot(result, path):
    """Draw :func:`series` of ``result`` into the PNG ``path`` (written whole or not at all)."""
    import matplotlib
    matplotlib.use("Agg")               # no display needed
    import matplotlib.pyplot as plt
    from lib.io.atomic import atomic_file
    runs, others = series(result)
    excluded = result["methods"][0].get("mean_excluding", {}).get("excluded")
    which = f"mean without {', '.join(excluded)}" if excluded else "mean of scenes"
    fig, (steps_ax, trade_ax) = plt.subplots(1, 2, figsize=(13, 5))
    lpips_ax = steps_ax
    tof_ax = steps_ax.twinx()
    for index, (run, points) in enumerate(sorted(runs.items())):
        colour = f"C{index % 10}"
        step, lpips, tof = zip(*points)
        lpips_ax.plot(step, lpips, "-o", color=colour, markersize=3, label=f"{short(run)} LPIPS")
        tof_ax.plot(step, tof, "--", color=colour, label="tOF")
        trade_ax.plot(lpips, tof, "-o", color=colour, markersize=3, label=short(run))
        for at in {0, len(points) - 1}:
            trade_ax.annotate(str(step[at]), (lpips[at], tof[at]), fontsize=8,
                              textcoords="offset points", xytext=(4, 4), color=colour)
    for index, (name, (lpips, tof)) in enumerate(sorted(others.items())):
        trade_ax.plot([lpips], [tof], "*", markersize=12, color=f"C{(len(runs) + index) % 10}",
                      label=short(name))
    lpips_ax.set_xlabel("training step")
    lpips_ax.set_ylabel("LPIPS (solid) ↓")
    tof_ax.set_ylabel("tOF (dashed) ↓")
    lpips_ax.set_title(f"validation, {which}")
    if runs:                            # nothing but bicubic yet (a watch's first drawing)
        lpips_ax.legend(loc="upper right", fontsize=7)
    trade_ax.set_xlabel("LPIPS ↓")
    trade_ax.set_ylabel("tOF ↓")
    trade_ax.set_title("trade-off: lower left is better")
    if runs or others:
        trade_ax.legend(loc="best", fontsize=7)
    for ax in (lpips_ax, trade_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    # The folder is made here, not when --plot is checked: a run refused later leaves nothing.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_file(path, "wb", fsync=False) as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return path


def check_plot_path(path):
    from lib.errors import UserError
    from lib.io.output_plan import check_writable_folder
    if path is None:
        return
    if not path.lower().endswith(".png"):
        raise UserError(f"--plot '{path}': give a .png file name")
    if os.path.isdir(path):
        raise UserError(f"--plot '{path}' is a folder; give a file name")
    check_writable_folder(os.path.dirname(os.path.abspath(path)), "--plot")
