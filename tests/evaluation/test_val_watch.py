"""``python3 -m metrics.validate --watch``: checkpoints saved while it watches are scored as the
plain command scores them, in step order, into a JSON it resumes from and into tensorboard
scalars; bad combinations of options are one error line."""
import json
import os
import re
import shutil

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from test_validate import setup  # noqa: F401  (the scenes and two random models, as there)


def save_as(model, run, name):
    """Copy a checkpoint into a run folder as ``name`` (data first, index last, as TF writes)."""
    for suffix in (".data-00000-of-00001", ".index"):
        shutil.copy(model + suffix, run / f"{name}{suffix}")


def validate(*args):
    from metrics.validate import main
    return main([str(a) for a in args])


def scalars(folder):
    """{tag: {step: value}} of the tensorboard event files in ``folder``."""
    from lib.train.summaries import read_events
    return {tag: dict(values) for tag, values in read_events(str(folder)).items()}


def test_watch_scores_new_checkpoints_in_order_and_resumes(setup, tmp_path, monkeypatch, capsys):
    import metrics.val_watch as val_watch
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    save_as(models[3], run, "model-100")          # before --from_step: never scored
    save_as(models[5], run, "model_ema-200")
    save_as(models[3], run, "model-200")          # not EMA: not scored with --ema_only
    out = tmp_path / "watch.json"
    saved_later = iter([("model_ema-300", models[3]), ("model_ema-250", models[5])])
    sleeps = []

    def training_saves(seconds):                  # the training saves one checkpoint per poll
        sleeps.append(seconds)
        name_model = next(saved_later, None)
        if name_model:
            save_as(name_model[1], run, name_model[0])

    monkeypatch.setattr(val_watch.time, "sleep", training_saves)
    assert validate("--run_dir", run, "--val_dir", val, "--num_resblock", 2, "--lpips", "off",
                    "--watch", "--ema_only", "--from_step", 150, "--poll", 7,
                    "--stop_after", 14, "--exclude_scene", "b_scene", "--json", out,
                    "--plot", tmp_path / "curve.png") == 0
    result = json.loads(out.read_text())
    names = [m["method"] for m in result["methods"]]
    assert names == ["bicubic", str(run / "model_ema-200"), str(run / "model_ema-300"),
                     str(run / "model_ema-250")]          # in the order they were saved
    # two polls found a checkpoint, then two empty polls of 7 s reach --stop_after 14
    assert sleeps == [7, 7, 7, 7]
    printed = capsys.readouterr().out
    assert f"{run / 'model_ema-300'}: PSNR_Y" in printed and "without b_scene" in printed
    assert "stopped" in printed
    assert (tmp_path / "curve.png").stat().st_size > 10_000      # drawn (metrics/val_plot.py)

    # the numbers are the plain command's for the same weights
    plain = tmp_path / "plain.json"
    validate("--checkpoint", models[5], "--checkpoint", models[3], "--val_dir", val,
             "--num_resblock", 2, "--lpips", "off", "--json", plain)
    by_weights = {m["method"]: m["mean"] for m in json.loads(plain.read_text())["methods"]}
    watched = {m["method"]: m for m in result["methods"]}
    for name, model in (("model_ema-200", models[5]), ("model_ema-300", models[3])):
        for key in ("PSNR_Y", "tOF", "grid"):
            assert watched[str(run / name)]["mean"][key] == pytest.approx(by_weights[model][key],
                                                                          abs=1e-9)
        assert watched[str(run / name)]["mean_excluding"]["excluded"] == ["b_scene"]
    assert by_weights[models[5]]["PSNR_Y"] != by_weights[models[3]]["PSNR_Y"]

    # tensorboard: val/... at each EMA checkpoint's step, in RUN/log/validation_ema only
    found = scalars(run / "log" / "validation_ema")
    assert sorted(found["val/PSNR_Y"]) == [200, 250, 300]
    assert found["val/PSNR_Y"][300] == pytest.approx(watched[str(run / "model_ema-300")]
                                                     ["mean"]["PSNR_Y"], rel=1e-6)
    assert found["val_excl/tOF"][200] == pytest.approx(watched[str(run / "model_ema-200")]
                                                       ["mean_excluding"]["tOF"], rel=1e-6)
    assert "val/LPIPS" not in found                       # --lpips off: no NaN curve
    assert not (run / "log" / "validation").exists()

    # started again, with a selection rule: nothing scored twice, a new checkpoint appended and
    # judged on its line (it fails the rule: it holds models[3]'s weights, whose grid is larger)
    save_as(models[3], run, "model_ema-400")
    monkeypatch.setattr(val_watch.time, "sleep", lambda seconds: None)
    small, large = by_weights[models[5]]["grid"], by_weights[models[3]]["grid"]
    assert small < large
    validate("--run_dir", run, "--val_dir", val, "--num_resblock", 2, "--lpips", "off",
             "--watch", "--ema_only", "--from_step", 150, "--stop_after", 0, "--json", out,
             "--require", f"grid<={(small + large) / 2}", "--select", "PSNR_Y")
    again = json.loads(out.read_text())
    assert [m["method"] for m in again["methods"]] == names + [str(run / "model_ema-400")]
    assert again["methods"][1] == {k: v for k, v in result["methods"][1].items()
                                   if k != "mean_excluding"}
    printed = capsys.readouterr().out
    assert "4 method(s) already in" in printed
    assert f"{run / 'model_ema-400'}: PSNR_Y" in printed
    assert f"{run / 'model_ema-200'}: " not in printed
    assert "  rule: fails grid<=" in printed       # the line after model_ema-400's numbers
    verdicts = {v["method"]: v["meets"] for v in again["selection"]["methods"]}
    assert verdicts == {"bicubic": True, str(run / "model_ema-200"): True,
                        str(run / "model_ema-300"): False, str(run / "model_ema-250"): True,
                        str(run / "model_ema-400"): False}
    # 200 and 250 hold the same weights: of equals, the first listed is chosen
    assert again["selection"]["chosen"] == str(run / "model_ema-200")
    assert f"chosen so far: {run / 'model_ema-200'}" in printed

    # started again with a later rule's range: the file keeps model_ema-200, but the rule judges
    # only N >= 225, so the same weights saved as model_ema-250 are chosen (not the earlier 200),
    # on the new checkpoint's line (model_ema-500, the same weights again: the first is chosen)
    save_as(models[5], run, "model_ema-500")
    validate("--run_dir", run, "--val_dir", val, "--num_resblock", 2, "--lpips", "off",
             "--watch", "--ema_only", "--from_step", 225, "--stop_after", 0, "--json", out,
             "--require", f"grid<={(small + large) / 2}", "--select", "PSNR_Y")
    later = json.loads(out.read_text())
    assert [m["method"] for m in later["methods"]] == [m["method"] for m in again["methods"]] \
        + [str(run / "model_ema-500")]
    assert {v["method"] for v in later["selection"]["methods"]} == {
        "bicubic", *(str(run / f"model_ema-{n}") for n in (300, 250, 400, 500))}
    assert later["selection"]["chosen"] == str(run / "model_ema-250")
    printed = capsys.readouterr().out
    assert f"chosen so far: {run / 'model_ema-250'}" in printed
    assert f"chosen: {run / 'model_ema-250'}" in printed


