"""Every runGan flag means what it says (issue 18): each flag a mode takes reaches the program the
mode runs, with the user's value; a flag it does not take, a misspelt one or a stray word is one
``error:`` line (exit 2) before anything runs; ``runGan.py N --help`` prints that mode's help and
runs nothing.

The value check runs runGan.main in-process with its launch point replaced by a recorder
(runGan.call_main for mode 1, the recipes' launch for 3/4, the downloader's fetch for 0,
metrics' run_mode2 for 2), then parses the recorded main.py arguments with main.py's own flags.
"""
import os
import sys

import pytest
from absl import flags

from cli_helpers import assert_one_error, run_cli
from conftest import REPO_ROOT

sys.path.insert(0, REPO_ROOT)
import runGan  # noqa: E402
import lib.flags  # noqa: E402,F401  (main.py's flags)
from lib.errors import UserError  # noqa: E402
from lib.rungan import MODES, main_flag_names, mode_specs  # noqa: E402

FLAGS = flags.FLAGS
RUNGAN = os.path.join(REPO_ROOT, "runGan.py")


def parsed(args):
    """{flag: value} as main.py would see ``args`` (absl: the last value of a flag wins)."""
    FLAGS.unparse_flags()
    try:
        FLAGS(["main.py"] + [str(a) for a in args])
        return {name: FLAGS[name].value for name in FLAGS}
    finally:
        FLAGS.unparse_flags()


def user_values(name):
    """[(command-line words, the value main.py must get)] for main.py flag ``name``: a value
    unlike its default (and unlike runGan's own) of the flag's type; booleans both ways."""
    flag = FLAGS[name]
    if flag.boolean:
        return [([f"--{name}"], True), ([f"--no{name}"], False)]
    if flag.parser.flag_type() == "int":
        return [([f"--{name}", "3"], 3)]
    if flag.parser.flag_type() == "float":
        return [([f"--{name}", "0.25"], 0.25)]
    choices = getattr(flag.parser, "enum_values", None)
    if choices:
        other = [c for c in choices if c != flag.default][0]
        return [([f"--{name}", other], other)]
    return [([f"--{name}", f"user_{name}"], f"user_{name}")]


def cases(mode):
    return [pytest.param(words, value, id=" ".join(words))
            for name in main_flag_names(mode) for words, value in user_values(name)]


@pytest.fixture
def launched(monkeypatch, tmp_path):
    """The argument lists runGan hands to main.py (mode 1, or 3/4), recorded, not run."""
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runGan, "call_main", lambda args: calls.append(list(args)) or 0)
    import lib.train.recipes as recipes
    monkeypatch.setattr(recipes, "launch_forwarding_signals",
                        lambda args: calls.append(list(args)) or 0)
    import lib.io.assets as assets
    monkeypatch.setattr(assets, "ensure_vgg19",
                        lambda model_dir, mirror=None: os.path.join(model_dir, "vgg_19.ckpt"))
    monkeypatch.setattr(assets, "ensure_frvsr_model",
                        lambda model_dir, mirror=None: os.path.join(model_dir, "ourFRVSR"))
    from lib.infer import demo
    monkeypatch.setattr(demo, "write_comparison", lambda *a, **k: None)
    monkeypatch.setattr(demo, "checkpoint_num_resblock", lambda prefix: 7)
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("TECOGAN_TRAIN_DATA", str(tmp_path / "data"))
    return calls


def run_mode(calls, mode, words):
    assert runGan.main(["runGan.py", str(mode)] + list(words)) == 0
    assert len(calls) == 1
    return parsed(calls[0])


@pytest.fixture(params=["shipped", "official"])
def inference_setup(request, launched, tmp_path):
    """Mode 1 both ways: without ./model/TecoGAN (the shipped model) and with it."""
    (tmp_path / "LR" / "calendar").mkdir(parents=True)    # the default input with --checkpoint
    if request.param == "official":
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "TecoGAN.index").write_bytes(b"")
    return launched


@pytest.mark.parametrize("words, value", cases(1))
def test_mode1_flag_reaches_main(inference_setup, words, value):
    values = run_mode(inference_setup, 1, words)
    name = words[0].lstrip("-")
    name = name[2:] if name not in FLAGS else name
    assert values[name] == value
    assert values["mode"] == "inference"


def test_mode1_input_dir_hr_is_the_input(inference_setup):
    """The fresh-machine bug: --input_dir_HR given, the default --input_dir_LR (the demo clip or
    ./LR/calendar) is no longer passed, so main.py super-resolves the user's clip."""
    values = run_mode(inference_setup, 1, ["--input_dir_HR", "/clips/bikes.mp4",
                                           "--input_dir_len", "6", "--output_ext", "png"])
    assert values["input_dir_HR"] == "/clips/bikes.mp4" and values["input_dir_LR"] is None
    assert values["output_pre"] == "bikes" and values["input_dir_len"] == 6


def test_mode1_defaults_are_the_originals(inference_setup):
    values = run_mode(inference_setup, 1, [])
    assert values["output_dir"] == "./results/" and values["summary_dir"] == "./results/log/"
    assert values["output_ext"] == "png" and values["input_dir_LR"] is not None


