"""The metrics output folder, guarded (issue 19): never one of the input folders, and one metrics
run at a time (lib/io/folder_lock.py). Shared by ``python3 -m metrics`` and ``runGan.py 2``."""
import contextlib

from lib.io.folder_lock import FolderLock
from lib.io.output_paths import check_not_an_input, prepare_output_dir, remove_if_empty


@contextlib.contextmanager
def guarded_output(output, flag, inputs):
    """Check ``output`` against ``inputs`` ((flag, folder) pairs), make it (one error line when
    impossible) and hold its lock for the block; a block that fails leaves no empty folder."""
    check_not_an_input(output, flag, inputs)
    # a file, a file as parent, or an unwritable place: one error line before any work
    created = prepare_output_dir(output, flag)
    lock = FolderLock(output, "metrics output folder")
    try:
        with lock:
            yield
    except BaseException:
        remove_if_empty(created)    # leave no empty folder behind when the inputs were bad
        raise