def test_unreadable_checkpoint_is_skipped_and_ctrl_c_keeps_the_numbers(setup, tmp_path,
                                                                       monkeypatch, capsys):
    import metrics.val_watch as val_watch
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    save_as(models[3], run, "model-10")
    (run / "model-20.index").write_bytes(b"not a tensor bundle")
    (run / "model-20.data-00000-of-00001").write_bytes(b"\0" * 64)
    save_as(models[5], run, "model-30")

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(val_watch.time, "sleep", interrupt)
    out = tmp_path / "watch.json"
    assert validate("--run_dir", run, "--val_dir", val, "--num_resblock", 2, "--lpips", "off",
                    "--watch", "--json", out) == 0
    printed = capsys.readouterr().out
    assert f"skipped {run / 'model-20'}: it cannot be read" in printed
    assert "stopped (Ctrl-C)" in printed and "PSNR_Y" in printed       # and the table
    methods = json.loads(out.read_text())["methods"]
    assert [m["method"] for m in methods] == ["bicubic", str(run / "model-10"),
                                              str(run / "model-30")]
    assert np.isfinite(methods[2]["mean"]["PSNR_Y"])


def test_a_resumed_watch_waits_stop_after_and_knows_the_run_folder_however_spelled(
        setup, tmp_path, monkeypatch, capsys):
    """--stop_after counts the seconds waited since the last checkpoint (none scored on the
    restart), and 'run/./' names the checkpoints 'run' named: nothing is scored twice."""
    import metrics.val_watch as val_watch
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    save_as(models[3], run, "model-10")
    sleeps = []
    monkeypatch.setattr(val_watch.time, "sleep", sleeps.append)
    out = tmp_path / "watch.json"
    spelled = os.path.join(os.path.dirname(models[5]), ".", os.path.basename(models[5]))
    common = ["--val_dir", val, "--num_resblock", 2, "--lpips", "off", "--watch", "--json", out,
              "--checkpoint", spelled]       # a fixed checkpoint, not normalised: kept as given
    assert validate(*common, "--run_dir", run, "--stop_after", 0) == 0
    assert sleeps == []                       # scored, looked once more at once, stopped
    first = json.loads(out.read_text())["methods"]
    capsys.readouterr()
    assert validate(*common, "--run_dir", f"{run}/./", "--poll", 30, "--stop_after", 30) == 0
    assert sleeps == [30]                     # waited 30 s for a new checkpoint, not 0
    assert json.loads(out.read_text())["methods"] == first
    printed = capsys.readouterr().out
    assert "no new checkpoint for 30 s" in printed and "model-10: PSNR_Y" not in printed
    assert f"{spelled}: PSNR_Y" not in printed and len(first) == 3    # bicubic, it, model-10


