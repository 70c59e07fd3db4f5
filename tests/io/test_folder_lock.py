"""lib/io/folder_lock.py: one run per folder; stale locks taken over with a note; released."""
import json
import os
import socket

import pytest

from lib.errors import UserError
from lib.io.folder_lock import LOCK_NAME, FolderLock
from lock_helpers import hold_folder_lock


def test_held_by_a_live_process_is_refused_then_free_after_it_ends(tmp_path):
    holder = hold_folder_lock(str(tmp_path))
    try:
        record = json.loads((tmp_path / LOCK_NAME).read_text())
        assert record["pid"] == holder.pid and record["host"] == socket.gethostname()
        for attempt in (FolderLock(str(tmp_path)).check_free, FolderLock(str(tmp_path)).acquire):
            with pytest.raises(UserError, match=rf"another run \(PID {holder.pid} on "):
                attempt()
    finally:
        holder.stdin.close()                 # it releases the lock and ends
        holder.wait()
    assert os.listdir(tmp_path) == []
    with FolderLock(str(tmp_path)):
        assert os.listdir(tmp_path) == [LOCK_NAME]
    assert os.listdir(tmp_path) == []


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 2 ** 22 + 12345,
                                                  "host": socket.gethostname()}))
    notes = []
    lock = FolderLock(str(tmp_path), log=notes.append).acquire()
    assert len(notes) == 1 and "stale lock" in notes[0] and str(2 ** 22 + 12345) in notes[0]
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    with pytest.raises(UserError, match="another run"):          # the same process, twice
        FolderLock(str(tmp_path)).acquire()
    lock.release()
    assert os.listdir(tmp_path) == []


def test_lock_of_another_host_is_refused_and_kept(tmp_path):
    record = json.dumps({"pid": 1, "host": "elsewhere.example"})
    (tmp_path / LOCK_NAME).write_text(record)
    with pytest.raises(UserError, match=f"elsewhere.example.*delete '.*{LOCK_NAME}'"):
        FolderLock(str(tmp_path)).acquire()
    assert (tmp_path / LOCK_NAME).read_text() == record
