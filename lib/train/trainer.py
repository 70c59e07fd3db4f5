"""``main.py --mode train``: the training loop of the original (reference 3.4), resumable.

The pieces: data (``lib/train/dataloader.py``), networks (``lib/models/networks.py``,
``lib/models/discriminator.py``, ``lib/models/vgg19.py``), the D input (``lib/train/d_input.py``),
losses (``lib/train/losses.py``, ``lib/train/teco_model.py``), the step (``lib/train/teco_step.py``),
the run folder (``lib/train/run_folder.py``, ``lib/train/state_checkpoints.py``), starting weights
(``lib/train/start_weights.py``), devices (``lib/train/strategy.py``), the test inference
(``lib/train/inference_while_training.py``) and this loop: console lines every
``--display_freq`` steps, TensorBoard scalars (EMA-averaged), validation scalars and GIF summaries
every ``--summary_freq``, a checkpoint every ``--save_freq`` and on Ctrl+C (SIGINT/SIGTERM), with
the original's quick test inference into ``<output_dir>/train/``.

The run folder (``--output_dir``)::

    run.json                      what defines the run (checked on resume), and its history
                                  of starts, branches and resumes with changed settings
    state/ckpt-<step>.*           full training state: weights, 3 Adam optimisers, EMAs,
                                  counters, global step, data position (tf.train.Checkpoint)
    model-<step>.{index,data-*}   weights in the official TF1 naming (G, FNet, D, global_step):
                                  ``--mode inference --checkpoint`` and the original code load it
    model_ema-<step>.*            with ``--ema_decay``: the averaged G and FNet, same naming
    checkpoint                    TF1 state file naming the newest model-<step>
    log/                          events (TensorBoard), logfile.txt, source copies
    train/                        test-inference frames <step>_<frame>.jpg

A run folder that already holds a state checkpoint is resumed from it without any flag: the step,
the optimisers, the EMAs and the data position continue exactly, so a killed run resumed gives the
same weights as an uninterrupted one (with ``--deterministic``). ``--max_iter`` is the total number
of steps of the run (the original ran ``max_iter`` more steps after every restart).
"""
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import time

import numpy as np
import tensorflow as tf
from absl import logging as absl_logging

from lib.errors import UserError
from lib.interrupts import handle_interrupts, raise_if_interrupted
from lib.io.folder_lock import FolderLock
from lib.io.output_paths import prepare_output_dir, remove_if_empty
from lib.logging_utils import log_only, tee_stdout
from lib.models.checkpoint import save_official
from lib.models.vgg16 import MAKE_IT as MAKE_VGG16
from lib.models.vgg19 import VGG_URL
from lib.train.dataloader import (VALIDATION_SEED_OFFSET, distributed_dataset, load_scenes,
                                  op_error_text, undecodable_frames)
from lib.train.config import check_configs as check_config_values
from lib.train.inference_while_training import InferenceWhileTraining
from lib.train.run_folder import (check_same_structure, copy_sources, find_resume_point,
                                  find_state_for, log_folder, remove_models_except, run_identity,
                                  with_history, write_run_file)
from lib.train.start_weights import (GLOBAL_STEP_NAME, check_start_checkpoint, load_pretrained,
                                     load_weights_strict, restore_state)
from lib.train.state_checkpoints import STATE_DIR, disk_full_is_user_error, save_or_undo
from lib.train.strategy import bf16_note, choose_strategy, is_chief, peer_loss_is_user_error
from lib.train.summaries import write_scalars, write_sequences
from lib.train.teco_step import build

# Ctrl+C that lands inside TensorFlow waits for the step to end (lib/interrupts.py says why).
DEFERRED_MESSAGE = "{signal} received: training stops when this step ends, with a checkpoint"


# --------------------------------------------------------------------------------------------
# Before any model: the checks, fast, in the order of the original's failures

def check_configs(config, data, run):
    """What the configs alone can tell (UserError); nothing is read or created."""
    check_config_values(config, data, run)


