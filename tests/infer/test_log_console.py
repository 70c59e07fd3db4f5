"""The log file and the console never end a run: a log path that is a folder is one error line
before any work, names that are not valid UTF-8 are logged with escapes, and a console that goes
away (``| head -1``) leaves the run to finish, logging to the file."""
import io
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT
from inference_helpers import inference_config, save_random_model, write_random_clip
from lib.errors import UserError
from lib.infer.prepare import prepare_inference
from lib.logging_utils import Tee, tee_stdout
from test_output_safety import _cli, _hashes, _one_error


def test_log_file_that_is_a_folder(tmp_path):
    clip = str(tmp_path / "clip")
    write_random_clip(clip, n=3)
    (tmp_path / "log" / "logfile.txt").mkdir(parents=True)
    before = _hashes(tmp_path)
    shipped = os.path.join(REPO_ROOT, "model", "shipped", "TecoGAN_ours")
    line = _one_error(_cli(shipped, clip, str(tmp_path / "out"), "--num_resblock", "10",
                           "--summary_dir", str(tmp_path / "log")))
    assert "logfile.txt' is a folder" in line, line
    with pytest.raises(UserError, match="cannot write the log file .*logfile.txt"):
        tee_stdout(str(tmp_path / "log"))
    assert _hashes(tmp_path) == before and not (tmp_path / "out").exists()


def test_names_that_are_not_utf8_are_escaped(tmp_path):
    name = os.fsdecode(b"f\xff_1.png")
    ascii_console = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    tee = Tee(ascii_console, str(tmp_path / "logfile.txt"))
    tee.write(f"saving image {name}\n")
    tee.write_log_only(f"encoding frame {name}\n")
    tee.flush()
    tee.close()
    logged = (tmp_path / "logfile.txt").read_text(encoding="utf-8")
    assert logged == "saving image f\\udcff_1.png\nencoding frame f\\udcff_1.png\n"
    assert ascii_console.buffer.getvalue() == b"saving image f\\udcff_1.png\n"


def test_a_console_that_goes_away_leaves_the_run_going(tmp_path):
    """``main.py ... | head -1`` with frames whose names are not UTF-8: exit status 0, every
    frame written, the whole run in the log file."""
    model = save_random_model(str(tmp_path / "model" / "model"))
    clip = tmp_path / "clip"
    write_random_clip(str(clip), n=3)
    for i in (1, 2, 3):     # b"f\xff_1.png" ...: not valid UTF-8
        os.rename(clip / f"{i:04d}.png", os.path.join(os.fsencode(clip), b"f\xff_%d.png" % i))
    out = str(tmp_path / "out")
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "main.py"), "--input_dir_LR", str(clip),
         "--output_dir", out, "--checkpoint", model, "--num_resblock", "2", "--output_ext",
         "png", "--noprogress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
    process.stdout.readline()
    process.stdout.close()                  # what head does after its line
    stderr = process.stderr.read().decode("utf-8", "replace")
    assert process.wait(timeout=900) == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    frames = sorted(n for n in os.listdir(os.fsencode(out)) if n.endswith(b".png"))
    assert frames == [b"output_f\xff_%d.png" % i for i in (1, 2, 3)]
    log = open(os.path.join(out, "log", "logfile.txt"), encoding="utf-8").read()
    assert "saving image output_f\\udcff_3" in log and "total time" in log
