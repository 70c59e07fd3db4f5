"""Shared test helpers: the repository root on sys.path and the read-only ../shared folder."""
import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.abspath(os.environ.get("TECOGAN_SHARED", os.path.join(REPO_ROOT, "..", "shared")))

if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def shared_path(*parts):
    """Path under ../shared, or skip the test with the reason when it is not there."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"needs the read-only shared data at {path} (not part of the repository)")
    return path


@pytest.fixture
def shared():
    return shared_path
