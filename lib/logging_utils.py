"""The original's tee logger: everything printed also goes to ``<summary_dir>/logfile.txt``."""
import os
import sys


class Tee:
    """Duplicate writes to the real stream and to a log file opened in append mode."""

    def __init__(self, stream, log_path):
        self.stream = stream
        self.log = open(log_path, "a", encoding="utf-8")

    def write(self, text):
        self.stream.write(text)
        self.log.write(text)
        return len(text)

    def write_log_only(self, text):
        self.log.write(text)

    def flush(self):
        self.stream.flush()
        self.log.flush()

    def isatty(self):
        return getattr(self.stream, "isatty", lambda: False)()

    def close(self):
        self.log.close()


def tee_stdout(summary_dir, name="logfile.txt"):
    os.makedirs(summary_dir, exist_ok=True)
    tee = Tee(sys.stdout, os.path.join(summary_dir, name))
    sys.stdout = tee
    return tee


def log_only(text):
    """Write a line to the log file only (when stdout is tee'd), keeping the console quiet."""
    if isinstance(sys.stdout, Tee):
        sys.stdout.write_log_only(text + "\n")
