"""One exception type for problems the user can fix (bad input, missing files, wrong flags).

Command-line entry points catch it, print one clear line and exit non-zero without a traceback
(see :func:`run_cli`). Anything else is a bug and keeps its traceback.
"""
import argparse
import sys


class UserError(Exception):
    """A problem with the user's input or environment; the message says what to do."""


def run_cli(main, *args, **kwargs):
    """Call ``main``; turn UserError into 'error: ...' on stderr and exit status 2."""
    # A file name that is not valid in the terminal's encoding (non-UTF-8 bytes reach Python as
    # surrogate escapes) must not turn a message or an error line into a UnicodeEncodeError:
    # such characters are printed as backslash escapes.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):    # a closed or detached stream: print as it can
                pass
    try:
        return main(*args, **kwargs)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors (bad value, missing value, unknown option) are one UserError line
    instead of the usage text plus an error line."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message}")


def whole_number(text, least):
    """An argparse value that must be an integer of at least ``least`` (a count of steps, frames or
    repetitions: 0 would report NaN or divide by zero, a negative one makes no sense)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    return whole_number(text, 1)


def count_or_zero(text):
    """argparse type: an integer >= 0."""
    return whole_number(text, 0)
