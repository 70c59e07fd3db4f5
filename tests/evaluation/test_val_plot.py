"""``metrics.validate --plot``: each run folder's checkpoints become one line in step order, other
checkpoints stars, bicubic left out, the mean without excluded scenes preferred; a PNG is drawn."""
import math

import cv2
import pytest

from lib.errors import UserError
from metrics.val_plot import check_plot_path, plot, series


def method(name, lpips, tof, excluded=None):
    numbers = {"PSNR_Y": 30.0, "LPIPS": lpips, "tOF": tof, "grid": 0.1}
    found = {"method": name, "scenes": {}, "mean": numbers}
    if excluded:
        found["mean_excluding"] = {"excluded": ["friends"], **numbers, **excluded}
    return found


def result_of(*methods):
    return {"scenes": {"a": 7}, "methods": list(methods)}


def test_series_groups_runs_by_folder_and_kind_in_step_order():
    result = result_of(method("bicubic", 0.5, 0.6),
                       method("runs/a/model_ema-250", 0.19, 0.29, {"tOF": 0.28}),
                       method("runs/a/model_ema-1000", 0.18, 0.30, {"tOF": 0.27}),
                       method("runs/a/model-250", 0.21, 0.31),
                       method("runs/b/model_ema-125", float("nan"), 0.33),
                       method("model/shipped/TecoGAN_ours", 0.17, 0.35))
    runs, others = series(result)
    # "1000" after "250": by step, not as text; the mean without friends where there is one
    assert runs["runs/a/model_ema"] == [(250, 0.19, 0.28), (1000, 0.18, 0.27)]
    assert runs["runs/a/model"] == [(250, 0.21, 0.31)]
    assert math.isnan(runs["runs/b/model_ema"][0][1])
    assert others == {"model/shipped/TecoGAN_ours": (0.17, 0.35)}     # bicubic left out


def test_plot_draws_a_png_and_bad_paths_are_refused(tmp_path):
    result = result_of(method("bicubic", 0.5, 0.6), method("runs/a/model_ema-1", 0.2, 0.3),
                       method("runs/a/model_ema-2", 0.19, 0.31), method("shipped", 0.18, 0.32))
    path = tmp_path / "curve.png"
    plot(result, str(path))
    image = cv2.imread(str(path))
    assert image.shape == (500, 1300, 3)
    assert image.std() > 10                     # axes, lines and text, not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]     # no temporary file left
    for bad, message in (("curve.jpg", "give a .png"), (str(tmp_path / "d.png"), "is a folder")):
        if bad.endswith("d.png"):
            (tmp_path / "d.png").mkdir()
        with pytest.raises(UserError, match=message):
            check_plot_path(bad)
