"""Running an entry point as the user does, and proving that it changed nothing it should not."""
import hashlib
import os
import subprocess
import sys

from conftest import REPO_ROOT


def tree_hashes(*roots):
    """{path: sha256} of every file under ``roots`` (files given directly count too)."""
    out = {}
    for root in roots:
        root = str(root)
        paths = [root] if os.path.isfile(root) else [
            os.path.join(d, n) for d, _, names in os.walk(root) for n in names]
        for path in paths:
            with open(path, "rb") as handle:
                out[path] = hashlib.sha256(handle.read()).hexdigest()
    return out


def run_cli(args, cwd=None, timeout=1800, env=None):
    """(exit status, stdout, stderr) of ``python3 ARGS`` (a script path or ``-m module``).

    The timeout only bounds a hung process: TensorFlow's import alone can take minutes on a
    heavily loaded 2-core machine."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    full_env.pop("TF_CONFIG", None)
    full_env.update(env or {})
    result = subprocess.run([sys.executable, *[str(a) for a in args]], cwd=cwd or REPO_ROOT,
                            capture_output=True, text=True, timeout=timeout, env=full_env)
    return result.returncode, result.stdout, result.stderr


def assert_one_error(status, stdout, stderr, *fragments):
    """Exit status 2, no traceback, exactly one line starting with 'error:' holding
    ``fragments``; returns that line."""
    text = stdout + stderr
    assert status == 2, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]
