"""The run folder's training-state checkpoints (``<output_dir>/state/ckpt-N``) after accidents.

* A run killed while saving leaves TensorFlow's temporary ``ckpt-N_temp/`` folder (and SaveV2's
  ``*.tempstate*`` files): :func:`clean_interrupted_saves` removes them on the next start.
* A damaged checkpoint (a data file cut short by a full disk or a copy, a bad block) cannot be
  restored: :func:`resumable_checkpoint` reads every tensor of the newest checkpoint first (the
  bundle reader checks each tensor's CRC32C), moves damaged ones to ``state/damaged/`` and resumes
  from the newest good one, saying so. Nothing is deleted.

Checkpoints are found from the files on disk (``ckpt-N.index``), not only from the ``checkpoint``
state file, which a kill can leave naming a checkpoint that was never written.

* A damaged ``state/checkpoint`` file (not UTF-8 text, not a CheckpointState, empty) would stop
  ``tf.train.CheckpointManager`` with a traceback: :func:`repair_state_file` moves it to
  ``state/damaged/`` and writes a new one naming the checkpoints on disk, saying so.
"""
import contextlib
import os
import re
import shutil

import tensorflow as tf

from lib.io.disk_full import NoSpaceError, is_disk_full, no_space_message
from lib.models.checkpoint import STATE_FILE, state_file_problem

STATE_DIR = "state"
DAMAGED_DIR = "damaged"
_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
_TEMP_DIR = re.compile(r"^(ckpt|model)-\d+_temp$")
_TEMP_FILE = re.compile(r"^(ckpt|model)-\d+\.(index|data-\d+-of-\d+)\.tempstate\d*$")


def state_steps(output_dir):
    """Steps of the state checkpoints on disk, newest first."""
    folder = os.path.join(output_dir, STATE_DIR)
    if not os.path.isdir(folder):
        return []
    steps = [int(m.group(1)) for m in map(_INDEX.match, os.listdir(folder)) if m]
    return sorted(steps, reverse=True)


def clean_interrupted_saves(output_dir, log=print):
    """Remove the temporary files of saves that a kill interrupted; returns what was removed."""
    removed = []
    for folder in (output_dir, os.path.join(output_dir, STATE_DIR)):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if _TEMP_DIR.match(name) and os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif _TEMP_FILE.match(name) and os.path.isfile(path):
                os.remove(path)
            else:
                continue
            removed.append(path)
    if removed:
        log(f"removed {len(removed)} leftover(s) of a save that was interrupted: "
            + ", ".join(os.path.relpath(p, output_dir) for p in removed))
    return removed


def checkpoint_problem(prefix):
    """None when every tensor of checkpoint ``prefix`` reads back, else the reason (one line).
    A path TensorFlow would read as a file pattern is a UserError, never a damaged checkpoint
    (which the caller would set aside)."""
    from lib.models.checkpoint_files import check_no_pattern
    check_no_pattern(prefix, "checkpoint")
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, OSError, IndexError, RuntimeError) as err:
        # a data file cut short raises IndexError "Read less bytes than requested" (TF 2.21)
        text = getattr(err, "message", None) or str(err) or type(err).__name__
        return text.strip().splitlines()[0][:300]
    return None


def _set_aside(folder, name):
    """Move ``folder/name`` into ``state/damaged/`` (never over another file); the new path."""
    target = os.path.join(folder, DAMAGED_DIR)
    os.makedirs(target, exist_ok=True)
    dest, n = os.path.join(target, name), 1
    while os.path.lexists(dest):
        n += 1
        dest = os.path.join(target, f"{name}.{n}")
    os.replace(os.path.join(folder, name), dest)
    return dest


def _move_to_damaged(output_dir, step):
    """Move every file of ``ckpt-<step>`` into ``state/damaged/`` (never over another file)."""
    folder = os.path.join(output_dir, STATE_DIR)
    stem = f"ckpt-{step}."
    for name in sorted(os.listdir(folder)):
        if name.startswith(stem) and os.path.isfile(os.path.join(folder, name)):
            _set_aside(folder, name)
    return os.path.join(folder, DAMAGED_DIR)


def _names_missing_checkpoints(folder):
    """True when the (readable) state file of ``folder`` names a checkpoint not on disk: what a
    save stopped between removing the oldest checkpoint and recording the new list leaves."""
    state = tf.train.get_checkpoint_state(folder)
    if state is None:
        return False
    named = [state.model_checkpoint_path, *state.all_model_checkpoint_paths]
    return any(not os.path.exists(p + ".index") for p in named)


def repair_state_file(output_dir, log=print):
    """A damaged ``state/checkpoint`` goes to ``state/damaged/`` and is written anew from the
    checkpoints on disk (none on disk: no new file); True when it was repaired. One naming
    checkpoints that are not on disk is written anew too."""
    folder = os.path.join(output_dir, STATE_DIR)
    problem = state_file_problem(folder)
    if problem is None:
        if not os.path.isfile(os.path.join(folder, STATE_FILE)) or \
                not _names_missing_checkpoints(folder):
            return False
        steps = state_steps(output_dir)
        if steps:
            _rewrite_state_file(output_dir, steps)
        else:
            os.remove(os.path.join(folder, STATE_FILE))
        log(f"note: the checkpoint index '{os.path.join(folder, STATE_FILE)}' named "
            f"checkpoints that are not on disk; rebuilt from the {len(steps)} on disk")
        return True
    moved = _set_aside(folder, STATE_FILE)
    steps = state_steps(output_dir)
    if steps:
        _rewrite_state_file(output_dir, steps)
    log(f"warning: the checkpoint index '{os.path.join(folder, STATE_FILE)}' is damaged "
        f"({problem}); moved to '{moved}'"
        + (f" and rebuilt from the {len(steps)} checkpoint(s) on disk" if steps else ""))
    return True


