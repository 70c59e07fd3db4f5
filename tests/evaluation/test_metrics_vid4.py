"""Metrics on real data: the bicubic x4 baseline of Vid4 LR scored against the GT, all four scenes.

Each number is recomputed here independently (our own Y formula and crop offsets, skimage's PSNR,
OpenCV flow computed in the test) and must agree to 1e-6. To stay fast, each scene uses its first
7 frames (frames 2, 3, 4 evaluated; tOF on 3 and 4); the README numbers come from the full scenes.
"""
import os

import cv2
import numpy as np
import pytest

from conftest import shared_path

SCENES = ("calendar", "city", "foliage", "walk")
N_FRAMES = 7
# crop_8x8 boxes (y, x, h, w) as listed in the reference (section 7.2)
CROPS = {"calendar": (16, 8, 544, 704), "city": (16, 16, 544, 672),
         "foliage": (16, 8, 448, 704), "walk": (16, 8, 448, 704)}


def _subset(src, dst, n):
    os.makedirs(dst)
    names = sorted(os.listdir(src))[:n]
    for name in names:
        os.symlink(os.path.join(src, name), os.path.join(dst, name))
    return dst


@pytest.fixture(scope="module")
def bicubic_run(tmp_path_factory):
    gt_root = shared_path("data", "Vid4", "GT")
    lr_root = shared_path("data", "Vid4", "LR")
    from metrics.evaluate import evaluate

    tmp = tmp_path_factory.mktemp("vid4")
    gts = [_subset(os.path.join(gt_root, s), str(tmp / "GT" / s), N_FRAMES) for s in SCENES]
    lrs = [_subset(os.path.join(lr_root, s), str(tmp / "LR" / s), N_FRAMES) for s in SCENES]
    out = str(tmp / "metric_log")
    evaluation = evaluate([], [], out, baseline_lr=lrs, baseline_targets=gts, lpips="off",
                          progress=False)
    return evaluation, gts, lrs, out


def _read_rgb(path):
    return cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]


def _y(rgb):
    rgb = rgb.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def test_crop_8x8_boxes_of_the_reference():
    from metrics.image_metrics import crop_8x8, crop_8x8_box

    assert crop_8x8_box(576, 720) == (16, 8, 544, 704)
    assert crop_8x8_box(576, 704) == (16, 16, 544, 672)
    assert crop_8x8_box(480, 720) == (16, 8, 448, 704)
    img = np.arange(576 * 720).reshape(576, 720)
    crop, y, x = crop_8x8(img)
    assert (y, x) == (16, 8) and crop[0, 0] == img[16, 8] and crop.shape == (544, 704)


def test_bicubic_frames_are_the_legacy_bicubic(bicubic_run):
    from lib.ops.resize import bicubic_four_numpy

    evaluation, _, lrs, _ = bicubic_run
    group = dict(evaluation.groups)["bicubic"]
    for res, lr_dir in zip(group, lrs):
        name = sorted(os.listdir(lr_dir))[3]
        lr = _read_rgb(os.path.join(lr_dir, name))
        ours = _read_rgb(os.path.join(res.result_dir, name)).astype(int)
        ref = np.clip(bicubic_four_numpy(lr.astype(np.float64) / 255.0) * 255, 0, 255)
        assert ours.shape == (4 * lr.shape[0], 4 * lr.shape[1], 3)
        # float32 TF op vs float64 reference, both truncated: equal up to rare 1-level flips
        diff = np.abs(ours - np.floor(ref))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99


