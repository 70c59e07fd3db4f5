"""Another process holding a folder's lock (lib/io/folder_lock.py), for the one-run-per-folder
tests."""
import subprocess
import sys
import textwrap

from conftest import REPO_ROOT


def hold_folder_lock(folder):
    """A child process holding ``folder``'s lock until it is killed (then the lock file stays
    behind, as after a crash) or its stdin closes (then it releases the lock)."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {REPO_ROOT!r})
        from lib.io.folder_lock import FolderLock
        lock = FolderLock({folder!r}).acquire()
        print("held", flush=True)
        sys.stdin.read()
        lock.release()
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder
