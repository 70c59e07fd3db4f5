"""``python3 -m lib.train.branch``: start a new run folder from one step of another run.

    python3 -m lib.train.branch --from runs/teco --step 750 --to runs/teco_w24
    python3 runGan.py 3 ... --run_dir runs/teco_w24 --temporal_loss 24    # the same command, one change

Trying a change from the middle of a run (a loss weight, ``--Dbalance``, the precision) without
losing the run itself: the new folder gets the run's ``run.json`` (with the branch added to its
``history``: the source folder and step) and its training-state checkpoint
``state/ckpt-N`` (generator, FNet, discriminator, Adam, the weight average, the step count and the
loss averages), and nothing else. Training with ``--run_dir`` the new folder then resumes exactly
where the run was at step N, as a resume of the run itself would (``tests/train/test_branch.py``
proves it bit for bit); the settings given that differ from ``run.json`` are printed as a note at
the start, as on any resume. Step numbers continue from N. This is how model/README.md's branches
were made by hand (copying the files and writing ``state/checkpoint``).

The source is only read. The checkpoint is read whole first (a damaged one is refused), the copy
is made in a temporary sibling folder and renamed into place, and an existing ``--to`` that is not
an empty folder is refused: nothing is overwritten, and an interrupted copy leaves no half folder.
Bad input is one ``error:`` line and exit status 2.
"""
import glob
import json
import os
import shutil
import sys
import tempfile

from lib.errors import ArgumentParser, UserError, run_cli

RUN_FILE = "run.json"       # as lib.train.run_folder (not imported here: it loads TensorFlow)
STATE_DIR = "state"


def parse_args(argv):
    parser = ArgumentParser(prog="python3 -m lib.train.branch",
                            description="Start a new run folder from step N of a training run.")
    parser.add_argument("--from", dest="source", required=True,
                        help="the run folder to branch from (its --run_dir); only read")
    parser.add_argument("--step", type=int, default=None,
                        help="the step whose state checkpoint (state/ckpt-N) to start from "
                             "(default: the newest)")
    parser.add_argument("--to", dest="target", required=True,
                        help="the new run folder (must not exist, or be empty)")
    return parser.parse_args(argv)


def _steps_on_disk(source):
    from lib.train.state_checkpoints import state_steps
    return state_steps(source)


def _check_target(source, target):
    if not target:
        raise UserError("--to is empty; give the new run folder")
    if os.path.abspath(source) == os.path.abspath(target):
        raise UserError(f"--to '{target}' is the run itself; give a new folder")
    inside = os.path.join(os.path.abspath(source), "")
    if os.path.abspath(target).startswith(inside):
        raise UserError(f"--to '{target}' is inside the run '{source}', which a branch only "
                        "reads; give a folder outside it")
    if os.path.lexists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise UserError(f"--to '{target}' exists and is not an empty folder; give a new one "
                        "(nothing was changed)")
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise UserError(f"--to '{target}': the folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"--to '{target}': cannot write in '{parent}'")


def choose_checkpoint(source, step=None):
    """``(N, prefix)`` of the state checkpoint to branch from; UserError when there is none."""
    if not os.path.isdir(source):
        raise UserError(f"--from '{source}' is not a folder (give a training run's --run_dir)")
    if not os.path.isfile(os.path.join(source, RUN_FILE)):
        raise UserError(f"--from '{source}' holds no {RUN_FILE}: not a training run folder")
    steps = _steps_on_disk(source)
    if not steps:
        raise UserError(f"--from '{source}' holds no state checkpoint ({STATE_DIR}/ckpt-N)")
    if step is None:
        step = steps[0]
    elif step not in steps:
        shown = ", ".join(str(s) for s in sorted(steps))
        raise UserError(f"--step {step}: '{source}/{STATE_DIR}' has no ckpt-{step}; it has "
                        f"steps {shown}")
    return step, os.path.join(source, STATE_DIR, f"ckpt-{step}")


def branch_run(source, target, step=None):
    """Make run folder ``target`` a copy of run ``source`` at ``step`` (default: newest).

    Returns the step. The source is only read; ``target`` appears whole or not at all.
    """
    from lib.io.disk_full import NoSpaceError, is_disk_full, no_space_message
    from lib.models.checkpoint_files import check_no_pattern
    from lib.train.state_checkpoints import checkpoint_problem
    check_no_pattern(source, "--from")
    check_no_pattern(target, "--to")
    step, prefix = choose_checkpoint(source, step)
    _check_target(source, target)
    problem = checkpoint_problem(prefix)
    if problem:
        raise UserError(f"'{prefix}' cannot be read whole ({problem}); choose another --step")
    files = [prefix + ".index"] + sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    parent = os.path.dirname(os.path.abspath(target))
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(os.path.abspath(target)) + ".",
                               suffix=".partial", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)      # mkdtemp's 0700 would make the run private
        os.makedirs(os.path.join(staging, STATE_DIR))
        write_branch_run_file(source, os.path.join(staging, RUN_FILE), step)
        for path in files:
            shutil.copyfile(path, os.path.join(staging, STATE_DIR, os.path.basename(path)))
        # the CheckpointManager's state file, as a save writes it: the resume starts from ckpt-N
        with open(os.path.join(staging, STATE_DIR, "checkpoint"), "w") as handle:
            handle.write(f'model_checkpoint_path: "ckpt-{step}"\n'
                         f'all_model_checkpoint_paths: "ckpt-{step}"\n')
        if os.path.isdir(target):
            os.rmdir(target)        # empty (checked above); rename cannot replace a folder
        os.rename(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if is_disk_full(err):
            raise NoSpaceError(no_space_message(f"the branch '{target}' (nothing was kept)",
                                                "the same command")) from err
        raise UserError(f"could not copy the run to '{target}': {err} (nothing was kept)") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return step


def write_branch_run_file(source, path, step):
    """The source's ``run.json`` with a ``branch`` entry added to its history (the source folder
    and step, as lib/train/run_folder.py's ``with_history`` keeps it); all else as it was."""
    import datetime                 # the time as run_folder.utc_now writes it (not imported: TF)
    with open(os.path.join(source, RUN_FILE), encoding="utf-8") as handle:
        try:
            identity = json.load(handle)
        except ValueError:
            identity = None
    if not isinstance(identity, dict) or not isinstance(identity.get("history", []), list) \
            or not isinstance(identity.get("settings", {}), dict):
        raise UserError(f"'{source}/{RUN_FILE}' is unreadable: not a run folder this project "
                        "wrote")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    identity["history"] = list(identity.get("history", [])) + [
        {"event": "branch", "step": step, "time": now, "from": os.path.abspath(source)}]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(identity, handle, indent=1, sort_keys=True)


def main(argv=None):
    args = parse_args(argv)
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()
    step = branch_run(args.source, args.target, args.step)
    print(f"'{args.target}' starts at step {step} of '{args.source}' (run.json and "
          f"state/ckpt-{step}). Train it with the run's command and --run_dir {args.target}, "
          "plus the settings to change (each is noted when it starts).")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
