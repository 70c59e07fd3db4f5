"""``runGan.py 1`` passes SIGTERM and SIGINT on to its main.py child exactly once: a kill of the
runner alone stops the inference (exit 130, the output folder's lock released) instead of leaving
main.py running as an orphan that holds the folder."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT
from inference_helpers import save_random_model, write_random_clip


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_runner_stops_main_py(tmp_path, signum):
    model = save_random_model(str(tmp_path / "model" / "model"))
    clip, out = str(tmp_path / "clip"), tmp_path / "out"
    write_random_clip(clip, n=1500, size=(8, 8))        # long enough to be caught running
    runner = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "runGan.py"), "1", "--input_dir_LR", clip,
         "--output_dir", str(out), "--checkpoint", model, "--num_resblock", "2",
         "--output_ext", "png", "--noprogress"], cwd=str(tmp_path),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
    out = out / "clip"                    # runGan's --output_pre: the input's name
    lock, child = out / ".tecogan.lock", None
    deadline = time.time() + 600
    while child is None and runner.poll() is None and time.time() < deadline:
        time.sleep(0.05)                  # the lock is taken with the first frame
        try:
            child = json.loads(lock.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pass
    runner.send_signal(signum)            # to the runner only, as `kill PID` does
    stderr = runner.communicate(timeout=600)[1].decode()
    assert child is not None, stderr[-2000:]
    assert runner.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert not _alive(child) and not lock.exists()
    # stopped early: some frames or none (a signal while the first frame's folder is being set
    # up leaves no folder)
    frames = [n for n in os.listdir(out) if n.endswith(".png")] if out.exists() else []
    assert len(frames) < 1500
