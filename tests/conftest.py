"""Shared test helpers: the repository root on sys.path and the read-only ../shared folder."""
import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.abspath(os.environ.get("TECOGAN_SHARED", os.path.join(REPO_ROOT, "..", "shared")))

if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The ../shared/fixtures were computed with TensorFlow's oneDNN CPU kernels (fixtures README:
# "oneDNN on"). TensorFlow turns oneDNN on by default only on CPUs with AVX512_VNNI, AVX512_BF16,
# AVX_VNNI or AMX (DefaultOneDnnPolicy in tensorflow/core/util/util.cc); on an AVX2-only CPU it
# silently runs the Eigen kernels, whose different summation order flips the first Adam step of
# ~0.05 % of fnet weights (gradients at rounding-noise level) and moves post-step losses by 1e-3.
# Set before TensorFlow is imported; it is read once per process and inherited by the
# subprocesses the tests start. An explicit TF_ENABLE_ONEDNN_OPTS=0 is respected.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def shared_path(*parts):
    """Path under ../shared, or skip the test with the reason when it is not there."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"needs the read-only shared data at {path} (not part of the repository)")
    return path


@pytest.fixture
def shared():
    return shared_path
