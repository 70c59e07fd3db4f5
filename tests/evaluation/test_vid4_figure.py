"""The temporal-profile figure of resources/make_vid4_figure.py: one row per frame, in order."""
import importlib.util
import os

import numpy as np

from conftest import REPO_ROOT


def _module():
    path = os.path.join(REPO_ROOT, "resources", "make_vid4_figure.py")
    spec = importlib.util.spec_from_file_location("make_vid4_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_stacks_the_middle_row_of_each_frame_over_time():
    fig = _module()
    top, left, size, stretch = 10, 20, fig.SIZE, fig.PROFILE_STRETCH
    frames = []
    for t in range(5):
        image = np.zeros((top + size + 10, left + size + 10, 3), np.uint8)
        image[top + size // 2, left:left + size] = 10 * t + 1       # the profiled row
        image[top + size // 2, left + 3] = 200                      # a marker inside the crop
        image[top + size // 2 - 1, left:left + size] = 99           # a neighbour row: not used
        frames.append(image)
    out = fig.profile(frames, top, left)
    assert out.shape == (5 * stretch, size, 3)
    for t in range(5):
        block = out[t * stretch:(t + 1) * stretch]
        assert (block[:, 3] == 200).all()
        assert (np.delete(block, 3, axis=1) == 10 * t + 1).all()
