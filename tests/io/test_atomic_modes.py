"""Files and folders written through lib/io/atomic.py get the mode a plain open()/mkdir() gives
(mkstemp's 0600 and mkdtemp's 0700 would reach the user's outputs through the rename)."""
import os

from lib.io import atomic


def test_outputs_have_the_umask_mode(tmp_path):
    mask = os.umask(0o027)
    try:
        atomic.write_bytes(str(tmp_path / "a.bin"), b"x")
        video_tmp = atomic.reserve_temp(str(tmp_path / "v.mp4"))
        with atomic.atomic_folder(str(tmp_path / "export")) as folder:
            (open(os.path.join(folder, "f"), "w")).close()
        with open(tmp_path / "plain.bin", "w"):
            pass
    finally:
        os.umask(mask)
    plain = os.stat(tmp_path / "plain.bin").st_mode & 0o777
    assert plain == 0o640
    assert os.stat(tmp_path / "a.bin").st_mode & 0o777 == plain
    assert os.stat(video_tmp).st_mode & 0o777 == plain
    assert os.stat(tmp_path / "export").st_mode & 0o777 == 0o750
