"""Writing the results: the original's ``metrics.csv`` and ``metricsfile.txt``, and ours.

Original layout (reference section 7.3), per method folder:

* ``metrics.csv``: for each folder k a table with columns ``PSNR_kk, SSIM_kk, LPIPS_kk, tOF_kk,
  tLP100_kk`` (one row per evaluated frame, float32, the shorter temporal columns NaN-padded at the
  end; folder 0 overwrites the file, later folders append with their own header), then the tables
  ``Avg_<KEY>`` (per-folder means, one row per folder), ``FolderAvg_<KEY>`` (mean of the folder
  means) and ``FrameAvg_<KEY>`` (sum over all frames / frame count), each appended with its header.
  Sums and means are taken in float32 as the original did.
* ``metricsfile.txt``: the log, appended to on every run, with the original's lines.

Ours, beside them: ``metrics_per_frame.csv`` (tidy: method, scene, frame, name, one column per
metric, empty where a metric is not defined or not computed), ``plots/<scene>.png`` (each metric
over
the frames, one line per method) and ``summary.csv`` / the printed summary table.

Metrics that were not computed (LPIPS/tLP without the AlexNet weights) are NaN in memory and empty
in every file: no number is ever invented.
"""
import contextlib
import math
import os

import numpy as np

from lib.io.atomic import atomic_file
from lib.io.disk_full import NoSpaceError, is_disk_full, no_space_message, writing

# what a full disk tells the user to do (every output is written whole, or not at all)
RERUN = "the same command computes and writes every output again"


# Text outputs are UTF-8 whatever the locale. File and folder names need not be: a name that is
# not valid UTF-8 reaches Python with surrogate escapes, which strict UTF-8 cannot write. They are
# written as backslash escapes (e.g. '\udcff'), so every text file stays valid UTF-8 for pandas,
# spreadsheets and editors; only such names are affected.
TEXT = {"encoding": "utf-8", "errors": "backslashreplace"}