def test_watch_bad_inputs_are_one_error_line(setup, tmp_path):
    _root, val, models = setup
    run = tmp_path / "run"
    run.mkdir()
    common = ["--val_dir", val, "--num_resblock", 2, "--lpips", "off"]
    json_path = tmp_path / "w.json"
    cases = [
        (["--run_dir", run, "--watch"], "--watch needs --run_dir"),
        (["--checkpoint", models[3], "--watch", "--json", json_path], "--watch needs --run_dir"),
        (["--run_dir", run, "--watch", "--json", json_path, "--poll", 0], "--poll 0.0"),
        (["--run_dir", run, "--watch", "--json", json_path, "--stop_after", -1],
         "--stop_after -1.0"),
        (["--run_dir", run, "--watch", "--json", json_path, "--poll", "inf"], "--poll inf"),
        (["--run_dir", run, "--watch", "--json", json_path, "--stop_after", "inf"],
         "--stop_after inf"),
        (["--run_dir", run, "--json", json_path, "--stop_after", 5], "go with --watch"),
        (["--checkpoint", models[3], "--from_step", 5], "give --run_dir"),
        (["--checkpoint", models[3], "--to_step", 5], "give --run_dir"),
        (["--run_dir", run, "--from_step", -2], "--from_step -2"),
    ]
    from lib.errors import UserError
    for extra, message in cases:
        with pytest.raises(UserError, match=re.escape(message)):
            validate(*common, *extra)
    # the command line: one error line, exit status 2, before TensorFlow loads
    assert_one_error(*run_cli(["-m", "metrics.validate", *common, "--run_dir", run, "--watch"]),
                     "--watch needs --run_dir")
    # numbers of other scenes are never mixed in
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"scenes": {"x": 7}, "methods": [
        {"method": "bicubic", "scenes": {"x": {"PSNR_Y": 1.0, "LPIPS": None, "tOF": 1.0,
                                               "grid": 0.1}}}]}))
    with pytest.raises(UserError, match="holds numbers of other validation scenes"):
        validate(*common, "--run_dir", run, "--watch", "--stop_after", 0, "--json", other)
    # a file that is not a record of numbers is neither read as one nor replaced
    notes = tmp_path / "notes.json"
    notes.write_text("my notes")
    with pytest.raises(UserError, match="is not a file written by --json .*give another file"):
        validate(*common, "--run_dir", run, "--watch", "--stop_after", 0, "--json", notes)
    assert notes.read_text() == "my notes"
    # a run folder with checkpoints, none of them EMA
    save_as(models[3], run, "model-5")
    with pytest.raises(UserError, match="no model_ema-N checkpoint with N >= 0"):
        validate(*common, "--run_dir", run, "--ema_only")
