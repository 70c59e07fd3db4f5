"""``python3 -m metrics.validate``: its numbers are the metrics' own on the frames main.py writes,
checkpoints reload into one model correctly, run folders sort by step, bad input is one line."""
import json
import os
import shutil

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from inference_helpers import run_main, save_random_model
from lib.io.frame_io import list_frames, read_image_rgb8, write_image_rgb8

HR = (64, 72)      # height, width: the smallest size the metrics' 8-pixel border crop allows
FRAMES = 7         # scored frames 2..4 (the first and last two are not scored)


def write_scene(folder, frames=FRAMES, size=HR, seed=0):
    """A smooth random texture moving by a fraction of a pixel per frame."""
    import cv2
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (size[0] // 4 + 4, size[1] // 4 + 4, 3), np.uint8),
                      (size[1] + 16, size[0] + 16), interpolation=cv2.INTER_CUBIC)
    os.makedirs(folder, exist_ok=True)
    for t in range(frames):
        shift = np.float32([[1, 0, 0.6 * t], [0, 1, 0.3 * t]])
        frame = cv2.warpAffine(base, shift, (size[1] + 16, size[0] + 16),
                               flags=cv2.INTER_CUBIC)[8:8 + size[0], 8:8 + size[1]]
        write_image_rgb8(os.path.join(folder, "col_high_%04d.png" % t), frame)
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    val = root / "val"
    write_scene(str(val / "a_scene"), seed=1)
    write_scene(str(val / "b_scene"), seed=2, frames=FRAMES + 1)
    (val / "README.txt").write_text("files beside the scenes are ignored")
    models = {seed: save_random_model(str(root / f"m{seed}" / "model"), num_resblock=2, seed=seed)
              for seed in (3, 5)}
    return root, val, models


def phase_offsets(frame):
    """[column phase means..., row phase means...] of the high-pass of one float RGB frame, written
    out here from metrics/grid_phase.py's definition (BT.601 grey minus its 9x9 box blur)."""
    import cv2
    grey = frame @ np.array([0.299, 0.587, 0.114])
    high = grey - cv2.blur(grey, (9, 9), borderType=cv2.BORDER_REFLECT_101)
    return np.array([high[:, p::4].mean() for p in range(4)] + [high[p::4].mean() for p in range(4)])


def validate(*args):
    from metrics.validate import main
    return main([str(a) for a in args])


def test_psnr_and_tof_equal_the_metrics_on_main_py_outputs(setup, tmp_path):
    from metrics.image_metrics import crop_8x8, psnr_y
    from metrics.grid_phase import largest_offset
    from metrics.temporal import farneback, grey, tof_from_flows
    _root, val, models = setup
    out = tmp_path / "numbers.json"
    assert validate("--checkpoint", models[3], "--val_dir", val, "--num_resblock", 2,
                    "--json", out) == 0
    result = json.loads(out.read_text())
    assert [m["method"] for m in result["methods"]] == ["bicubic", models[3]]
    assert result["scenes"] == {"a_scene": FRAMES, "b_scene": FRAMES + 1}
    ours = result["methods"][1]
    for scene in ("a_scene",):          # one main.py run: each one imports TensorFlow anew
        run = run_main(["--mode", "inference", "--input_dir_HR", str(val / scene),
                        "--output_dir", str(tmp_path / scene), "--output_ext", "png",
                        "--checkpoint", models[3], "--num_resblock", "2", "--noprogress"])
        assert run.returncode == 0, run.stderr[-2000:]
        outputs = [read_image_rgb8(p) for p in list_frames(str(tmp_path / scene), (".png",))]
        targets = [read_image_rgb8(p) for p in list_frames(str(val / scene))]
        assert len(outputs) == len(targets)
        scored = range(2, len(targets) - 2)
        psnr = np.mean([psnr_y(crop_8x8(targets[i])[0], crop_8x8(outputs[i])[0]) for i in scored])
        tof = np.mean([tof_from_flows(farneback(grey(targets[i - 1]), grey(targets[i])),
                                      farneback(grey(outputs[i - 1]), grey(outputs[i])))
                       for i in list(scored)[1:]])
        assert ours["scenes"][scene]["PSNR_Y"] == pytest.approx(psnr, abs=1e-9)
        assert ours["scenes"][scene]["tOF"] == pytest.approx(tof, rel=1e-6)
        grid = largest_offset([outputs[i] for i in scored])     # python3 -m metrics.grid_phase
        assert ours["scenes"][scene]["grid"] == pytest.approx(grid, abs=1e-9)
        assert grid > 0.0
        # the grid the output adds: the phase means of output minus ground truth, frame by frame
        added = np.mean([phase_offsets(outputs[i].astype(np.float64)
                                       - targets[i].astype(np.float64)) for i in scored], axis=0)
        assert ours["scenes"][scene]["grid_err"] == pytest.approx(np.abs(added).max(), abs=1e-9)
        assert ours["scenes"][scene]["grid_err"] != pytest.approx(grid, abs=1e-3)
        assert 0.0 < ours["scenes"][scene]["LPIPS"] < 1.0
    assert ours["mean"]["PSNR_Y"] == pytest.approx(
        np.mean([ours["scenes"][s]["PSNR_Y"] for s in ("a_scene", "b_scene")]))


