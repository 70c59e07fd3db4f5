"""Where the project is and how to start it: the one home of the repository root, the ``main.py``
command line used by every child process (runGan.py, training recipes, test inference), and
seeding."""
import os
import random
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN_PY = os.path.join(REPO_ROOT, "main.py")


def main_command(args, python=None, main_py=None):
    """``[python, main.py, *args]``: the command line of a ``main.py`` child process (``main_py``
    replaces this checkout's main.py, e.g. a stand-in in tests)."""
    return [python or sys.executable, main_py or MAIN_PY] + [str(a) for a in args]


def set_seeds(seed):
    """Seed Python, NumPy and TensorFlow, as the original's main.py did."""
    import numpy as np          # here, not at the top: this module is imported before TensorFlow
    import tensorflow as tf     # should load (path checks come first)
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