def printable(text):
    """``text`` with surrogate escapes (undecodable name bytes) as backslash escapes, for what
    cannot take them (matplotlib's text rendering)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def cannot_write(path, err):
    """The one line for an OSError other than a full disk while writing ``path``."""
    from lib.errors import UserError
    return UserError(f"cannot write '{path}': {err.strerror or err}")


@contextlib.contextmanager
def whole_file(path, mode="w"):
    """A handle whose file appears at ``path`` only when complete; a full disk, or any other
    OSError (a folder in the way, no permission), is one error naming the file."""
    kwargs = {} if "b" in mode else TEXT
    try:
        with writing(f"'{path}'", RERUN), atomic_file(path, mode, fsync=False,
                                                      **kwargs) as handle:
            yield handle
    except OSError as err:          # not a full disk: writing() made that a NoSpaceError
        raise cannot_write(path, err) from None


KEYS = ("PSNR", "SSIM", "LPIPS", "tOF", "tLP100")
TEMPORAL_KEYS = ("tOF", "tLP100")
LABELS = {"PSNR": "PSNR-Y (dB)", "SSIM": "SSIM-Y", "LPIPS": "LPIPS", "tOF": "tOF",
          "tLP100": "tLP100"}


class MetricsLog:
    """Appends lines to ``metricsfile.txt`` (as the original's tee) and echoes some to stdout.

    The log keeps every earlier run, each ending with "Finished.". A run that stops part way
    (bad frame, full disk, Ctrl+C) calls :meth:`abort`, which drops this run's lines: its
    metrics.csv was not written either, and half a run's per-frame lines would read as results.
    The error itself is on the terminal.
    """

    def __init__(self, path):
        self.path = path
        self.existed = os.path.exists(path)
        try:
            self.handle = open(path, "a", **TEXT)
            self.start = self.handle.tell()      # abort() and a full disk go back to this size
        except OSError as err:
            raise cannot_write(path, err) from None

    def __call__(self, line, echo=True):
        try:
            self.handle.write(line + "\n")
            self.handle.flush()
        except OSError as err:
            self._undo()
            if not is_disk_full(err):
                raise cannot_write(self.path, err) from None
            raise NoSpaceError(no_space_message(f"'{self.path}'", RERUN)) from None
        if echo:
            print(line, flush=True)

    def abort(self):
        """Drop this run's lines (the run did not finish); never raises."""
        self._undo()

    def _undo(self):
        """Drop this run's lines (a half line among them) from the log."""
        with contextlib.suppress(OSError, ValueError):
            self.handle.close()
        with contextlib.suppress(OSError):
            if self.existed:
                os.truncate(self.path, self.start)
            else:
                os.remove(self.path)

    def close(self):
        try:
            self.handle.close()
        except OSError as err:
            self._undo()
            if not is_disk_full(err):
                raise cannot_write(self.path, err) from None
            raise NoSpaceError(no_space_message(f"'{self.path}'", RERUN)) from None


def folder_stats(values):
    """The original's per-folder numbers: (float32 list, float32 sum, count, mean); NaN if empty."""
    cur = np.float32(values)
    if cur.size == 0 or np.all(np.isnan(cur)):
        return cur, np.float32("nan"), cur.size, np.float32("nan")
    total = cur.sum()
    return cur, total, cur.shape[0], total / cur.shape[0]


def aggregate(folder_results):
    """Per-key aggregates as the original: {'Avg': {key: [means]}, 'FolderAvg', 'FrameAvg', 'n'}."""
    avg = {k: [] for k in KEYS}
    frame_sum = {k: np.float32(0) for k in KEYS}
    frame_len = {k: 0 for k in KEYS}
    folder_sum = {k: np.float32(0) for k in KEYS}
    for res in folder_results:
        for key in KEYS:
            _, total, count, mean = folder_stats(res.values[key])
            avg[key].append(mean)
            frame_sum[key] += total
            frame_len[key] += count
            folder_sum[key] += mean
    n = len(folder_results)
    return {
        "Avg": {k: np.float32(avg[k]) for k in KEYS},
        "FolderAvg": {k: folder_sum[k] / n if n else np.float32("nan") for k in KEYS},
        "FrameAvg": {k: frame_sum[k] / frame_len[k] if frame_len[k] else np.float32("nan")
                     for k in KEYS},
        "n": frame_len,
    }


def _fmt(value, spec="%.4f"):
    value = float(value)
    return "n/a" if math.isnan(value) else spec % value


def log_folder_summary(log, folder_index, res):
    """The original's 'KEY_kk, max x, min y, avg z' lines."""
    for key in KEYS:
        cur, _, _, mean = folder_stats(res.values[key])
        name = f"{key}_{folder_index:02d}"
        if np.isnan(mean):
            log(f"{name}, not computed")
        else:
            log("%s, max %02.4f, min %02.4f, avg %02.4f" % (name, cur.max(), cur.min(), mean))


def log_totals(log, agg):
    for key in KEYS:
        if np.isnan(agg["FrameAvg"][key]):
            log(f"{key}, total frame {agg['n'][key]}, not computed")
        else:
            log("%s, total frame %d, total avg %02.4f, folder avg %02.4f"
                % (key, agg["n"][key], agg["FrameAvg"][key], agg["FolderAvg"][key]))


def write_original_csv(path, folder_results, agg):
    """``metrics.csv`` in the original's layout (see the module docstring)."""
    import pandas as pd

    # one handle, the tables one after the other: the bytes of the original's appends
    with whole_file(path) as handle:
        for k, res in enumerate(folder_results):
            table = {f"{key}_{k:02d}": pd.Series(np.float32(res.values[key]), dtype=np.float32)
                     for key in KEYS}
            pd.DataFrame(table).to_csv(handle)
        pd.DataFrame({f"Avg_{key}": pd.Series(agg["Avg"][key], dtype=np.float32)
                      for key in KEYS}).to_csv(handle)
        pd.DataFrame({f"FolderAvg_{key}": pd.Series([agg["FolderAvg"][key]])
                      for key in KEYS}).to_csv(handle)
        pd.DataFrame({f"FrameAvg_{key}": pd.Series([agg["FrameAvg"][key]])
                      for key in KEYS}).to_csv(handle)


def tidy_rows(folder_results):
    """One dict per evaluated frame: method, scene, frame, name and the metrics (NaN if none)."""
    rows = []
    for res in folder_results:
        for j, (frame, name) in enumerate(zip(res.frames, res.names)):
            row = {"method": res.method, "scene": res.scene, "frame": frame, "name": name}
            for key in KEYS:
                if key in TEMPORAL_KEYS:   # defined from the second evaluated frame on
                    row[key] = res.values[key][j - 1] if j > 0 else float("nan")
                else:
                    row[key] = res.values[key][j]
            rows.append(row)
    return rows


def write_tidy_csv(path, folder_results):
    import pandas as pd

    frame = pd.DataFrame(tidy_rows(folder_results),
                         columns=["method", "scene", "frame", "name", *KEYS])
    with whole_file(path) as handle:
        frame.to_csv(handle, index=False, float_format="%.10g")
    return frame


def summary_rows(groups):
    """Rows (dicts) of the summary: each folder, then the scene mean and frame mean per method."""
    rows = []
    for method, results in groups:
        agg = aggregate(results)
        for k, res in enumerate(results):
            row = {"method": method, "scene": res.scene, "frames": len(res.frames)}
            row.update({key: float(agg["Avg"][key][k]) for key in KEYS})
            rows.append(row)
        if len(results) > 1:
            rows.append({"method": method, "scene": "mean over scenes",
                         "frames": sum(len(r.frames) for r in results),
                         **{key: float(agg["FolderAvg"][key]) for key in KEYS}})
            rows.append({"method": method, "scene": "mean over frames",
                         "frames": sum(len(r.frames) for r in results),
                         **{key: float(agg["FrameAvg"][key]) for key in KEYS}})
    return rows


def format_summary(rows):
    """A plain-text table of :func:`summary_rows` (n/a where a metric was not computed)."""
    header = ["method", "scene", "frames", *[LABELS[k] for k in KEYS]]
    body = [[r["method"], r["scene"], str(r["frames"]), *[_fmt(r[k]) for k in KEYS]] for r in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(header), line(["-" * w for w in widths])]
    previous = None
    for cells in body:
        if previous is not None and cells[0] != previous:
            out.append("")
        out.append(line(cells))
        previous = cells[0]
    return "\n".join(out)


def write_summary_csv(path, rows):
    import pandas as pd

    with whole_file(path) as handle:
        pd.DataFrame(rows, columns=["method", "scene", "frames", *KEYS]).to_csv(
            handle, index=False, float_format="%.10g")


def plot_scenes(folder, folder_results):
    """``<folder>/<scene>.png``: each metric over the frames, one line per method. Returns paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    scenes = []
    for res in folder_results:
        if res.scene not in scenes:
            scenes.append(res.scene)
    paths = []
    rows = tidy_rows(folder_results)
    for scene in scenes:
        fig, axes = plt.subplots(len(KEYS), 1, figsize=(8, 2.2 * len(KEYS)), sharex=True)
        for ax, key in zip(axes, KEYS):
            drawn = False
            for method in dict.fromkeys(r["method"] for r in rows if r["scene"] == scene):
                pts = [(r["frame"], r[key]) for r in rows
                       if r["scene"] == scene and r["method"] == method and not math.isnan(r[key])]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, marker=".", label=method)
                    drawn = True
            ax.set_ylabel(LABELS[key])
            ax.grid(alpha=0.3)
            if drawn:
                ax.legend(fontsize="small", loc="best")
            else:
                ax.text(0.5, 0.5, "not computed", ha="center", va="center",
                        transform=ax.transAxes, color="grey")
        axes[-1].set_xlabel("frame index (sorted, 0-based)")
        fig.suptitle(f"{printable(scene)}: metrics per frame")
        fig.tight_layout()
        path = os.path.join(folder, f"{scene}.png")
        try:
            with whole_file(path, "wb") as handle:
                fig.savefig(handle, format="png", dpi=80)
        finally:
            plt.close(fig)
        paths.append(path)
    return paths