def test_bicubic_is_the_metrics_baseline(setup, tmp_path):
    from lib.infer.bicubic import bicubic_frame
    from lib.ops.degradation import bd_downsample_image
    from metrics.image_metrics import crop_8x8, psnr_y
    _root, val, models = setup
    out = tmp_path / "numbers.json"
    validate("--checkpoint", models[3], "--val_dir", val, "--json", out, "--num_resblock", 2,
             "--lpips", "off")
    bicubic = json.loads(out.read_text())["methods"][0]
    targets = [read_image_rgb8(p) for p in list_frames(str(val / "a_scene"))]
    outputs = [bicubic_frame(bd_downsample_image(t)) for t in targets]
    psnr = np.mean([psnr_y(crop_8x8(targets[i])[0], crop_8x8(outputs[i])[0])
                    for i in range(2, FRAMES - 2)])
    assert bicubic["scenes"]["a_scene"]["PSNR_Y"] == pytest.approx(psnr, abs=1e-9)
    assert bicubic["scenes"]["a_scene"]["LPIPS"] is None      # --lpips off: null, strict JSON


def test_each_checkpoint_is_loaded_and_run_folders_sort_by_step(setup, tmp_path, capsys):
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    # "model-10" sorts before "model-2" as text; model_ema-N (--ema_decay) follows its model-N
    for name, seed in (("model-10", 3), ("model-2", 5), ("model_ema-2", 3)):
        for suffix in (".index", ".data-00000-of-00001"):
            shutil.copy(models[seed] + suffix, run / f"{name}{suffix}")
    out = tmp_path / "numbers.json"
    validate("--checkpoint", models[3], "--run_dir", run, "--val_dir", val, "--num_resblock", 2,
             "--json", out, "--lpips", "off", "--reference", models[3])
    methods = json.loads(out.read_text())["methods"]
    assert [m["method"] for m in methods] == ["bicubic", models[3], str(run / "model-2"),
                                              str(run / "model_ema-2"), str(run / "model-10")]
    numbers = {m["method"]: m["mean"]["PSNR_Y"] for m in methods}
    # the same weights give the same numbers after another checkpoint was loaded in between
    assert numbers[str(run / "model-10")] == numbers[models[3]]
    assert numbers[str(run / "model_ema-2")] == numbers[models[3]]
    assert numbers[str(run / "model-2")] != numbers[models[3]]
    # --reference: the same weights are better on no scene and change by nothing
    compared = json.loads(out.read_text())["against_reference"]
    assert compared["reference"] == models[3] and compared["scenes"] == 2
    rows = {m["method"]: m for m in compared["methods"]}
    assert set(rows) == {"bicubic", str(run / "model-2"), str(run / "model_ema-2"),
                         str(run / "model-10")} and "LPIPS" not in rows["bicubic"]
    assert rows[str(run / "model-10")]["PSNR_Y"] == {"better": 0, "median_change": 0.0}
    assert rows[str(run / "model-2")]["PSNR_Y"]["median_change"] != 0.0
    table = capsys.readouterr().out
    assert "PSNR_Y" in table and "a_scene" in table and "mean" in table and "grid" in table
    assert "LPIPS" not in table             # --lpips off: no block of NaNs


