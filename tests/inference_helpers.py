"""Helpers shared by the inference tests: default flags and tiny checkpoints."""
import os
import subprocess
import sys
from types import SimpleNamespace

from conftest import REPO_ROOT

INFERENCE_DEFAULTS = dict(input_dir_LR=None, input_dir_HR=None, input_dir_len=-1,
                          output_dir=None, output_pre="", output_name="output", output_ext="png",
                          summary_dir=None, checkpoint=None, num_resblock=16, overwrite=False,
                          video_crf=0, progress=False, rand_seed=1, cudaID="0")


def inference_flags(**overrides):
    return SimpleNamespace(**{**INFERENCE_DEFAULTS, **overrides})


def save_random_model(prefix, num_resblock=2, seed=3):
    """A small random model in the official naming (generator output scaled down, stable)."""
    from lib.models.checkpoint import save_official
    from lib.models.networks import FNet, Generator
    generator, fnet = Generator(num_resblock, seed=seed), FNet(seed=seed)
    generator.output_conv.kernel.assign(generator.output_conv.kernel * 0.05)
    save_official({**generator.official_variables(), **fnet.official_variables()}, prefix)
    return prefix


def run_main(args, cwd=REPO_ROOT, timeout=900):
    """Run main.py as a user would; returns CompletedProcess with text output."""
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "main.py")] + list(args),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