def test_bicubic_vid4_metrics_match_independent_computation(bicubic_run):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    evaluation, gts, _, _ = bicubic_run
    group = dict(evaluation.groups)["bicubic"]
    assert [r.scene for r in group] == list(SCENES)
    for res, gt_dir, scene in zip(group, gts, SCENES):
        assert res.frames == [2, 3, 4]
        y0, x0, h, w = CROPS[scene]
        gt_names = sorted(os.listdir(gt_dir))
        out_names = sorted(os.listdir(res.result_dir))
        assert res.names == gt_names[2:5]
        prev = None
        for j, i in enumerate(res.frames):
            gt = _read_rgb(os.path.join(gt_dir, gt_names[i]))
            out = _read_rgb(os.path.join(res.result_dir, out_names[i]))
            y_gt = _y(gt[y0:y0 + h, x0:x0 + w])
            y_out = _y(out[y0:y0 + h, x0:x0 + w])
            psnr = peak_signal_noise_ratio(y_gt, y_out, data_range=255)
            ssim = structural_similarity(y_gt, y_out, win_size=7, gaussian_weights=False,
                                         data_range=y_out.max() - y_out.min())
            assert res.values["PSNR"][j] == pytest.approx(psnr, abs=1e-6)
            assert res.values["SSIM"][j] == pytest.approx(ssim, abs=1e-6)
            cur = (cv2.cvtColor(np.ascontiguousarray(gt), cv2.COLOR_RGB2GRAY),
                   cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2GRAY))
            if prev is not None:
                flows = [cv2.calcOpticalFlowFarneback(p, c, None, pyr_scale=0.5, levels=3,
                                                      winsize=15, iterations=3, poly_n=5,
                                                      poly_sigma=1.2, flags=0)
                         for p, c in zip(prev, cur)]
                diff = (flows[0] - flows[1])[y0:y0 + h, x0:x0 + w].astype(np.float64)
                tof = np.hypot(diff[..., 0], diff[..., 1]).mean()
                assert res.values["tOF"][j - 1] == pytest.approx(tof, abs=1e-6)
            prev = cur
        assert len(res.values["tOF"]) == 2
        assert all(np.isnan(res.values["LPIPS"])) and all(np.isnan(res.values["tLP100"]))


def test_bicubic_vid4_files(bicubic_run):
    import pandas as pd

    evaluation, _, _, out = bicubic_run
    group = dict(evaluation.groups)["bicubic"]
    lines = open(os.path.join(out, "bicubic", "metrics.csv")).read().splitlines()
    for k in range(len(SCENES)):
        assert f",PSNR_{k:02d},SSIM_{k:02d},LPIPS_{k:02d},tOF_{k:02d},tLP100_{k:02d}" in lines
    avg_at = lines.index(",Avg_PSNR,Avg_SSIM,Avg_LPIPS,Avg_tOF,Avg_tLP100")
    avg_psnr = [float(lines[avg_at + 1 + k].split(",")[1]) for k in range(len(SCENES))]
    for value, res in zip(avg_psnr, group):
        assert value == pytest.approx(np.mean(res.values["PSNR"]), abs=1e-4)
    folder_at = lines.index(",FolderAvg_PSNR,FolderAvg_SSIM,FolderAvg_LPIPS,FolderAvg_tOF,"
                            "FolderAvg_tLP100")
    assert float(lines[folder_at + 1].split(",")[1]) == pytest.approx(np.mean(avg_psnr), abs=1e-4)
    frame_at = lines.index(",FrameAvg_PSNR,FrameAvg_SSIM,FrameAvg_LPIPS,FrameAvg_tOF,"
                           "FrameAvg_tLP100")
    all_tof = np.concatenate([r.values["tOF"] for r in group])
    assert float(lines[frame_at + 1].split(",")[4]) == pytest.approx(all_tof.mean(), abs=1e-5)
    assert lines[frame_at + 1].split(",")[3] == ""            # LPIPS: empty, never a number

    tidy = pd.read_csv(os.path.join(out, "metrics_per_frame.csv"))
    assert list(tidy.columns) == ["method", "scene", "frame", "name", "PSNR", "SSIM", "LPIPS",
                                  "tOF", "tLP100"]
    assert len(tidy) == 3 * len(SCENES) and tidy["LPIPS"].isna().all()
    first = tidy[tidy.frame == 2]
    assert first["tOF"].isna().all() and tidy[tidy.frame > 2]["tOF"].notna().all()
    for scene in SCENES:
        assert os.path.getsize(os.path.join(out, "plots", f"{scene}.png")) > 1000
    summary = pd.read_csv(os.path.join(out, "summary.csv"))
    assert "mean over scenes" in set(summary.scene)