def test_reference_counts_scenes_better_and_takes_the_median_change():
    """One scene that swings decides the mean of scenes, not the count or the median."""
    from metrics.validate import against_reference, reference_table

    def method(name, tof, psnr):
        return {"method": name, "scenes": {s: {"PSNR_Y": p, "LPIPS": float("nan"), "tOF": t,
                                               "grid": 0.1, "grid_err": 0.05}
                         for s, t, p in zip("abcde", tof, psnr)}}
    old = method("old", [0.20, 0.30, 0.40, 0.50, 0.60], [30.0] * 5)
    # worse by 0.01 on four scenes, 0.08 better on the last: a lower mean, yet worse
    new = method("new", [0.21, 0.31, 0.41, 0.51, 0.52], [30.1, 30.1, 29.9, 30.2, 30.0])
    result = {"scenes": dict.fromkeys("abcde", 7), "methods": [old, new]}
    compared = against_reference(result, "old")
    row = compared["methods"][0]
    assert compared["scenes"] == 5 and [m["method"] for m in compared["methods"]] == ["new"]
    assert row["tOF"]["better"] == 1 and row["tOF"]["median_change"] == pytest.approx(0.01)
    assert row["PSNR_Y"]["better"] == 3                 # higher PSNR is better; 30.0 is a tie
    assert row["PSNR_Y"]["median_change"] == pytest.approx(0.1)
    assert row["grid"] == {"better": 0, "median_change": 0.0}
    assert "LPIPS" not in row                           # not computed: no column
    text = reference_table(compared)
    assert "1/5 +0.0100" in text and "3/5 +0.1000" in text and "LPIPS" not in text


def test_a_reference_not_listed_is_scored_first(setup):
    from metrics.validate import list_checkpoints, parse_args
    _root, val, models = setup
    args = parse_args(["--checkpoint", models[3], "--val_dir", str(val),
                       "--reference", models[5] + ".index"])
    assert list_checkpoints(args) == ([models[5], models[3]], models[5])
    args = parse_args(["--checkpoint", models[3], "--val_dir", str(val), "--reference", "bicubic"])
    assert list_checkpoints(args) == ([models[3]], "bicubic")


def _bad(tmp_path, setup, val_dir, *extra):
    _root, _val, models = setup
    return run_cli(["-m", "metrics.validate", "--checkpoint", models[3], "--val_dir", val_dir,
                    *extra])


def test_bad_inputs_are_one_error_line(setup, tmp_path):
    _root, val, models = setup
    assert_one_error(*_bad(tmp_path, setup, tmp_path / "absent"), "does not exist")
    (tmp_path / "empty").mkdir()
    assert_one_error(*_bad(tmp_path, setup, tmp_path / "empty"), "holds no scene folders")
    (tmp_path / "no_frames" / "scene").mkdir(parents=True)
    assert_one_error(*_bad(tmp_path, setup, tmp_path / "no_frames"), "scene")
    mixed = write_scene(str(tmp_path / "mixed" / "scene"))
    write_scene(str(tmp_path / "other"), size=(80, 72), frames=1)
    shutil.copy(tmp_path / "other" / "col_high_0000.png", os.path.join(mixed, "col_high_0009.png"))
    assert_one_error(*_bad(tmp_path, setup, tmp_path / "mixed"), "same size")
    write_scene(str(tmp_path / "short" / "scene"), frames=4)
    assert_one_error(*_bad(tmp_path, setup, tmp_path / "short"), "at least 6")
    assert_one_error(*run_cli(["-m", "metrics.validate", "--checkpoint", tmp_path / "nope",
                               "--val_dir", val]), "not found")
    (tmp_path / "run").mkdir()
    assert_one_error(*run_cli(["-m", "metrics.validate", "--run_dir", tmp_path / "run",
                               "--val_dir", val]), "no model-N")
    assert_one_error(*run_cli(["-m", "metrics.validate", "--val_dir", val]), "--checkpoint")
    assert_one_error(*_bad(tmp_path, setup, val, "--reference", tmp_path / "nope"), "not found")


