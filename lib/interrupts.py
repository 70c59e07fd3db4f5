"""Ctrl+C (SIGINT) and SIGTERM as KeyboardInterrupt, but never raised inside TensorFlow.

Python runs a signal handler in the main thread between two bytecodes, wherever they are, and a
KeyboardInterrupt raised there can land in TensorFlow's own Python code while TensorFlow's C++ is
calling it. One such place corrupts the heap. The eager fast path (``TFE_Py_FastPathExecute``, used
by every op such as ``IteratorGetNext``) sets a list-of-shapes attribute in two passes: the first
sizes a buffer from ``len()`` of each ``TensorShape`` (Python code) and clears any error it gets
(``TensorShapeNumDims`` calls ``PyErr_Clear``), the second copies the dimensions into it. A
KeyboardInterrupt raised in the first pass's ``__len__`` is swallowed, that shape counts as
unknown, the second pass copies its dimensions anyway and writes past the buffer: "free():
invalid next size (fast)", SIGABRT instead of a saved checkpoint. It hit 1 of 43 runs of
``runGan.py 4`` interrupted just after a step (when the main thread asks tf.data for the next
batch) and once a full test-suite run; the swallowed exception is also how a forwarded Ctrl+C was
once lost. tests/test_interrupts.py makes it happen every time.

So the handler raises only when no frame of TensorFlow (or Keras) is on the interrupted stack;
otherwise it records the signal and the caller raises at its next safe point with
:func:`raise_if_interrupted` (the training loop: before every step). The first signal decides;
later ones are recorded only, so a second Ctrl+C cannot break the checkpoint save the first one
started.
"""
import contextlib
import os
import signal
import sys

_RECEIVED = []              # signals received inside a handle_interrupts() block
_DEFERRED_MESSAGE = [""]    # printed when the first signal is deferred ("{signal}" is its name)


def _package_dirs():
    """The folders of the loaded packages whose Python code TensorFlow's C++ calls into."""
    dirs = []
    for name in ("tensorflow", "keras", "tf_keras"):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            dirs.append(os.path.dirname(os.path.abspath(path)) + os.sep)
    return tuple(dirs)


def inside_tensorflow(frame, package_dirs=None):
    """True when ``frame`` or a frame that called it is TensorFlow's (or Keras's) code; also when
    ``frame`` is None (nothing tells that it is safe)."""
    if frame is None:
        return True
    package_dirs = _package_dirs() if package_dirs is None else package_dirs
    while frame is not None:
        if frame.f_code.co_filename.startswith(package_dirs):
            return True
        frame = frame.f_back
    return False


def _on_signal(signum, frame):
    first = not _RECEIVED
    _RECEIVED.append(signum)
    if not first:
        return
    if not inside_tensorflow(frame):
        raise KeyboardInterrupt
    # os.write, not print: the interrupted code may be inside a print to the same stream.
    message = _DEFERRED_MESSAGE[0].format(signal=signal.Signals(signum).name)
    if message:
        os.write(2, f"\n{message}\n".encode())


def interrupt_requested():
    """True once SIGINT or SIGTERM arrived inside :func:`handle_interrupts`, whether or not its
    KeyboardInterrupt was raised (deferred out of TensorFlow, or raised inside a finalizer such as
    ``__del__``, where Python prints "Exception ignored" and drops it)."""
    return bool(_RECEIVED)


def raise_if_interrupted():
    """The safe point: KeyboardInterrupt if a signal arrived (once more, if it was raised before
    and dropped)."""
    if _RECEIVED:
        raise KeyboardInterrupt


@contextlib.contextmanager
def handle_interrupts(deferred_message="", signals=(signal.SIGINT, signal.SIGTERM)):
    """Inside the block, ``signals`` raise KeyboardInterrupt where that is safe and are recorded
    for :func:`raise_if_interrupted` where it is not (see the module's docstring), with
    ``deferred_message`` on stderr. Only the main thread can install handlers; elsewhere the block
    changes nothing."""
    del _RECEIVED[:]
    _DEFERRED_MESSAGE[0] = deferred_message
    try:
        old = {s: signal.signal(s, _on_signal) for s in signals}
    except ValueError:      # not the main thread
        old = {}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