def test_mode1_output_dir_takes_the_logs_along(inference_setup, tmp_path):
    values = run_mode(inference_setup, 1, ["--output_dir", "elsewhere"])
    assert values["output_dir"] == "elsewhere" and values["summary_dir"] is None
    assert not (tmp_path / "results").exists()


def test_mode1_checkpoint_brings_its_block_count(inference_setup):
    """--checkpoint P without --num_resblock: the count is read from P (7 here, from the
    stand-in reader), not the official model's 16; a given --num_resblock wins."""
    calls = inference_setup
    assert run_mode(calls, 1, ["--checkpoint", "other/model"])["num_resblock"] == 7
    calls.clear()
    values = run_mode(calls, 1, ["--checkpoint", "other/model", "--num_resblock", "5"])
    assert values["num_resblock"] == 5 and values["checkpoint"] == "other/model"


def test_checkpoint_block_count_is_read_from_the_file():
    from lib.infer import demo
    shipped = demo.shipped_checkpoint("FRVSR")
    assert demo.checkpoint_num_resblock(shipped) == demo.SHIPPED_BLOCKS["FRVSR"] != 16


@pytest.mark.parametrize("mode", [3, 4])
@pytest.mark.parametrize("words, value", cases(3))
def test_training_flag_reaches_main(launched, mode, words, value):
    values = run_mode(launched, mode, words)
    name = words[0].lstrip("-")
    name = name[2:] if name not in FLAGS else name
    if name == "output_dir":        # names the run folder (logs inside it too)
        assert values["output_dir"] == f"{value}/" and values["summary_dir"] == f"{value}/log/"
    else:
        assert values[name] == value
    assert values["mode"] == "train"


@pytest.mark.parametrize("mode", [3, 4])
def test_training_runner_options_reach_main(launched, tmp_path, mode):
    other_data = tmp_path / "other_data"
    other_data.mkdir()
    values = run_mode(launched, mode, ["--train_data", str(other_data), "--run_dir", "my_run",
                                       "--model_dir", "weights"])
    assert values["input_video_dir"] == str(other_data) and values["output_dir"] == "my_run/"
    if mode == 3:
        assert values["vgg_ckpt"] == os.path.join("weights", "vgg_19.ckpt")
        assert values["checkpoint"] == os.path.join("weights", "ourFRVSR")


def test_mode0_flags_reach_the_downloader(monkeypatch, tmp_path):
    import lib.io.assets as assets
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(assets, "fetch_test_data",
                        lambda root, **kw: calls.append(dict(kw, root=root)) or {})
    assert runGan.main(["runGan.py", "0", "--parts", "vid4", "--mirror", "/m", "--overwrite",
                        "--root", "here"]) == 0
    assert calls == [{"root": "here", "parts": "vid4", "mirror": "/m", "overwrite": True}]
    assert set(mode_specs(0)) == {"parts", "mirror", "overwrite", "root"}


@pytest.mark.parametrize("words, key, value", [
    (["--results_root", "R"], "results_root", "R"), (["--hr_root", "H"], "hr_root", "H"),
    (["--lr_root", "L"], "lr_root", "L"), (["--output", "O"], "output", "O"),
    (["--no_bicubic"], "with_bicubic", False), (["--lpips", "off"], "lpips", "off"),
    (["--lpips", "torch"], "lpips", "torch"), (["--lpips", "tf"], "lpips", "tf")])
def test_mode2_flag_reaches_run_mode2(monkeypatch, words, key, value):
    import metrics.evaluate as evaluate
    calls = []
    monkeypatch.setattr(evaluate, "run_mode2", lambda **kw: calls.append(kw))
    assert runGan.main(["runGan.py", "2"] + words) == 0
    assert len(calls) == 1 and calls[0][key] == value


def test_every_mode2_flag_is_covered():
    assert set(mode_specs(2)) == {"results_root", "hr_root", "lr_root", "output", "no_bicubic",
                                  "lpips"}


@pytest.mark.parametrize("mode, words, fragments", [
    (1, ["--input_dir_lr", "x"], ["has no flag --input_dir_lr", "did you mean --input_dir_LR?"]),
    (1, ["--OUTPUT_EXT", "mp4"], ["did you mean --output_ext?"]),
    (1, ["--chekpoint", "x"], ["did you mean --checkpoint?"]),
    (3, ["--max_iters", "5"], ["runGan.py 3 (train TecoGAN) has no flag --max_iters",
                               "did you mean --max_iter?"]),
    (4, ["--train-data", "x"], ["did you mean --train_data?"]),
    (0, ["--part", "vid4"], ["runGan.py 0 (download) has no flag --part",
                             "did you mean --parts?"]),
    (2, ["--nobicubic"], ["did you mean --no_bicubic?"]),
    (2, ["--checkpoint", "X"], ["runGan.py 2 (evaluation) does not take --checkpoint",
                                "modes 1, 3, 4"]),
    (1, ["--max_iter", "5"], ["runGan.py 1 (inference) does not take --max_iter"]),
    (1, ["--train_data", "d"], ["does not take --train_data", "modes 3, 4"]),
    (3, ["--input_dir_LR", "x"], ["runGan.py 3 (train TecoGAN) does not take --input_dir_LR",
                                  "mode 1"]),
    (4, ["--output_ext", "mp4"], ["runGan.py 4 (train FRVSR) does not take --output_ext"]),
    (0, ["--checkpoint", "X"], ["runGan.py 0 (download) does not take --checkpoint"]),
    (1, ["--mode", "train"], ["does not take --mode"]),
    (1, ["calendar"], ["unexpected argument 'calendar'"]),
    (1, ["--output_ext"], ["--output_ext needs a value"]),
    (2, ["--lpips", "bogus"], ["invalid choice: 'bogus'"]),
])
def test_flags_a_mode_does_not_take_are_refused(launched, mode, words, fragments):
    with pytest.raises(UserError) as err:
        runGan.main(["runGan.py", str(mode)] + words)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert "\n" not in str(err.value) and launched == []