def _numbers(names, tof, scenes="abcde"):
    """A result as --json writes it: per method a tOF per scene, LPIPS not computed (null)."""
    from metrics.validate import mean_over_scenes, no_nan
    methods = []
    for name, values in zip(names, tof):
        per_scene = {s: {"PSNR_Y": 30.0, "LPIPS": float("nan"), "tOF": t, "grid": 0.1,
                         "grid_err": 0.05}
                     for s, t in zip(scenes, values)}
        methods.append({"method": name, "scenes": per_scene, "mean": mean_over_scenes(per_scene)})
    return no_nan({"scenes": dict.fromkeys(scenes, 7), "methods": methods})


def test_from_json_merges_earlier_numbers_and_averages_without_excluded_scenes(tmp_path, capsys):
    """Two files of one run, each with its bicubic row: one table, the baseline once, a second
    mean without the swinging scene 'e', and the reference compared."""
    first, second, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "merged.json"
    first.write_text(json.dumps(_numbers(["bicubic", "run/model_ema-100"],
                                         [[0.3] * 5, [0.20, 0.30, 0.40, 0.50, 0.60]])))
    second.write_text(json.dumps(_numbers(["bicubic", "run/model_ema-200"],
                                          [[0.3] * 5, [0.21, 0.31, 0.41, 0.51, 0.40]])))
    assert validate("--from_json", first, "--from_json", second, "--exclude_scene", "e",
                    "--reference", "run/model_ema-100.index", "--json", out) == 0
    result = json.loads(out.read_text())
    assert [m["method"] for m in result["methods"]] == ["bicubic", "run/model_ema-100",
                                                       "run/model_ema-200"]
    later = result["methods"][2]
    assert later["mean"]["tOF"] == pytest.approx(0.368)         # lower than 100's 0.40 ...
    assert later["mean_excluding"]["tOF"] == pytest.approx(0.36)   # ... but higher without 'e'
    earlier = result["methods"][1]["mean_excluding"]
    assert earlier.pop("excluded") == ["e"] and earlier.pop("LPIPS") is None   # not computed
    assert earlier == pytest.approx({"PSNR_Y": 30.0, "tOF": 0.35, "grid": 0.1, "grid_err": 0.05})
    assert result["against_reference"]["reference"] == "run/model_ema-100"
    assert result["against_reference"]["methods"][1]["tOF"]["better"] == 1
    table = capsys.readouterr().out
    assert "mean excl." in table and "without e" in table and "LPIPS" not in table
    assert "0.3600" in table and "0.3680" in table


def test_from_json_reads_files_written_before_grid_err(tmp_path, capsys):
    """Numbers written before grid_err existed table beside newer ones: not computed there."""
    old_file, new_file, out = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "out.json"
    old = _numbers(["bicubic", "run/model_ema-100"], [[0.3] * 5, [0.2] * 5])
    for method in old["methods"]:
        for numbers in [*method["scenes"].values(), method["mean"]]:
            del numbers["grid_err"]
    old_file.write_text(json.dumps(old))
    new_file.write_text(json.dumps(_numbers(["run/model_ema-200"], [[0.25] * 5])))
    assert validate("--from_json", old_file, "--from_json", new_file, "--json", out,
                    "--reference", "run/model_ema-100") == 0
    methods = {m["method"]: m for m in json.loads(out.read_text())["methods"]}
    assert methods["run/model_ema-100"]["mean"]["grid_err"] is None
    assert methods["run/model_ema-200"]["mean"]["grid_err"] == pytest.approx(0.05)
    assert methods["run/model_ema-100"]["mean"]["tOF"] == pytest.approx(0.2)
    table = capsys.readouterr().out
    assert "grid_err" in table and "nan" in table       # the new file's number, the old's gap

