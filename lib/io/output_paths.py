"""Output folders and files that cannot be created: one clear UserError instead of a traceback.

``os.makedirs`` reports "File exists" for a path that is a file, "Not a directory" when a parent is
a file, and ENOENT/EACCES/EROFS for places nobody may write (``/proc/...``, read-only mounts).
Each entry point that writes output calls one of these first, so the user sees which flag named the
bad path and why, and nothing has been written yet.
"""
import os

from lib.errors import UserError


def _file_in_the_way(path):
    """The first existing non-folder among ``path`` and its parents, or None."""
    probe = os.path.abspath(path)
    while True:
        if os.path.lexists(probe) and not os.path.isdir(probe):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


def _reason(path, err):
    blocker = _file_in_the_way(path)
    if blocker is not None:
        if os.path.abspath(blocker) == os.path.abspath(path):
            return "it is a file, not a folder"
        return f"'{blocker}' is a file, not a folder"
    where = f" (the system refused '{err.filename}')" if err.filename and \
        os.path.abspath(err.filename) != os.path.abspath(path) else ""
    return (err.strerror or str(err)) + where


def prepare_output_dir(path, flag):
    """Create folder ``path`` (and its parents); UserError naming ``flag`` when impossible.

    Returns the list of folders that were created (outermost first), so that a caller that fails
    later can remove the ones it made and leave the file system as it was.
    """
    if not path:
        raise UserError(f"{flag} is empty")
    missing, probe = [], os.path.abspath(path)
    while not os.path.isdir(probe) and os.path.dirname(probe) != probe:
        missing.append(probe)
        probe = os.path.dirname(probe)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the {flag} folder '{path}': {_reason(path, err)}; "
                        f"choose another {flag}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"the {flag} folder '{path}' is not writable; choose another {flag}")
    return list(reversed(missing))


def check_not_an_input(path, flag, inputs):
    """UserError when folder ``path`` is one of the ``inputs`` (flag, folder) pairs, links
    resolved: outputs written there would mix with (and later be read as) the input frames."""
    real = os.path.realpath(path)
    for input_flag, folder in inputs:
        if folder and os.path.realpath(folder) == real:
            raise UserError(f"{flag} '{path}' is the {input_flag} folder '{folder}'; outputs "
                            f"written there would mix with its frames. Choose another {flag}")


def remove_if_empty(folders):
    """Remove folders made by :func:`prepare_output_dir` that are still empty (innermost first)."""
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:
            return


def check_output_file(path, flag, overwrite=False, overwrite_flag="--overwrite"):
    """Raise a UserError unless a new file can be written at ``path``.

    An existing file is refused unless ``overwrite``; a folder at ``path``, a parent that is a
    file or a missing parent are refused. Nothing is created.
    """
    if not path:
        raise UserError(f"{flag} is empty")
    if os.path.isdir(path):
        raise UserError(f"{flag} '{path}' is a folder; give a file name")
    if os.path.lexists(path) and not overwrite:
        raise UserError(f"{flag} '{path}' exists already; nothing was written. Choose another "
                        f"name, or add {overwrite_flag} to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    blocker = _file_in_the_way(parent)
    if blocker is not None:
        raise UserError(f"cannot write {flag} '{path}': '{blocker}' is a file, not a folder")
    if not os.path.isdir(parent):
        raise UserError(f"cannot write {flag} '{path}': the folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {flag} '{path}': the folder '{parent}' is not writable")


def write_text_atomically(path, text, flag):
    """Write ``text`` to ``path`` whole or not at all (a unique temporary: lib/io/atomic.py)."""
    from lib.io import atomic
    try:
        atomic.write_text(path, text)
    except OSError as err:
        if atomic.is_no_space(err):
            raise UserError(f"no space left on the device for {flag} '{path}'; nothing was "
                            "written") from None
        raise UserError(f"cannot write {flag} '{path}': {err.strerror or err}") from None
