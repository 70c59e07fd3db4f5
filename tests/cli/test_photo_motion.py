"""resources/training_set/make_photo_motion.py: the camera stays in its bounds, frames move by the
planned subpixel amounts, scenes are reproducible, bad input is one error line."""
import importlib.util
import os

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from conftest import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "resources", "training_set", "make_photo_motion.py")


@pytest.fixture(scope="module")
def motion():
    spec = importlib.util.spec_from_file_location("make_photo_motion", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def texture(size=(600, 700), seed=0, cell=6):
    import cv2
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[0] // cell, size[1] // cell, 3), np.uint8)
    return cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)


def test_camera_path_stays_within_the_planned_motion(motion):
    for seed in range(20):
        shift, zoom, rotation = motion.camera_path(np.random.default_rng(seed), 60)
        speed = np.linalg.norm(np.diff(shift, axis=0), axis=1)
        assert shift[0].tolist() == [0.0, 0.0]
        assert speed.min() >= motion.MIN_SPEED - 1e-9 and speed.max() <= motion.MAX_SPEED + 1e-9
        assert np.all(np.abs(zoom[1:] / zoom[:-1] - 1) <= motion.MAX_ZOOM + 1e-12)
        assert np.all(np.abs(np.diff(rotation)) <= motion.MAX_ROTATION + 1e-12)


def translation(frame0, frame1):
    """Least-squares global shift d with frame1(x) = frame0(x + d) (small d, smooth frames); the
    mean gradient of both frames makes the estimate exact to second order."""
    gy, gx = np.gradient((frame0 + frame1) / 2)
    inner = (slice(8, -8), slice(8, -8))
    a = np.stack([gx[inner].ravel(), gy[inner].ravel()], axis=1)
    return np.linalg.lstsq(a, (frame1 - frame0)[inner].ravel(), rcond=None)[0]


def test_frames_move_by_the_planned_subpixel_shift(motion):
    frames, size = 4, (160, 128)
    shift = np.array([[0.0, 0.0], [0.4, -0.3], [0.25, 0.5], [-0.3, 0.1]])
    path = (shift, np.ones(frames), np.zeros(frames))
    image = texture(seed=1, cell=16)
    matrices = motion.frame_matrices(path, size, scale=1.0)
    start = motion.detail_start(image, motion.path_extent(matrices, size))
    rendered = [f.astype(np.float64).mean(axis=2) for f in
                motion.render(image, matrices, np.array(start), size)]
    for t in range(1, frames):
        # the camera moves by +shift: frame t shows the photo at x + shift. OpenCV's Lanczos4
        # (1/32-pixel tables) filters each subpixel phase a little differently: measured up to
        # 0.05 px apparent error on this texture, against 2x that for INTER_CUBIC
        assert translation(rendered[0], rendered[t]) == pytest.approx(shift[t], abs=0.065)


def test_path_that_does_not_fit_is_a_user_error(motion):
    from lib.errors import UserError
    path = motion.camera_path(np.random.default_rng(0), 60)
    matrices = motion.frame_matrices(path, (512, 384))
    with pytest.raises(UserError, match="too small"):
        motion.detail_start(texture((300, 400)), motion.path_extent(matrices, (512, 384)))


def test_scenes_are_reproducible_and_never_overwritten(tmp_path):
    fonts = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    if not os.path.isfile(fonts):
        pytest.skip("needs fonts-dejavu-core (the text poster's fonts)")
    digests = []
    for run in ("a", "b"):
        status, out, err = run_cli([SCRIPT, "--set", "val", "--only", "signs_serif",
                                    "--disk_path", tmp_path / run])
        assert status == 0, err[-2000:]
        folder = tmp_path / run / "signs_serif"
        names = sorted(os.listdir(folder))
        assert names[0] == "col_high_0000.png" and len(names) == 32
        digests.append([(folder / n).read_bytes() for n in (names[0], names[-1])])
    assert digests[0] == digests[1]
    assert digests[0][0] != digests[0][1]           # the camera moved
    assert_one_error(*run_cli([SCRIPT, "--set", "val", "--only", "signs_serif",
                               "--disk_path", tmp_path / "a"]), "already holds files")
    assert_one_error(*run_cli([SCRIPT, "--set", "train", "--only", "dragonfly", "--disk_path",
                               tmp_path / "c", "--image_root", tmp_path]),
                     "lomiri-wallpapers-16.04")
    assert_one_error(*run_cli([SCRIPT, "--only", "nonsense", "--disk_path", tmp_path / "c"]),
                     "nonsense")