def newest_state_checkpoint(output_dir):
    """Prefix of the newest state checkpoint: the one the state file names when it is readable
    and its files exist, else the newest on disk; None without any."""
    folder = os.path.join(output_dir, STATE_DIR)
    if state_file_problem(folder) is None:
        named = tf.train.latest_checkpoint(folder)
        if named and os.path.exists(named + ".index"):
            return named
    steps = state_steps(output_dir)
    return os.path.join(folder, f"ckpt-{steps[0]}") if steps else None


def _rewrite_state_file(output_dir, steps):
    """The ``checkpoint`` file naming only the good checkpoints (read by CheckpointManager)."""
    names = [f"ckpt-{s}" for s in sorted(steps)]
    tf.compat.v1.train.update_checkpoint_state(os.path.join(output_dir, STATE_DIR), names[-1],
                                               all_model_checkpoint_paths=names)


def resumable_checkpoint(output_dir, log=print, clean=True):
    """Prefix of the newest state checkpoint that reads back completely, or None if none does.

    Damaged newer ones are reported; with ``clean`` (the chief) they are moved to
    ``state/damaged/`` and the state file is rewritten so that the checkpoint manager forgets them.
    Other workers only read, and reach the same answer.
    """
    steps = state_steps(output_dir)
    damaged = []
    for step in steps:
        prefix = os.path.join(output_dir, STATE_DIR, f"ckpt-{step}")
        problem = checkpoint_problem(prefix)
        if problem is None:
            if damaged:
                log(f"resuming from the previous good checkpoint '{prefix}' (step {step}) "
                    f"instead of the damaged {', '.join(f'ckpt-{s}' for s in damaged)}")
                if clean:
                    _rewrite_state_file(output_dir, [s for s in steps if s not in damaged])
            return prefix
        damaged.append(step)
        where = ""
        if clean:
            where = f"; moved to '{_move_to_damaged(output_dir, step)}'"
        log(f"warning: checkpoint '{prefix}' is damaged and cannot be restored ({problem}){where}")
    return None


# --------------------------------------------------------------------------------------------
# A save that fails (full disk): undone, so the run folder is as after the previous save

def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _rewrite_official_state_file(output_dir):
    """The run folder's TF1 ``checkpoint`` file names the newest ``model-N`` on disk (removed
    when there is none), so that ``--checkpoint <run folder>`` never meets a missing model."""
    steps = sorted(int(m.group(1)) for m in
                   map(re.compile(r"^model-(\d+)\.index$").match, os.listdir(output_dir)) if m)
    path = os.path.join(output_dir, STATE_FILE)
    if not steps:
        _remove_quietly(path)
        return
    base = f"model-{steps[-1]}"
    tmp = path + ".rewrite.tmp"
    try:
        with open(tmp, "w") as handle:
            handle.write(f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n')
        os.replace(tmp, path)
    except OSError:
        _remove_quietly(tmp)
        _remove_quietly(path)     # better none than one naming a model that is not there


def undo_save(output_dir, step):
    """Remove every file of the save of ``step`` (state/ckpt-N, model-N, model_ema-N and their
    temporaries) and make both state files name only checkpoints on disk."""
    clean_interrupted_saves(output_dir, log=lambda *a: None)
    folder = os.path.join(output_dir, STATE_DIR)
    for where, stems in ((folder, (f"ckpt-{step}.",)),
                         (output_dir, (f"model-{step}.", f"model_ema-{step}."))):
        if os.path.isdir(where):
            for name in os.listdir(where):
                if name.startswith(stems):
                    _remove_quietly(os.path.join(where, name))
    with contextlib.suppress(OSError):      # the next start repairs what cannot be written now
        repair_state_file(output_dir, log=lambda *a: None)
    if os.path.isdir(output_dir):
        _rewrite_official_state_file(output_dir)


@contextlib.contextmanager
def save_or_undo(output_dir, step, undo=True):
    """A save of ``step`` that fails on a full disk is undone (:func:`undo_save`; only with
    ``undo``: the chief, the one worker that writes the run folder) and becomes one UserError
    saying where a rerun resumes; a deterministic run resumed there ends exactly as an
    uninterrupted one."""
    try:
        yield
    except Exception as err:          # noqa: BLE001 (re-raised unless it is a full disk)
        if not is_disk_full(err):
            raise
        if undo:
            undo_save(output_dir, step)
        raise NoSpaceError(no_space_message(f"the checkpoint of step {step} in '{output_dir}'",
                                            f"the same command; {_resume_text(output_dir)}")) \
            from None


def _resume_text(output_dir):
    steps = state_steps(output_dir)
    return (f"training resumes from the last checkpoint "
            f"'{os.path.join(output_dir, STATE_DIR, f'ckpt-{steps[0]}')}' (step {steps[0]})"
            if steps else "training starts again from step 0")


@contextlib.contextmanager
def disk_full_is_user_error(output_dir):
    """Any other write of a run (run.json, the log, summaries, source copies) on a full disk:
    one UserError saying where a rerun resumes (checkpoint saves have :func:`save_or_undo`)."""
    try:
        yield
    except Exception as err:          # noqa: BLE001 (re-raised unless it is a full disk)
        if not is_disk_full(err):
            raise
        raise NoSpaceError(no_space_message(f"into the run folder '{output_dir}'",
                                            f"the same command; {_resume_text(output_dir)}")) \
            from None