def test_refusal_is_one_line_exit_2_before_anything_runs(tmp_path):
    status, stdout, stderr = run_cli([RUNGAN, "1", "--input_dir_lr", "x"], cwd=tmp_path)
    assert_one_error(status, stdout, stderr, "did you mean --input_dir_LR?")
    assert "Testing test case" not in stdout and os.listdir(tmp_path) == []
    status, stdout, stderr = run_cli([RUNGAN, "2", "--checkpoint", "X"], cwd=tmp_path)
    assert_one_error(status, stdout, stderr, "runGan.py 2 (evaluation) does not take")


def test_main_py_unknown_flag_is_one_line(tmp_path):
    status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "main.py"), "--input_dir_lr", "x"],
                                     cwd=tmp_path)
    assert_one_error(status, stdout, stderr, "main.py has no flag --input_dir_lr",
                     "did you mean --input_dir_LR?")
    status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "main.py"), "--num_resblock",
                                      "many"], cwd=tmp_path)
    assert_one_error(status, stdout, stderr, "--num_resblock")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_mode_help_lists_its_flags_and_runs_nothing(tmp_path, mode):
    status, stdout, stderr = run_cli([RUNGAN, str(mode), "--input_dir_LR", "x", "--help"],
                                     cwd=tmp_path)
    assert status == 0 and stderr == "", stderr
    assert "Testing test case" not in stdout and os.listdir(tmp_path) == []
    assert stdout.lstrip().startswith(f"{mode}  ")          # runGan's own description first
    specs = mode_specs(mode)
    missing = [n for n in specs if f"--{n}" not in stdout and f"--[no]{n}" not in stdout
               and not (n.startswith("no") and n[2:] in specs)]     # --noNAME: as --[no]NAME
    assert missing == []
    others = {n for m in MODES if m != mode for n in mode_specs(m)} - set(specs)
    listed = [n for n in others if f"--{n}:" in stdout or f"--[no]{n}:" in stdout
              or f"  --{n} " in stdout]
    assert listed == []                                       # no other mode's flag


def test_single_dash_flags_mean_the_same(inference_setup, tmp_path):
    """absl takes ``-flag value`` and ``-flag=value``: runGan reads them as ``--flag``, so the
    user's input and output folder win over its defaults (not both passed, defaults last)."""
    values = run_mode(inference_setup, 1, ["-input_dir_LR", "/clips/bikes.mp4", "-output_dir",
                                           "elsewhere", "-output_ext=mp4", "-nooverwrite",
                                           "-input_dir_len", "-1"])
    assert values["input_dir_LR"] == "/clips/bikes.mp4" and values["output_dir"] == "elsewhere"
    assert values["output_pre"] == "bikes" and values["summary_dir"] is None
    assert values["output_ext"] == "mp4" and values["input_dir_len"] == -1
    assert not (tmp_path / "results").exists()
    inference_setup.clear()
    values = run_mode(inference_setup, 4, ["-max_iter", "7", "-output_dir=my_run"])
    assert values["max_iter"] == 7 and values["output_dir"] == "my_run/"
    assert values["summary_dir"] == "my_run/log/"


@pytest.mark.parametrize("mode", ["inference", "export", "train"])
def test_rand_seed_outside_numpys_range_is_one_line(tmp_path, mode):
    for seed in ("-1", "99999999999"):
        status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "main.py"), "--mode", mode,
                                          "--rand_seed", seed], cwd=tmp_path)
        assert_one_error(status, stdout, stderr, f"--rand_seed={seed}", "[0, 4294967295]")
    assert os.listdir(tmp_path) == []


def test_missing_checkpoint_of_mode_1_names_the_shipped_model(tmp_path):
    (tmp_path / "clip").mkdir()
    status, stdout, stderr = run_cli([RUNGAN, "1", "--checkpoint", "nothing/here",
                                      "--input_dir_LR", "clip"], cwd=tmp_path)
    assert_one_error(status, stdout, stderr, "checkpoint 'nothing/here' not found",
                     "model/shipped/TecoGAN_ours --num_resblock 10", "python3 runGan.py 0")
