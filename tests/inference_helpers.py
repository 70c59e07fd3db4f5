"""Helpers shared by the inference tests: inference configs and tiny checkpoints."""
import os
import subprocess
import sys

import cv2
import numpy as np

from conftest import REPO_ROOT
from lib.infer.config import InferenceConfig

# The tests' defaults where they differ from the flags': PNG frames (exact), lossless video, no
# progress bar; every other field keeps the flag's default.
INFERENCE_TEST_DEFAULTS = dict(output_ext="png", video_crf=0, progress=False)


def inference_config(**overrides):
    """An :class:`InferenceConfig` as main.py builds it from the flags, with ``overrides``."""
    return InferenceConfig(**{**INFERENCE_TEST_DEFAULTS, **overrides})


def save_random_model(prefix, num_resblock=2, seed=3):
    """A small random model in the official naming (generator output scaled down, stable)."""
    from lib.models.checkpoint import save_official
    from lib.models.networks import FNet, Generator
    generator, fnet = Generator(num_resblock, seed=seed), FNet(seed=seed)
    generator.output_conv.kernel.assign(generator.output_conv.kernel * 0.05)
    save_official({**generator.official_variables(), **fnet.official_variables()}, prefix)
    return prefix


def write_random_clip(folder, n=6, size=(16, 16), seed=1):
    """``n`` random frames of ``size`` (width, height) as ``folder/0001.png …``; returns them as
    written (cv2's channel order)."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    frames = [rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]
    for i, frame in enumerate(frames):
        cv2.imwrite(os.path.join(folder, f"{i + 1:04d}.png"), frame)
    return frames


def run_main(args, cwd=REPO_ROOT, timeout=900):
    """Run main.py as a user would; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "main.py")] + list(args),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
