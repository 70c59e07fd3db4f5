"""``--test_inference``, the original's testWhileTrain: after each checkpoint, the first 10 frames
of ``--test_input_dir`` super-resolved by the saved ``model-<step>`` into ``<output_dir>/train/``
by a separate ``main.py --mode inference`` process (training does not wait for it). Named so that
pytest does not take it for a test module."""
import os
import subprocess
import time

from lib.project import MAIN_PY, main_command

TEST_INFERENCE_FRAMES = 10


class InferenceWhileTraining:
    """Starts the test-inference processes of one run and waits for them at the end."""

    def __init__(self, output_dir, input_dir, num_resblock, cuda_id, enabled=True, log=print):
        self.output_dir, self.input_dir = output_dir, input_dir
        self.num_resblock, self.cuda_id = num_resblock, cuda_id
        self.enabled, self.log = enabled, log
        self.children = []
        self.warned = False

    def command(self, step, out):
        return main_command([
            "--output_dir", out, "--summary_dir", out, "--mode", "inference",
            "--num_resblock", self.num_resblock,
            "--checkpoint", os.path.join(self.output_dir, f"model-{step}"),
            "--cudaID", self.cuda_id, "--input_dir_LR", self.input_dir, "--output_pre", "",
            "--output_name", f"{step:09d}", "--input_dir_len", TEST_INFERENCE_FRAMES,
            "--noprogress"])

    def start(self, step, wait=False):
        """Test ``model-<step>``; returns the child process (None when disabled or skipped)."""
        if not self.enabled:
            return None
        if not os.path.isdir(self.input_dir) or not os.path.isfile(MAIN_PY):
            if not self.warned:
                self.warned = True
                self.log(f"test inference skipped: '{self.input_dir}' not found (fetch it "
                         "with runGan.py 0, or set --test_input_dir; --notest_inference silences "
                         "this)")
            return None
        out = os.path.join(self.output_dir, "train") + os.sep
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "test_inference.log"), "a") as log_file:
            child = subprocess.Popen(self.command(step, out), stdout=log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=os.getcwd())
        self.children.append(child)
        if wait:
            self.wait()
        return child

    def wait(self, timeout=900):
        """Wait for the running children, at most ``timeout`` seconds in all."""
        deadline = time.time() + timeout
        for child in self.children:
            try:
                child.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.log(f"test inference (pid {child.pid}) still running; not waiting longer")
        self.children = [c for c in self.children if c.poll() is None]
