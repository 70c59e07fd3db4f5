"""Files and folders that appear under their final name only when complete.

Everything this project writes for the user (frames, videos, exports, metrics outputs; offered to
checkpoints and downloads) goes through one of two context managers::

    with atomic_file("out/frame.png") as handle:      # a binary file object
        handle.write(data)

    with atomic_folder("exports/model") as folder:    # a new, empty folder to fill
        write_things_into(folder)

Both write to ``<dir>/.<name>.<random>.partial`` (made by :mod:`tempfile` next to the target, so
two runs never share a temporary, and a user's own ``<name>.partial`` is never touched), and move
it into place with one rename when the block ends normally. On *any* exception (a full disk,
KeyboardInterrupt, SIGTERM turned into one) the temporary is removed and the exception goes on:
the target is either the old one or the complete new one, and nothing else is left behind.
A process killed with SIGKILL can leave a temporary; :func:`is_leftover` recognises its name.
"""
import contextlib
import errno
import os
import re
import shutil
import tempfile

PARTIAL = ".partial"
_LEFTOVER = re.compile(r"^\..+\.[A-Za-z0-9_]+\.partial$")
NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _umask():
    """The process umask, read without changing it where Linux says it (os.umask can only be read
    by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_created(tmp, folder=False):
    """Give a temporary the mode a plain open()/mkdir() would (mkstemp/mkdtemp make 0600/0700,
    which the rename would carry to the user's outputs)."""
    try:
        os.chmod(tmp, (0o777 if folder else 0o666) & ~_umask())
    except OSError:
        pass


def temp_prefix(path):
    return f".{os.path.basename(os.path.normpath(path))}."


# tempfile's random part of a name (mkstemp/mkdtemp: 8 characters of _RandomNameSequence)
_RANDOM_CHARS = 8


def longest_temp_name(path):
    """The length-defining temporary name of ``path`` (its random part as 'x's): checked against
    the file system's name limit before a run, so a long name fails at once, not mid-run."""
    return f"{temp_prefix(path)}{'x' * _RANDOM_CHARS}{PARTIAL}"


def is_leftover(name, target_name=None):
    """True when ``name`` is a temporary of this module (of ``target_name`` when given)."""
    if target_name is not None:
        return name.startswith(f".{target_name}.") and name.endswith(PARTIAL) \
            and bool(_LEFTOVER.match(name))
    return bool(_LEFTOVER.match(name))


def is_no_space(err):
    """True for an OSError that means the disk (or the user's quota) is full."""
    return isinstance(err, OSError) and err.errno in NO_SPACE


def _fsync(handle):
    try:
        handle.flush()
        os.fsync(handle.fileno())
    except (OSError, ValueError):      # pipes, some network file systems: not worth failing for
        pass


@contextlib.contextmanager
def atomic_file(path, mode="wb", fsync=True, **open_kwargs):
    """Yield a file object; on success it replaces ``path`` whole (see the module doc)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=PARTIAL, dir=folder)
    try:
        _as_created(tmp)
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            if fsync:
                _fsync(handle)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_bytes(path, data, fsync=True):
    """``path`` holds ``data`` afterwards, or (on any error) is as it was."""
    with atomic_file(path, "wb", fsync=fsync) as handle:
        handle.write(data)


def write_text(path, text, fsync=True):
    with atomic_file(path, "w", fsync=fsync, encoding="utf-8") as handle:
        handle.write(text)


def reserve_temp(path):
    """A new empty file with a unique temporary name next to ``path``, for a writer that needs a
    path rather than a file object (ffmpeg). The caller renames it to ``path`` when complete
    (``os.replace``) and removes it on failure."""
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=PARTIAL,
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    _as_created(tmp)
    return tmp


@contextlib.contextmanager
def atomic_folder(path, replace_names=None):
    """Yield a new empty folder next to ``path``; on success it becomes ``path``.

    When ``path`` exists already, ``replace_names`` must say which of its entries the new folder
    may replace (e.g. the files an export writes): those entries are removed and every entry of
    the new folder is moved in; all other entries of ``path`` stay. Without ``replace_names`` an
    existing ``path`` is a FileExistsError (raised before anything is moved).
    """
    target = os.path.abspath(path)
    tmp = tempfile.mkdtemp(prefix=temp_prefix(target), suffix=PARTIAL,
                           dir=os.path.dirname(target))
    try:
        _as_created(tmp, folder=True)
        yield tmp
        if not os.path.lexists(target):
            os.rename(tmp, target)
            return
        if replace_names is None or not os.path.isdir(target):
            raise FileExistsError(errno.EEXIST, "exists already", target)
        new = os.listdir(tmp)
        strangers = sorted(set(new) - set(replace_names))
        if strangers:
            raise ValueError(f"the new folder holds {strangers}, not in replace_names")
        for name in replace_names:
            _remove(os.path.join(target, name))
        for name in new:
            os.rename(os.path.join(tmp, name), os.path.join(target, name))
        os.rmdir(tmp)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    """Remove a file, link or folder if it exists; never raises (used while cleaning up)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)
    except OSError:
        pass
