"""A full disk (or quota, or file-size limit) as one ``error:`` line instead of a traceback.

Every entry point that writes (inference, training checkpoints, the metrics CLI, downloads)
wraps its writes in :func:`writing`, which names the file and says how a rerun continues::

    with writing(path, "the same command resumes from the last checkpoint"):
        save(path)

The writes themselves are whole-or-nothing (temporary name, then one rename), so after the
error the disk holds no partial file of ours.
"""
import contextlib
import errno

from lib.errors import UserError

NO_SPACE_ERRNOS = frozenset(code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None),
                                              errno.EFBIG) if code is not None)


# how TensorFlow's file system reports the same errnos (tf.errors.ResourceExhaustedError and
# friends carry strerror's text, not the errno)
NO_SPACE_TEXTS = ("No space left on device", "Disk quota exceeded", "File too large")


class NoSpaceError(UserError):
    """A full disk: callers that collect errors (e.g. of several downloads) stop at this one."""


def is_disk_full(err):
    """True for an OSError meaning no space (a full disk, the user's quota, a too-large file),
    or a TensorFlow error whose message says so."""
    if isinstance(err, OSError):
        return err.errno in NO_SPACE_ERRNOS
    message = getattr(err, "message", None)
    return isinstance(message, str) and any(text in message for text in NO_SPACE_TEXTS)


def no_space_message(what, rerun):
    """The one line for a full disk while writing ``what``."""
    return f"no space left on device while writing {what}; free space and rerun: {rerun}"


@contextlib.contextmanager
def writing(what, rerun):
    """Turn a full-disk error raised inside the block into :func:`no_space_message`."""
    try:
        yield
    except Exception as err:       # noqa: BLE001 (re-raised unless it is a full disk)
        if not is_disk_full(err):
            raise
        raise NoSpaceError(no_space_message(what, rerun)) from None