def test_a_selection_rule_is_applied_to_every_checkpoint_and_kept_in_the_json(tmp_path, capsys):
    """--require/--select: the best tOF among checkpoints meeting both requirements; the bicubic
    baseline (best tOF here) is judged but never chosen; a requirement on a metric not computed
    (LPIPS null) is met by nobody; the verdicts and the choice are written with the numbers."""
    numbers, out = tmp_path / "a.json", tmp_path / "out.json"
    numbers.write_text(json.dumps(_numbers(
        ["bicubic", "run/model_ema-100", "run/model_ema-200", "run/model_ema-300"],
        [[0.1] * 5, [0.30, 0.30, 0.30, 0.30, 0.30], [0.20, 0.20, 0.20, 0.20, 1.00],
         [0.25, 0.25, 0.25, 0.25, 0.25]])))
    assert validate("--from_json", numbers, "--exclude_scene", "e", "--json", out,
                    "--require", "tOF <= 0.34", "--require", "tOF_excl<0.3", "--select", "tOF") == 0
    selection = json.loads(out.read_text())["selection"]
    assert selection["chosen"] == "run/model_ema-300"     # 200 has the lowest tOF without e ...
    verdicts = {v["method"]: v for v in selection["methods"]}
    assert [f["requirement"] for f in verdicts["run/model_ema-200"]["failed"]] == ["tOF<=0.34"]
    assert verdicts["run/model_ema-200"]["failed"][0]["value"] == pytest.approx(0.36)
    assert [f["requirement"] for f in verdicts["run/model_ema-100"]["failed"]] == ["tOF_excl<0.3"]
    assert verdicts["bicubic"]["meets"] and verdicts["run/model_ema-300"]["meets"]
    assert selection["requirements"] == ["tOF<=0.34", "tOF_excl<0.3"]
    text = capsys.readouterr().out
    assert "chosen: run/model_ema-300" in text and "fails tOF<=0.34 (0.3600)" in text
    # the same numbers: the excluded mean picks 200; a requirement on LPIPS (not computed) none
    assert validate("--from_json", numbers, "--exclude_scene", "e", "--json", out,
                    "--select", "tOF_excl") == 0
    assert json.loads(out.read_text())["selection"]["chosen"] == "run/model_ema-200"
    assert validate("--from_json", numbers, "--json", out, "--require", "LPIPS<=1",
                    "--select", "PSNR_Y") == 0
    selection = json.loads(out.read_text())["selection"]
    assert selection["chosen"] is None and not any(v["meets"] for v in selection["methods"])
    assert "chosen: none" in capsys.readouterr().out


def test_a_rule_applied_after_training_went_on_sees_only_the_steps_it_names(tmp_path, capsys):
    """--to_step/--from_step/--ema_only on --from_json: a watch's file that also holds checkpoints
    saved after a rule's last candidate (the best tOF here, 400) and before its first (50), and a
    plain model-N, is judged on the candidates only; bicubic and a --checkpoint prefix stay."""
    numbers, out = tmp_path / "watch.json", tmp_path / "out.json"
    names = ["bicubic", "model/shipped/TecoGAN_ours", "run/model_ema-50", "run/model_ema-100",
             "run/model-200", "run/model_ema-200", "run/model_ema-400"]
    numbers.write_text(json.dumps(_numbers(names, [[v] * 5 for v in
                                                   (0.5, 0.35, 0.1, 0.3, 0.15, 0.25, 0.2)])))
    rule = ["--from_json", numbers, "--json", out, "--select", "tOF"]
    assert validate(*rule) == 0
    assert json.loads(out.read_text())["selection"]["chosen"] == "run/model_ema-50"
    capsys.readouterr()
    assert validate(*rule, "--from_step", 100, "--to_step", 399, "--ema_only") == 0
    result = json.loads(out.read_text())
    assert [m["method"] for m in result["methods"]] == [
        "bicubic", "model/shipped/TecoGAN_ours", "run/model_ema-100", "run/model_ema-200"]
    assert result["selection"]["chosen"] == "run/model_ema-200"
    assert "run/model_ema-400" not in capsys.readouterr().out
    # without --ema_only the plain model-200 is a candidate too (and the best of them)
    assert validate(*rule, "--from_step", 100, "--to_step", 200) == 0
    assert json.loads(out.read_text())["selection"]["chosen"] == "run/model-200"
    from lib.errors import UserError
    with pytest.raises(UserError, match="no model_ema-N checkpoint with N >= 401"):
        validate(*rule, "--from_step", 401, "--ema_only")
    with pytest.raises(UserError, match=r"--to_step 50: give a step >= --from_step \(100\)"):
        validate(*rule, "--from_step", 100, "--to_step", 50)
    with pytest.raises(UserError, match="--reference 'run/model_ema-400' is outside"):
        validate(*rule, "--to_step", 300, "--reference", "run/model_ema-400")


