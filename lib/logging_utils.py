"""The original's tee logger: everything printed also goes to ``<summary_dir>/logfile.txt``.

The log file is the record of the run, so the console may fail without stopping it: a console
that went away (``main.py ... | head -1``: a broken pipe) is left alone from then on and the run
goes on logging to the file; text the console's encoding cannot show (a frame name that is not
valid UTF-8) is written with backslash escapes, in the console and in the log file alike.
"""
import os
import sys

from lib.errors import UserError

LOG_NAME = "logfile.txt"


class Tee:
    """Duplicate writes to the real stream and to a log file opened in append mode."""

    def __init__(self, stream, log_path):
        self.stream = stream
        # backslashreplace: names that are not valid UTF-8 reach Python as surrogate escapes,
        # which UTF-8 cannot encode; they are logged as escapes instead of ending the run.
        self.log = open(log_path, "a", encoding="utf-8", errors="backslashreplace")
        self.console_gone = False

    def write(self, text):
        self._to_console(lambda: self._console_write(text))
        self.log.write(text)
        return len(text)

    def _console_write(self, text):
        try:
            self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def _to_console(self, action):
        """Run ``action`` on the console stream unless it is gone; a broken pipe (or another
        OSError of the console) silences it for the rest of the run, which goes on."""
        if self.console_gone:
            return
        try:
            action()
        except (BrokenPipeError, OSError, ValueError):
            self.console_gone = True
            silence(self.stream)

    def write_log_only(self, text):
        self.log.write(text)

    def flush(self):
        self._to_console(self.stream.flush)
        self.log.flush()

    def isatty(self):
        return getattr(self.stream, "isatty", lambda: False)()

    def close(self):
        self.log.close()


def silence(stream):
    """Point ``stream``'s file descriptor at /dev/null (Python's advice for a broken pipe), so what
    is still buffered, and the flush at exit, go nowhere instead of raising again (at exit
    Python would print 'Exception ignored ... BrokenPipeError' and exit with status 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass        # no file descriptor (a test's StringIO): nothing to flush at exit


def log_file_problem(summary_dir, name=LOG_NAME):
    """Why ``<summary_dir>/<name>`` cannot be appended to (a folder of that name, a file without
    write permission), or None; checked before a run does any work."""
    path = os.path.join(summary_dir, name)
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        return f"the log file '{path}' is a folder; move it away or give another --summary_dir"
    if not os.path.isfile(path):
        return f"the log file '{path}' is not a regular file; give another --summary_dir"
    if not os.access(path, os.W_OK):
        return f"the log file '{path}' is not writable; give another --summary_dir"
    return None


def tee_stdout(summary_dir, name=LOG_NAME):
    path = os.path.join(summary_dir, name)
    try:
        os.makedirs(summary_dir, exist_ok=True)
        tee = Tee(sys.stdout, path)
    except OSError as err:
        raise UserError(f"cannot write the log file '{path}': {err.strerror or err}") from None
    sys.stdout = tee
    return tee


def log_only(text):
    """Write a line to the log file only (when stdout is tee'd), keeping the console quiet."""
    if isinstance(sys.stdout, Tee):
        sys.stdout.write_log_only(text + "\n")
