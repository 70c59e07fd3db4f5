""""This folder is mine": one run at a time per output or run folder.

A run takes the lock by creating ``<folder>/.tecogan.lock`` holding its PID, host and start time,
and holds an exclusive ``flock`` on it while it runs (the kernel drops that when the process dies,
however it dies). A second run finds the lock held and stops with one :class:`UserError` line
naming the holder. A lock left by a run that is gone (its flock is free, or its PID no longer runs
on this host) is taken over with one log line. :meth:`FolderLock.release` (or leaving the ``with``
block, also on exceptions and on SIGTERM turned into KeyboardInterrupt) removes the file.

A lock written on another host whose flock is free cannot be judged from here: it is refused, and
the message names the file to delete once that run is known to be over.
"""
import errno
import json
import os
import socket
import time

from lib.errors import UserError

try:
    import fcntl
except ImportError:          # not on Windows: the PID check alone
    fcntl = None

LOCK_NAME = ".tecogan.lock"
_HELD = set()                # lock files this process holds (a second lock of them is a refusal)


def _pid_running(pid):
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    except OSError:
        return True
    return True


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class FolderLock:
    """The lock of ``folder`` (which must exist); ``what`` names the folder in messages."""

    def __init__(self, folder, what="folder", log=print):
        self.folder, self.what, self.log = folder, what, log
        self.path = os.path.join(folder, LOCK_NAME)
        self._fd = None

    def _holder(self, data):
        pid, host = data.get("pid"), data.get("host")
        started = data.get("started")
        since = f", started {started}" if started else ""
        return f"PID {pid} on {host}{since}"

    def _refuse(self, data):
        raise UserError(f"another run ({self._holder(data)}) is using the {self.what} "
                        f"'{self.folder}'; wait for it to finish, or choose another folder (if "
                        f"that run is over, delete '{self.path}')")

    def check_free(self):
        """Refuse now (changing nothing) when a live run holds the lock: the early check before a
        long start-up; :meth:`acquire` is what decides."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            if os.path.realpath(self.path) in _HELD:
                self._refuse(_read(self.path))
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    self._refuse(_read(self.path))
            old = _read(self.path)
            if old and old.get("host") != socket.gethostname():
                self._refuse(old)
        finally:
            os.close(fd)

    def acquire(self):
        real = os.path.realpath(self.path)
        if real in _HELD:
            self._refuse(_read(self.path))
        for _ in range(5):
            fd = self._open()
            if fd is None:
                continue
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as err:
                    os.close(fd)
                    if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        self._refuse(_read(self.path))
                    raise
            # Locked the file that is at the path now (not one a finishing run just removed)?
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            self._take(fd)
            _HELD.add(real)
            return self
        raise UserError(f"cannot lock the {self.what} '{self.folder}': its lock file "
                        f"'{self.path}' keeps changing; is another run starting there?")

    def _open(self):
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise UserError(f"cannot create the lock file '{self.path}': "
                            f"{err.strerror or err}") from None

    def _take(self, fd):
        """The flock is ours: judge what the file held, then write our own record."""
        old = _read(self.path)
        if old:
            here = old.get("host") == socket.gethostname()
            # Its flock is free (the holder is gone), but without flock, or for a run on another
            # host (whose flock may not reach here), the PID is what can be checked.
            alive = not here or (fcntl is None and old.get("pid") != os.getpid()
                                 and _pid_running(_as_int(old.get("pid"))))
            if alive:
                os.close(fd)
                self._refuse(old)
            self.log(f"note: taking over the stale lock of a run that is gone "
                     f"({self._holder(old)}) in '{self.folder}'")
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(record).encode("utf-8"))
        except OSError as err:
            os.close(fd)
            self._remove_file()
            raise UserError(f"cannot write the lock file '{self.path}': "
                            f"{err.strerror or err}") from None
        self._fd = fd

    def _remove_file(self):
        try:
            os.remove(self.path)
        except OSError:
            pass

    def release(self):
        """Remove the lock file (still holding the flock, so no one is misled) and let go."""
        if self._fd is None:
            return
        self._remove_file()
        os.close(self._fd)
        self._fd = None
        _HELD.discard(os.path.realpath(self.path))

    def __enter__(self):
        return self if self._fd is not None else self.acquire()

    def __exit__(self, exc_type, exc, traceback):
        self.release()
        return False
