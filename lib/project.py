"""Where the project is and how to start it: the one home of the repository root, the ``main.py``
command line used by every child process (runGan.py, training recipes, test inference), and
seeding, and importing TensorFlow without its start-up notices."""
import os
import random
import signal
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN_PY = os.path.join(REPO_ROOT, "main.py")


def main_command(args, python=None, main_py=None):
    """``[python, main.py, *args]``: the command line of a ``main.py`` child process (``main_py``
    replaces this checkout's main.py, e.g. a stand-in in tests)."""
    return [python or sys.executable, main_py or MAIN_PY] + [str(a) for a in args]


def run_main_forwarding_signals(args, what_happens, python=None, main_py=None):
    """Run ``main.py args`` in its own session; pass SIGINT/SIGTERM to it once each; return its
    exit status. ``what_happens`` ends the line printed when a signal is passed on (what the child
    does with it, e.g. "it stops after the current frame").

    The child's own session keeps a terminal's Ctrl+C (sent to the whole foreground group) from
    reaching it twice, and a ``kill`` of this runner alone from leaving it running as an orphan
    that holds its output folder. The handlers are installed before the child starts, and that is
    what lets the child act on SIGINT: a runner started with SIGINT ignored (``runGan.py 3 &`` in
    a script) would otherwise pass SIG_IGN on to it through exec, and the forwarded Ctrl+C would
    do nothing. exec resets caught signals to the default, so the child's Python installs its
    KeyboardInterrupt."""
    child = None
    forwarded, pending = set(), []

    def forward(signum, frame):
        if child is None:           # before the child exists: sent as soon as it does
            pending.append(signum)
        elif signum not in forwarded and child.poll() is None:
            forwarded.add(signum)
            print(f"\nforwarding {signal.Signals(signum).name} to main.py; {what_happens}",
                  file=sys.stderr, flush=True)
            child.send_signal(signum)

    try:
        sys.stdout.flush()          # this runner's lines come before the child's
    except OSError:                 # a console that went away: the child's run still counts
        pass
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(main_command(args, python, main_py), start_new_session=True)
        for signum in pending:
            forward(signum, None)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:   # a handler installed elsewhere; keep waiting
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def set_seeds(seed):
    """Seed Python, NumPy and TensorFlow, as the original's main.py did."""
    import numpy as np          # here, not at the top: this module is imported before TensorFlow
    tf = import_tensorflow()    # should load (path checks come first)
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


# Lines TensorFlow's C++ writes to fd 2 while it loads, whatever TF_CPP_MIN_LOG_LEVEL says: the
# oneDNN notice (when oneDNN is on, the default on CPUs with AVX512_VNNI/BF16, AVX_VNNI or AMX) and
# absl's preamble to it. They tell users nothing; every other line is passed through.
IMPORT_NOTICES = ("oneDNN custom operations are on",
                  "All log messages before absl::InitializeLog() is called are written to STDERR")


def import_tensorflow():
    """``import tensorflow`` with :data:`IMPORT_NOTICES` removed from what it writes to stderr.

    The entry points call this where TensorFlow is first needed. fd 2 goes to a temporary file
    only for the import itself and everything else written there is replayed right after, so a
    real warning or error of the import still reaches the user (lost only if the import kills
    the process outright)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            _replay(captured.read().decode("utf-8", "replace"))
    return tensorflow


def _replay(text):
    kept = [line for line in text.splitlines(keepends=True)
            if not any(notice in line for notice in IMPORT_NOTICES)]
    if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()