def test_to_step_leaves_out_a_run_folders_later_checkpoints(setup, tmp_path):
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model_ema-100", "model_ema-200", "model_ema-300"):
        for suffix in (".index", ".data-00000-of-00001"):
            shutil.copy(models[3] + suffix, run / f"{name}{suffix}")
    out = tmp_path / "numbers.json"
    validate("--run_dir", run, "--val_dir", val, "--num_resblock", 2, "--lpips", "off",
             "--to_step", 200, "--from_step", 150, "--json", out)
    assert [m["method"] for m in json.loads(out.read_text())["methods"]] == [
        "bicubic", str(run / "model_ema-200")]
    from lib.errors import UserError
    with pytest.raises(UserError, match="holds no model-N checkpoint with N >= 0 and N <= 99"):
        validate("--run_dir", run, "--val_dir", val, "--to_step", 99)


def test_a_malformed_selection_rule_is_one_error_line_before_scoring(setup, tmp_path):
    _root, val, _models = setup
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_numbers(["bicubic"], [[0.3] * 5])))

    def rule(*extra):
        return run_cli(["-m", "metrics.validate", "--from_json", good, *extra])
    assert_one_error(*rule("--require", "LPIPS=0.2"), "METRIC OP NUMBER")
    assert_one_error(*rule("--require", "LPIPS<=0.2.1"), "METRIC OP NUMBER")
    assert_one_error(*rule("--require", "LPIPS<=nan"), "METRIC OP NUMBER")
    assert_one_error(*rule("--require", "SSIM>=0.7"), "not a metric")
    assert_one_error(*rule("--select", "tOF_excl"), "needs --exclude_scene")
    assert_one_error(*rule("--select", "speed"), "not a metric")
    # scoring: the rule is checked before anything is scored
    assert_one_error(*_bad(tmp_path, setup, val, "--require", "tOF<"), "METRIC OP NUMBER")


def test_from_json_bad_inputs_are_one_error_line(setup, tmp_path):
    _root, val, models = setup
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_numbers(["bicubic"], [[0.3] * 5])))
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_numbers(["bicubic"], [[0.3] * 4], scenes="abcd")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"scenes": {"a": 7}, "methods": [{"method": "x", "scenes": {}}]}')
    text = tmp_path / "text.json"
    text.write_text("not json")

    def from_json(*extra):
        return run_cli(["-m", "metrics.validate", *extra])
    assert_one_error(*from_json("--from_json", good, "--val_dir", val), "without --val_dir")
    assert_one_error(*from_json("--from_json", tmp_path / "absent.json"), "does not exist")
    assert_one_error(*from_json("--from_json", text), "not a file written by --json")
    assert_one_error(*from_json("--from_json", broken), "not a file written by --json")
    empty = tmp_path / "empty.json"
    empty.write_text('{"scenes": {}, "methods": []}')
    assert_one_error(*from_json("--from_json", empty), "not a file written by --json")
    assert_one_error(*from_json("--from_json", good, "--from_json", other), "other scenes")
    assert_one_error(*from_json("--from_json", good, "--exclude_scene", "z"), "no such scene")
    assert_one_error(*from_json("--from_json", other, *sum([["--exclude_scene", s] for s in "abcd"],
                                                            [])), "leaves no scene")
    assert_one_error(*from_json("--from_json", good, "--reference", "run/model-9"),
                     "not among the methods")
    assert_one_error(*from_json("--checkpoint", models[3]), "--val_dir")
    # scoring: an unknown scene is reported before anything is scored
    assert_one_error(*_bad(tmp_path, setup, val, "--exclude_scene", "z_scene"), "no such scene")