def check_vgg_checkpoint(config, run):
    """The perceptual-loss weights exist when the loss is on (``--vgg_scaling`` > 0)."""
    if not config.use_vgg:
        return
    if config.vgg_net == "vgg16_lpips":
        if not run.vgg_ckpt or not os.path.isfile(run.vgg_ckpt):
            raise UserError(f"--vgg_net vgg16_lpips needs --vgg_ckpt model/vgg16_lpips.npz "
                            f"(now '{run.vgg_ckpt}'); make it with: {MAKE_VGG16}")
    elif not run.vgg_ckpt or not (os.path.isfile(run.vgg_ckpt)
                                  or os.path.isfile(run.vgg_ckpt + ".index")):
        raise UserError(f"--vgg_scaling {config.vgg_scaling} > 0 needs the TF-slim VGG19 "
                        f"checkpoint (--vgg_ckpt, now '{run.vgg_ckpt}'): download "
                        f"{VGG_URL} and unpack vgg_19.ckpt into model/ (runGan.py 3 "
                        "does this)")


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What the checks before the model found (:func:`plan_run`): the run's identity, where it
    resumes, its scenes and its length."""
    identity: dict                  # the content of run.json
    summary_dir: str
    resume_path: str                # the state checkpoint to resume from; None for a new run
    scenes: object                  # dataloader.SceneSet
    val_scenes: object              # dataloader.SceneSet, or None without validation scenes
    max_iter: int                   # the total number of steps of the run
    # the run folder's lock (lib/io/folder_lock.py; the chief's): held until train() returns
    lock: object = dataclasses.field(default_factory=contextlib.nullcontext)

    @property
    def resume(self):
        return self.resume_path is not None

    @property
    def resume_step(self):
        """Step of the checkpoint this run resumes from (None for a new run)."""
        return int(self.resume_path.rsplit("-", 1)[1]) if self.resume_path else None


def plan_run(config, data, run, chief=True, log=print):
    """The checks that need no model (fast failures), then the scenes: a :class:`RunPlan`."""
    identity = run_identity(config, data, run)
    resume_path = find_resume_point(run.output_dir, identity, chief, log)
    check_vgg_checkpoint(config, run)
    if resume_path is None:
        check_start_checkpoint(run)
    scenes = load_scenes(data, config, log=log)
    val_scenes = load_scenes(data, config, validation=True, log=log)
    count = len(scenes)
    log(f"tData count = {count}, steps per epoch {count // config.batch_size}")
    max_iter = run.max_iter if run.max_iter is not None else \
        run.max_epoch * max(1, count // config.batch_size)
    return RunPlan(identity, log_folder(run), resume_path, scenes, val_scenes, max_iter)


def prepare_run(config, data, run, chief=True, log=print):
    """The run folders (made if missing) and the :class:`RunPlan`; a refused start leaves no
    empty run folder behind."""
    # a file, a file as parent or an unwritable place: one error line before any work
    created = prepare_output_dir(run.output_dir, "--output_dir")
    # One run per run folder: a second one (even with the same settings) would "resume" from
    # the first one's checkpoints and interleave its own with them.
    lock = FolderLock(run.output_dir, "training run folder", log) if chief else None
    try:
        if lock is not None:
            lock.acquire()
        created += prepare_output_dir(log_folder(run), "--summary_dir")
        plan = plan_run(config, data, run, chief, log)
        return plan if lock is None else dataclasses.replace(plan, lock=lock)
    except BaseException:
        if lock is not None:
            lock.release()
        remove_if_empty(created)
        raise


def nothing_to_do(plan, output_dir, log=print):
    """True when a resumed run is at ``--max_iter`` already; UserError when beyond it.

    ``--max_iter`` is the total length of the run here (the original ran that many more
    steps after every restart), so a smaller value is most likely meant the original way.
    """
    step, max_iter = plan.resume_step, plan.max_iter
    if step is None or step < max_iter:
        return False
    if step > max_iter:
        raise UserError(f"--max_iter {max_iter} is below step {step}, where the run in "
                        f"'{output_dir}' stopped: --max_iter counts all steps of the run "
                        f"(not the steps after a restart); give --max_iter above {step} to "
                        "train further, or a new --output_dir")
    log(f"the run in '{output_dir}' is at step {step} = --max_iter already: "
        "nothing to do (raise --max_iter to train further)")
    return True


@dataclasses.dataclass
class NothingToDo:
    """What :func:`train` returns for a run that is at ``--max_iter`` already."""
    final_step: int
    history: list = dataclasses.field(default_factory=list)
    last_saved: str = None


# --------------------------------------------------------------------------------------------
# The trainer

class Trainer:
    """One training run, complete once constructed: the model under ``strategy`` with its
    starting weights (the resumed state, ``--checkpoint``, or fresh), the checkpoint manager,
    ``run.json`` written, the input pipelines at the restored data position, the summary writer
    and the test inference. :meth:`loop` trains.

    Only the ``chief`` writes the run folder, summaries and test inferences.
    """

    def __init__(self, config, data, run, plan, strategy, chief=True, log=print):
        self.config, self.data, self.run_config, self.plan = config, data, run, plan
        self.strategy, self.chief, self.log = strategy, chief, log
        self.output_dir, self.max_iter = run.output_dir, plan.max_iter
        self.model, self.state, self.step = build(config, strategy, seed=run.rand_seed)
        self._load_perceptual_net()
        self.parts = {"state": self.state, "generator": self.model.generator,
                      "fnet": self.model.fnet}
        if self.model.discriminator is not None:
            self.parts["discriminator"] = self.model.discriminator
        if self.step.weight_average is not None:
            self.parts["weight_average"] = self.step.weight_average
        self.checkpoint = tf.train.Checkpoint(**self.parts)
        state_dir = os.path.join(self.output_dir, STATE_DIR)
        if not chief:
            state_dir = os.path.join(self.output_dir, f".worker_{id(self)}")
        self.manager = tf.train.CheckpointManager(self.checkpoint, state_dir,
                                                  max_to_keep=run.keep_checkpoints,
                                                  checkpoint_name="ckpt")
        self._set_starting_weights()
        self.start_step = int(self.state.global_step.numpy())
        if chief and plan.resume:
            self._note_checkpoints_to_remove(run.keep_checkpoints)
        if chief:
            write_run_file(self.output_dir, with_history(
                self.output_dir, plan.identity, self.start_step, plan.resume,
                run.checkpoint, run.pre_trained_model))
        self.print_variables()

        position = int(self.state.data_position.numpy()) or self.start_step * config.batch_size
        self.batches = iter(self._dataset(plan.scenes, run.rand_seed, position,
                                          data.queue_thread))
        self.val_position = (self.start_step // run.summary_freq) * config.batch_size
        self.val_batches = None if plan.val_scenes is None else iter(self._dataset(
            plan.val_scenes, run.rand_seed + VALIDATION_SEED_OFFSET, self.val_position,
            max(1, min(2, data.queue_thread))))
        self.writer = tf.summary.create_file_writer(plan.summary_dir) if chief else None
        self.tester = InferenceWhileTraining(self.output_dir, run.test_input_dir,
                                             config.num_resblock, run.cudaID,
                                             enabled=chief and run.test_inference, log=log)
        self.history = []          # raw logged values of every step of this session
        self.dt_ratio = 1.0        # the adversarial fade-in factor of the last step
        self.final_step = None
        self.last_saved = None
        self.saved_step = self.start_step if plan.resume else None
        self.png_warned = False

    # -- set-up ---------------------------------------------------------------------------------
    def _note_checkpoints_to_remove(self, keep):
        """A resume with a lower --keep_checkpoints than the run has checkpoints removes the
        oldest at the next save: say which, while there is time to copy them (Ctrl-C)."""
        from lib.train.state_checkpoints import state_steps
        steps = state_steps(self.output_dir)           # newest first
        if len(steps) > keep:          # the save itself counts: it keeps keep - 1 of these
            older = ", ".join(str(s) for s in sorted(steps[keep - 1:]))
            self.log(f"note: --keep_checkpoints {keep} and the run holds {len(steps)} "
                     f"checkpoints: the next save removes steps {older} (state/ckpt-N, model-N, "
                     "model_ema-N); stop now (Ctrl-C) and copy them elsewhere to keep them")

    def _load_perceptual_net(self):
        if self.model.vgg is None:
            return
        vgg_ckpt = self.run_config.vgg_ckpt
        self.model.vgg.load(vgg_ckpt)
        if self.config.vgg_net == "vgg19":
            self.log("VGG19 restored successfully!!")
        else:
            self.log(f"perceptual loss: VGG16 stand-in {vgg_ckpt} (conv2_2, conv3_3, conv4_3, "
                     "conv5_3 in place of VGG19's; not the original loss)")

    def _set_starting_weights(self):
        run, plan = self.run_config, self.plan
        if plan.resume:
            # every worker restores from the run folder's state (a shared filesystem)
            restore_state(self.checkpoint, self.parts, plan.resume_path, plan.identity, self.log)
            if run.checkpoint or run.pre_trained_model:
                self.log("note: the run folder holds a checkpoint, so it is resumed; "
                         "--checkpoint/--pre_trained_model are ignored")
            return
        if not run.checkpoint:
            return
        if run.pre_trained_model:
            self.log(f"Loading weights from {run.checkpoint} (--pre_trained_model)")
            load_pretrained(self.model, run.checkpoint, run.init_missing_resblocks, self.log)
            return
        state_path = find_state_for(run.checkpoint)
        if state_path:
            check_same_structure(state_path, plan.identity)
            restore_state(self.checkpoint, self.parts, state_path, plan.identity, self.log)
        else:
            load_weights_strict(self.model, self.state, run.checkpoint, self.log)

    def _dataset(self, scene_set, seed, position, threads):
        return distributed_dataset(self.strategy, scene_set, self.config, seed, position,
                                   flip=self.data.flip, moving=self.data.movingFirstFrame,
                                   threads=threads)

    def print_variables(self):
        groups = [("generator", self.model.generator.official_variables()),
                  ("fnet", self.model.fnet.official_variables())]
        if self.model.discriminator is not None:
            groups.append(("tdiscriminator", self.model.discriminator.official_variables()))
        if self.model.vgg is not None:
            groups.append((self.model.vgg.scope, self.model.vgg.official_variables()))
        for scope, names in groups:
            total = 0
            for name, var in names.items():
                log_only(f"{name} {var.shape.as_list()}")
                total += int(np.prod(var.shape.as_list()))
            self.log(f"{scope} variables: {len(names)} tensors, {total:,} parameters")

    # -- the loop ---------------------------------------------------------------------------------
    def loop(self):
        """The original's training loop, from the restored step to ``--max_iter``; returns the
        last step (also ``final_step``)."""
        run, batch_size = self.run_config, self.config.batch_size
        step = self.start_step
        if not self.plan.resume:
            # The original saves model-<global_step> before training and tests it.
            self.save_and_test(step)
        start_time = time.time()
        self.log("Optimization starts!!!")
        while step < self.max_iter:
            raise_if_interrupted()      # a signal that arrived inside TensorFlow's code
            batch = self._next_batch(self.batches, self.plan.scenes, run.rand_seed,
                                     step * batch_size)
            result = self.train_step(batch, step)
            step = int(result["global_step"].numpy())
            learning_rate = float(result["learning_rate"].numpy())
            if step % run.display_freq == 0:
                self.display(step, start_time, learning_rate)
            if step % run.summary_freq == 0:
                self.write_summaries(step, batch, learning_rate)
            if step % run.save_freq == 0:
                self.save_and_test(step)
        if step != self.start_step and self.saved_step != step:
            self.save_and_test(step)
        self.final_step = step
        return step

    def train_step(self, batch, step):
        """One step on ``batch``; the raw values go to ``history``. A step with a loss that is
        not finite changes nothing and stops training (UserError naming the last checkpoint)."""
        for _ in range(self.config.D_extra_updates):
            # A D-only update whose loss is not finite changes nothing; the step below then
            # reports the batch (its own D loss is the same function).
            self.step.train_discriminator(*batch)
        result = self.step.train(*batch)
        if not bool(result["finite"].numpy()):
            bad = [k for k, v in result.items()
                   if v.dtype.is_floating and not np.all(np.isfinite(v.numpy()))]
            if not bool(result["flows_finite"].numpy()):
                bad.append("FNet flow")
            raise UserError(f"a loss is not finite at step {step + 1} ({', '.join(bad)}); "
                            "training stopped without applying that step. The last good "
                            f"checkpoint is {self.last_saved or 'none'}; try a lower "
                            "--learning_rate or start from a pre-trained model "
                            "(--pre_trained_model --checkpoint)")
        self.history.append({k: float(v.numpy()) for k, v in result.items()
                             if k in self.step.names})
        self.dt_ratio = float(result["dt_ratio"].numpy())
        return result

    def _next_batch(self, iterator, scene_set, seed, position):
        """The next batch; a frame TensorFlow cannot decode becomes an error naming the file.

        The cheap checks at start (header, end marker, size) cannot see damage inside the image
        data; this finds the file among the batch's frames (samples ``position`` onwards).
        """
        try:
            return next(iterator)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError,
                tf.errors.NotFoundError) as err:
            bad = undecodable_frames(scene_set, self.config, seed, position,
                                     self.config.batch_size)
            last = self.last_saved or self.plan.resume_path
            then = f"; the last checkpoint is '{last}', a restart resumes from it" if last else ""
            if bad:
                path, reason = bad[0]
                more = f" (and {len(bad) - 1} more frame(s) of this batch)" if len(bad) > 1 else ""
                raise UserError(f"training frame '{path}' cannot be decoded ({reason}){more}; "
                                f"replace it or remove its scene{then}") from None
            raise UserError(f"the training data pipeline failed ({op_error_text(err)}){then}") \
                from None

    def save_on_interrupt(self):
        """Ctrl+C or SIGTERM: save and test the current step (unless saved), wait for the tests."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        step = int(self.state.global_step.numpy())
        self.log(f"interrupted at step {step}: saving the checkpoint")
        if step > 0 and self.saved_step != step:
            self.save_and_test(step)
        self.tester.wait()
        signal.signal(signal.SIGINT, previous)

    # -- console and summaries --------------------------------------------------------------------
    def averaged(self):
        out = {name: float(var.numpy()) for name, var in self.state.loss_ema.items()}
        if self.config.gan:
            out["t_balance"] = float(self.state.t_balance_ema.numpy())
            out["Dst_ratio"] = float(self.dt_ratio)
            out["withD_counter"] = float(self.state.with_d_counter.numpy())
            out["w_o_D_counter"] = float(self.state.without_d_counter.numpy())
        return out

    def display(self, step, start_time, learning_rate):
        cfg = self.config
        elapsed = max(time.time() - start_time, 1e-9)
        done = step - self.start_step
        rate = done * cfg.batch_size / elapsed
        remaining = (self.max_iter - step) * elapsed / max(done, 1)
        epoch = step * cfg.batch_size // max(len(self.plan.scenes), 1) + 1
        self.log(f"progress  epoch {epoch}  step {step}  image/sec {rate:.3f}x{cfg.num_frames}  "
                 f"remaining {int(remaining // 3600)}h {int(remaining % 3600 // 60)}m")
        self.log(f"global_step {step}")
        self.log(f"learning_rate {learning_rate}")
        for name, value in self.averaged().items():
            self.log(f"{name} {value}")

    def write_summaries(self, step, batch, learning_rate):
        images = None
        if self.run_config.gif_summaries:
            result = self.step.evaluate_images(*batch)
            images = {k: v.numpy() for k, v in result["images"].items()}
        if self.chief:
            with self.writer.as_default():
                write_scalars({"learning_rate": learning_rate}, step)
                write_scalars(self.averaged(), step)
                if images is not None:
                    for name, frames in images.items():
                        if write_sequences(name, frames, step) == "png" and not self.png_warned:
                            self.png_warned = True
                            self.log("GIF summaries need ffmpeg; writing PNG frames instead")
        if self.val_batches is not None:
            val_batch = self._next_batch(self.val_batches, self.plan.val_scenes,
                                         self.run_config.rand_seed + VALIDATION_SEED_OFFSET,
                                         self.val_position)
            self.val_position += self.config.batch_size
            values = self.step.evaluate(*val_batch)
            values = {k: float(v) for k, v in values.items()}
            if self.chief:
                with self.writer.as_default():
                    write_scalars(values, step, prefix="val_")
            self.log("-----------Validation data scalars-----------")
            for name, value in values.items():
                self.log(f"val_{name} {value}")
        if self.chief:
            self.writer.flush()

    # -- checkpoints ------------------------------------------------------------------------------
    def export_variables(self):
        out = dict(self.model.official_variables())
        out[GLOBAL_STEP_NAME] = self.state.global_step
        return out

    def save_and_test(self, step):
        """A checkpoint of ``step``, then its test inference (the original's testWhileTrain)."""
        self.save(step)
        self.tester.start(step)

    def save(self, step):
        """The training state (state/ckpt-<step>) and, on the chief, model-<step> in the official
        naming, keeping as many of those as of the state checkpoints. On a full disk the save is
        undone and training stops with one error line (``save_or_undo``)."""
        with save_or_undo(self.output_dir, step, undo=self.chief):
            return self._save(step)

    def _save(self, step):
        self.state.data_position.assign(step * self.config.batch_size)
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            self.saved_step = step
            return None
        prefix = os.path.join(self.output_dir, f"model-{step}")
        save_official(self.export_variables(), prefix)
        average = self.step.weight_average
        # the averaged G and FNet, loadable as any model (from the first step on: before it the
        # average holds nothing but the initial values)
        if average is not None and bool(average.started.numpy()):
            save_official({**average.official_variables(), GLOBAL_STEP_NAME: self.state.global_step},
                          os.path.join(self.output_dir, f"model_ema-{step}"),
                          write_state_file=False)
        remove_models_except(self.output_dir, {os.path.basename(p).split("-")[-1]
                                               for p in self.manager.checkpoints})
        self.last_saved = path
        self.saved_step = step
        self.log(f"Save the checkpoint: {path} (official names: {prefix})")
        return prefix


