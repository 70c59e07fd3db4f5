"""lib/io/atomic.py: a target is the old one or the complete new one; unique temporaries, removed
on any error (a full disk, Ctrl-C); a user's ``NAME.partial`` is never touched."""
import errno
import os

import pytest

from lib.io import atomic


def test_file_replaced_whole_and_temporaries_unique(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    (tmp_path / "a.txt.partial").write_text("the user's")
    with atomic.atomic_file(str(target)) as first, atomic.atomic_file(str(target)) as second:
        temporaries = [n for n in os.listdir(tmp_path) if atomic.is_leftover(n, "a.txt")]
        assert len(temporaries) == 2                # two writers never share a temporary
        first.write(b"one")
        second.write(b"two")
        assert target.read_text() == "old"          # nothing under the final name yet
    assert target.read_text() == "one"              # the last one to finish (the outer)
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "a.txt.partial"]


@pytest.mark.parametrize("error", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left")])
def test_file_error_removes_the_temporary_and_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic.atomic_file(str(target)) as handle:
            handle.write(b"half")
            raise error
    assert os.listdir(tmp_path) == ["a.png"] and target.read_bytes() == b"old"
    if isinstance(error, OSError):
        assert atomic.is_no_space(error)


def test_leftover_names(tmp_path):
    path = atomic.reserve_temp(str(tmp_path / "clip.mp4"))
    name = os.path.basename(path)
    assert atomic.is_leftover(name) and atomic.is_leftover(name, "clip.mp4")
    assert not atomic.is_leftover(name, "clip.mkv") and not atomic.is_leftover("clip.mp4.partial")


def test_folder_new_and_merged_with_only_the_named_entries_replaced(tmp_path):
    target = tmp_path / "out"
    with atomic.atomic_folder(str(target), replace_names=("m.bin", "sub")) as folder:
        open(os.path.join(folder, "m.bin"), "w").write("v1")
    assert os.listdir(target) == ["m.bin"]
    (target / "notes.txt").write_text("mine")
    (target / "sub").mkdir()
    (target / "sub" / "old").write_text("old")
    with atomic.atomic_folder(str(target), replace_names=("m.bin", "sub")) as folder:
        open(os.path.join(folder, "m.bin"), "w").write("v2")
    assert sorted(os.listdir(target)) == ["m.bin", "notes.txt"]     # sub: a named entry, replaced
    assert (target / "m.bin").read_text() == "v2"
    with pytest.raises(FileExistsError):           # an existing folder without replace_names
        with atomic.atomic_folder(str(target)):
            pass
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_folder_error_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "m.bin").write_text("v1")
    with pytest.raises(OSError):
        with atomic.atomic_folder(str(target), replace_names=("m.bin",)) as folder:
            open(os.path.join(folder, "m.bin"), "w").write("v2")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert sorted(os.listdir(tmp_path)) == ["out"] and (target / "m.bin").read_text() == "v1"
