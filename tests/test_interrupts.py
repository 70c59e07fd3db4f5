"""lib/interrupts.py: a signal raises KeyboardInterrupt only outside TensorFlow's code, else it
waits for the caller's safe point (TensorFlow's eager fast path swallows an exception raised in
``TensorShape.__len__`` and then overruns a buffer: the module's docstring)."""
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import lib.interrupts
from conftest import REPO_ROOT
from lib.interrupts import (handle_interrupts, inside_tensorflow, interrupt_requested,
                            raise_if_interrupted)


def signal_self_and_wait(signum):
    """Send ``signum`` to this process and give Python a place to run the handler: here."""
    os.kill(os.getpid(), signum)
    time.sleep(0.3)


def must_not_raise(function, *args):
    """``function(*args)``; a KeyboardInterrupt fails this test (pytest would stop the run)."""
    try:
        function(*args)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt raised where the signal should only be recorded")


def call_through_tensorflow(function):
    """``function()`` called by TensorFlow's Python code (tf.nest), as a model's ``call`` is
    called while tracing or a TensorShape's ``__len__`` by the eager fast path."""
    return tf.nest.map_structure(lambda _: function(), [0])[0]


def test_inside_tensorflow_looks_at_every_calling_frame():
    assert not inside_tensorflow(sys._getframe())
    assert call_through_tensorflow(lambda: inside_tensorflow(sys._getframe()))
    assert inside_tensorflow(None)          # nothing to tell it is safe


def test_a_signal_in_plain_python_raises_at_once():
    with handle_interrupts():
        assert not interrupt_requested()
        with pytest.raises(KeyboardInterrupt):
            signal_self_and_wait(signal.SIGTERM)
            pytest.fail("the handler did not raise")
        assert interrupt_requested()


def test_a_signal_inside_tensorflow_waits_for_the_safe_point(capfd):
    with handle_interrupts("{signal} waits"):
        must_not_raise(call_through_tensorflow, lambda: signal_self_and_wait(signal.SIGINT))
        assert interrupt_requested()
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
    assert "SIGINT waits" in capfd.readouterr().err


def test_only_the_first_signal_may_raise():
    """A second Ctrl+C must not break the checkpoint save that the first one started."""
    with handle_interrupts():
        with pytest.raises(KeyboardInterrupt):
            signal_self_and_wait(signal.SIGINT)
        must_not_raise(signal_self_and_wait, signal.SIGINT)      # recorded only
        must_not_raise(signal_self_and_wait, signal.SIGTERM)
        assert lib.interrupts._RECEIVED == [signal.SIGINT, signal.SIGINT, signal.SIGTERM]


def test_handlers_are_restored_and_each_block_starts_clean():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with handle_interrupts():
        must_not_raise(call_through_tensorflow, lambda: signal_self_and_wait(signal.SIGTERM))
        assert signal.getsignal(signal.SIGTERM) is lib.interrupts._on_signal
    assert {s: signal.getsignal(s) for s in before} == before
    with handle_interrupts():
        assert not interrupt_requested()
        raise_if_interrupted()                  # nothing arrived in this block


SIGNAL_IN_SHAPE_LEN = r"""
import os, signal, sys
import tensorflow as tf
from tensorflow.python.framework import tensor_shape
from lib.interrupts import handle_interrupts, raise_if_interrupted

iterator = iter(tf.data.Dataset.from_tensors(tf.zeros([2, 3, 4, 5, 6])).repeat())
next(iterator)
real_len, armed = tensor_shape.TensorShape.__len__, []

def len_with_a_signal(self):
    if armed:
        armed.clear()
        os.kill(os.getpid(), signal.SIGINT)     # the handler runs at the next bytecode: here
    return real_len(self)

tensor_shape.TensorShape.__len__ = len_with_a_signal
for trial in range(TRIALS):
    with handle_interrupts():
        armed.append(1)
        try:
            assert next(iterator).shape == (2, 3, 4, 5, 6)
            raise_if_interrupted()
            print("lost")
        except KeyboardInterrupt:
            print("raised after the op")
"""


def test_a_signal_during_the_eager_fast_paths_shape_attribute_crashes_nothing(tmp_path):
    """The crash itself, made deterministic: SIGINT arrives while IteratorGetNext's fast path
    calls ``TensorShape.__len__`` for its ``output_shapes``. A handler that raised there had its
    KeyboardInterrupt swallowed and the buffer overrun: "free(): invalid next size (fast)" and
    SIGABRT within the first tries (``runGan.py 4`` got exit status 250 in 1 of 43 Ctrl+Cs)."""
    script = tmp_path / "signal_in_shape_len.py"
    script.write_text(SIGNAL_IN_SHAPE_LEN.replace("TRIALS", "20"))
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n").count("raised after the op") == 20, done.stdout
