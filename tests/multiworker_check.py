"""A training worker for test_train_multiworker.py: ``main.py --mode train`` in this process.

    python3 tests/multiworker_check.py KILL_AT [main.py flags ...]

With KILL_AT > 0 the process kills itself with SIGKILL (no clean-up, no save: a crashed machine)
right after the training step that reaches global step KILL_AT. TF_CONFIG comes from the
environment, as for a real worker.
"""
import os
import runpy
import signal
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)


def install_kill(kill_at):
    import lib.train.trainer as trainer_module
    init = trainer_module.Trainer.__init__

    def init_then_arm(self, *args, **kwargs):
        init(self, *args, **kwargs)
        train_step = self.step.train

        def train_then_maybe_die(*args):
            result = train_step(*args)
            if int(result["global_step"].numpy()) >= kill_at:
                print(f"worker killing itself after step {kill_at}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        self.step.train = train_then_maybe_die

    trainer_module.Trainer.__init__ = init_then_arm


def main():
    kill_at = int(sys.argv[1])
    main_py = os.path.join(REPO_ROOT, "main.py")
    sys.argv = [main_py] + sys.argv[2:]
    if kill_at > 0:
        install_kill(kill_at)
    runpy.run_path(main_py, run_name="__main__")


if __name__ == "__main__":
    main()