def test_from_json_means_come_from_the_scenes_not_the_file(tmp_path, capsys):
    """A file's own means are not trusted: a method without one, or with a stale
    ``mean_excluding`` (another run's --exclude_scene), tables with the means of its scenes."""
    first, second, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "out.json"
    edited = _numbers(["bicubic", "run/model_ema-100"], [[0.3] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]])
    del edited["methods"][1]["mean"]
    edited["methods"][0]["mean_excluding"] = {"excluded": ["a"], "tOF": 9.0}
    first.write_text(json.dumps(edited))
    second.write_text(json.dumps(_numbers(["run/model_ema-200"], [[0.2] * 5])))
    assert validate("--from_json", first, "--from_json", second, "--json", out) == 0
    methods = json.loads(out.read_text())["methods"]
    assert methods[1]["mean"]["tOF"] == pytest.approx(0.3)
    assert not any("mean_excluding" in m for m in methods)
    assert "mean excl." not in capsys.readouterr().out
    assert validate("--from_json", second, "--from_json", first, "--exclude_scene", "e",
                    "--exclude_scene", "e", "--json", out) == 0
    methods = {m["method"]: m for m in json.loads(out.read_text())["methods"]}
    assert methods["bicubic"]["mean_excluding"]["excluded"] == ["e"]
    assert methods["bicubic"]["mean_excluding"]["tOF"] == pytest.approx(0.3)
    assert methods["run/model_ema-100"]["mean_excluding"]["tOF"] == pytest.approx(0.25)


def test_from_json_results_that_cannot_be_compared_or_kept_are_one_error_line(tmp_path):
    def from_json(*extra):
        return run_cli(["-m", "metrics.validate", *map(str, extra)])

    def written(name, result):
        (tmp_path / name).write_text(json.dumps(result))
        return tmp_path / name
    numbered = written("named.json", {**_numbers(["x"], [[0.3] * 5])})
    numbered.write_text(numbered.read_text().replace('"method": "x"', '"method": 5'))
    assert_one_error(*from_json("--from_json", numbered), "not a file written by --json")
    boolean = _numbers(["x"], [[0.3] * 5])
    boolean["methods"][0]["scenes"]["a"]["tOF"] = True
    assert_one_error(*from_json("--from_json", written("bool.json", boolean)),
                     "not a file written by --json")
    no_bicubic = written("runs.json", _numbers(["run/model_ema-1", "run/model_ema-2"],
                                                [[0.3] * 5, [0.2] * 5]))
    assert_one_error(*from_json("--from_json", no_bicubic, "--reference", "bicubic"),
                     "not among the methods")
    alone = written("alone.json", _numbers(["bicubic"], [[0.3] * 5]))
    assert_one_error(*from_json("--from_json", alone, "--reference", "bicubic"),
                     "no other method to compare")
    infinite = _numbers(["x"], [[0.3] * 5])
    infinite["methods"][0]["scenes"]["b"]["PSNR_Y"] = float("inf")
    assert_one_error(*from_json("--from_json", written("inf.json", infinite)),
                     "not a file written by --json")
    longer = written("longer.json", {**_numbers(["y"], [[0.3] * 5]), "scenes": dict.fromkeys(
        "abcde", 8)})
    assert_one_error(*from_json("--from_json", alone, "--from_json", longer),
                     "(a (8 frames), b (8 frames)")
    before = no_bicubic.read_text()
    assert_one_error(*from_json("--from_json", no_bicubic, "--to_step", 1, "--json", no_bicubic),
                     "would lose their numbers")
    assert no_bicubic.read_text() == before