# --------------------------------------------------------------------------------------------
# main.py --mode train

def train(config, data, run, log=print):
    """Train with a :class:`~lib.train.config.TrainConfig`, ``DataConfig`` and ``RunConfig``.

    Returns the :class:`Trainer` (``final_step``, ``history`` of the raw logged values per step,
    ``last_saved``, ``model``, ``state``), or :class:`NothingToDo` for a run at ``--max_iter``.
    """
    early = []              # what is logged before the log file exists

    def early_log(*args):
        early.append(" ".join(str(a) for a in args))
        log(*args)

    tf.get_logger().setLevel("WARNING")
    absl_logging.set_verbosity(absl_logging.WARNING)    # e.g. the saver's per-save INFO lines
    check_configs(config, data, run)
    if run.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = choose_strategy(run.distribute, early_log)
    note = bf16_note(config.precision)
    if note:
        early_log(note)
    chief = is_chief(strategy)
    plan = prepare_run(config, data, run, chief, early_log)
    with plan.lock:
        if nothing_to_do(plan, run.output_dir, early_log):
            return NothingToDo(plan.resume_step)
        with console_log_file(plan.summary_dir, log is print and chief, early), \
                handle_interrupts(DEFERRED_MESSAGE), \
                peer_loss_is_user_error(strategy, run.output_dir), \
                disk_full_is_user_error(run.output_dir):
            copy_sources(plan.summary_dir)
            trainer = Trainer(config, data, run, plan, strategy, chief, log)
            try:
                trainer.loop()
            except KeyboardInterrupt:
                trainer.save_on_interrupt()
                raise
            trainer.tester.wait()
            log(f"Optimization done: {trainer.final_step} steps, checkpoint {trainer.last_saved}")
    return trainer


@contextlib.contextmanager
def console_log_file(summary_dir, enabled, early_lines):
    """The original's tee (when ``enabled``): the console also into ``<summary_dir>/logfile.txt``,
    which starts with ``early_lines`` (printed before it existed)."""
    tee = tee_stdout(summary_dir) if enabled else None
    for line in early_lines:
        log_only(line)
    try:
        yield
    finally:
        if tee is not None:
            sys.stdout.flush()
            sys.stdout = tee.stream
            tee.close()
