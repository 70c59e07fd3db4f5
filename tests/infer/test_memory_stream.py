"""Memory does not grow with clip length: a 400-frame stream peaks within 5 % of a 40-frame one.

Each run is a fresh subprocess (the whole inference mode on a tiny clip) that reports its own
peak RSS (``ru_maxrss``), so the two numbers are comparable and nothing else in the test process
counts.
"""
import json
import os
import subprocess
import sys

from conftest import REPO_ROOT

CHILD = r"""
import json, os, resource, sys
sys.path.insert(0, {repo!r})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import cv2
import numpy as np
sys.path.insert(0, os.path.join({repo!r}, "tests"))
from inference_helpers import inference_config, save_random_model
from lib.infer.driver import run_inference

frames, root = int(sys.argv[1]), sys.argv[2]
clip = os.path.join(root, "clip")
os.makedirs(clip)
rng = np.random.default_rng(0)
base = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
for i in range(frames):
    shift = i % 8
    cv2.imwrite(os.path.join(clip, f"{{i + 1:04d}}.png"), base[shift:shift + 24, shift:shift + 32])
ckpt = save_random_model(os.path.join(root, "model", "m"))
result = run_inference(inference_config(input_dir_LR=clip, output_dir=os.path.join(root, "out"),
                                       checkpoint=ckpt, num_resblock=2))
written = len([n for n in os.listdir(os.path.join(root, "out")) if n.endswith(".png")])
print(json.dumps({{"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "steps": result["frames"], "written": written}}))
"""


def _peak_rss(frames, root):
    os.makedirs(root)
    script = CHILD.format(repo=REPO_ROOT)
    proc = subprocess.run([sys.executable, "-c", script, str(frames), root], capture_output=True,
                          text=True, timeout=600, cwd=REPO_ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["written"] == frames and result["steps"] == frames + 5
    return result["rss"]


def test_400_frame_stream_peaks_like_40_frames(tmp_path):
    short = _peak_rss(40, str(tmp_path / "short"))
    long = _peak_rss(400, str(tmp_path / "long"))
    print(f"peak RSS: 40 frames {short / 2**20:.1f} MiB, 400 frames {long / 2**20:.1f} MiB")
    assert long <= 1.05 * short, (short, long)