def test_json_and_plot_go_into_folders_made_for_them(tmp_path):
    numbers = tmp_path / "a.json"
    numbers.write_text(json.dumps(_numbers(["bicubic", "run/model_ema-100"],
                                           [[0.3] * 5, [0.2] * 5])))
    out, drawing = tmp_path / "new" / "deeper" / "out.json", tmp_path / "figs" / "curve.png"
    assert validate("--from_json", numbers, "--json", out, "--plot", drawing) == 0
    assert json.loads(out.read_text())["methods"][1]["method"] == "run/model_ema-100"
    assert drawing.stat().st_size > 10_000


def test_a_refused_run_makes_no_folder_for_json_or_plot(tmp_path):
    """The folders of --json and --plot are made when the file is written: a run refused after
    those flags were checked (here a missing --from_json file) leaves nothing behind."""
    from lib.errors import UserError
    out, drawing = tmp_path / "new" / "deeper" / "out.json", tmp_path / "figs" / "curve.png"
    with pytest.raises(UserError, match="does not exist"):
        validate("--from_json", tmp_path / "absent.json", "--json", out, "--plot", drawing)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_rule_whose_metric_was_not_computed_says_so(tmp_path, capsys):
    numbers, out = tmp_path / "a.json", tmp_path / "out.json"
    numbers.write_text(json.dumps(_numbers(["bicubic", "run/model_ema-100"],
                                           [[0.3] * 5, [0.2] * 5])))
    assert validate("--from_json", numbers, "--json", out, "--select", "LPIPS") == 0
    selection = json.loads(out.read_text())["selection"]
    assert selection["chosen"] is None
    assert "1 checkpoint(s) that meet every requirement have no LPIPS number" \
        in selection["none_because"]
    assert f"chosen: none ({selection['none_because']})" in capsys.readouterr().out


def test_without_num_resblock_each_checkpoint_brings_its_own(setup, tmp_path):
    """A 2-block model, the same model grown to 3 blocks (the same output) and another 2-block
    model in one table, each built at its own size."""
    import tensorflow as tf
    from lib.models.checkpoint import load_official, save_official
    from lib.models.networks import FNet, Generator
    _root, val, models = setup
    generator, fnet = Generator(3), FNet()      # block 3 adds zero (--init_missing_resblocks)
    variables = {**generator.official_variables(), **fnet.official_variables()}
    assert len(load_official(variables, models[3], allow_missing=True)) == 4
    conv_2 = generator.resblocks[2][1]
    conv_2.kernel.assign(tf.zeros_like(conv_2.kernel))
    conv_2.bias.assign(tf.zeros_like(conv_2.bias))
    grown = save_official(variables, str(tmp_path / "grown" / "model"), write_state_file=False)
    out = tmp_path / "numbers.json"
    assert validate("--checkpoint", models[3], "--checkpoint", grown, "--checkpoint", models[5],
                    "--val_dir", val, "--json", out, "--lpips", "off") == 0
    numbers = {m["method"]: m["mean"] for m in json.loads(out.read_text())["methods"]}
    for metric in ("PSNR_Y", "tOF", "grid", "grid_err"):
        assert numbers[grown][metric] == pytest.approx(numbers[models[3]][metric], abs=1e-3)
    assert numbers[models[5]]["PSNR_Y"] != pytest.approx(numbers[models[3]]["PSNR_Y"], abs=1e-3)
    # a size given is every checkpoint's: the grown model does not fit 2 blocks
    from lib.errors import UserError
    with pytest.raises(UserError, match="3 residual blocks"):
        validate("--checkpoint", grown, "--val_dir", val, "--num_resblock", 2, "--lpips", "off")
    with pytest.raises(UserError, match="at least 1"):
        validate("--checkpoint", grown, "--val_dir", val, "--num_resblock", 0, "--lpips", "off")


def test_an_empty_json_is_refused_not_taken_for_no_json(tmp_path, capsys):
    """--json "" was falsy: the numbers were silently not written."""
    from lib.errors import run_cli as run
    from metrics.validate import main
    with pytest.raises(SystemExit) as exc:
        run(main, ["--val_dir", str(tmp_path), "--checkpoint", "x", "--json", ""])
    assert exc.value.code == 2 and capsys.readouterr().err == "error: --json is empty\n"
