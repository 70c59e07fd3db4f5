"""``main.py --mode train``: the training loop of the original (reference 3.4), resumable.

The pieces: data (``lib/train/dataloader.py``), networks (``lib/models/networks.py``, ``lib/models/discriminator.py``,
``lib/models/vgg19.py``), the D input (``lib/train/d_input.py``), losses (``lib/train/losses.py``,
``lib/train/teco_model.py``), the step (``lib/train/teco_step.py``) and this loop: console lines every
``--display_freq`` steps, TensorBoard scalars (EMA-averaged), validation scalars and GIF summaries
every ``--summary_freq``, a checkpoint every ``--save_freq`` and on Ctrl+C (SIGINT/SIGTERM), with
the original's quick test inference into ``<output_dir>/train/``.

The run folder (``--output_dir``)::

    run.json                      what defines the run (checked on resume)
    state/ckpt-<step>.*           full training state: weights, 3 Adam optimisers, EMAs,
                                  counters, global step, data position (tf.train.Checkpoint)
    model-<step>.{index,data-*}   weights in the official TF1 naming (G, FNet, D, global_step):
                                  ``--mode inference --checkpoint`` and the original code load it
    checkpoint                    TF1 state file naming the newest model-<step>
    log/                          events (TensorBoard), logfile.txt, source copies
    train/                        test-inference frames <step>_<frame>.jpg

A run folder that already holds a state checkpoint is resumed from it without any flag: the step,
the optimisers, the EMAs and the data position continue exactly, so a killed run resumed gives the
same weights as an uninterrupted one (with ``--deterministic``). ``--max_iter`` is the total number
of steps of the run (the original ran ``max_iter`` more steps after every restart).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from lib.errors import UserError
from lib.project import REPO_ROOT
from lib.io.output_paths import prepare_output_dir, remove_if_empty
from lib.train.state_checkpoints import clean_interrupted_saves, resumable_checkpoint, state_steps

RUN_FILE = "run.json"
STATE_DIR = "state"
GLOBAL_STEP_NAME = "get_learning_rate_and_global_step/global_step"
STRUCTURE_KEYS = ("num_resblock", "gan", "use_vgg", "pingpang", "D_LAYERLOSS")
SETTING_KEYS = ("batch_size", "RNN_N", "crop_size", "rand_seed", "vgg_scaling", "pp_scaling",
                "warp_scaling", "ratio", "EPS", "Dt_ratio_0", "Dt_ratio_add", "Dt_ratio_max",
                "Dbalance", "crop_dt", "learning_rate", "decay_step", "decay_rate", "stair",
                "beta", "adameps", "input_video_pre", "str_dir", "end_dir", "max_frm",
                "movingFirstFrame", "flip")
TEST_INFERENCE_FRAMES = 10


# --------------------------------------------------------------------------------------------
# Strategy

def choose_strategy(mode="auto", log=print):
    """tf.distribute strategy for ``--distribute`` (see the flag's help)."""
    cluster = _tf_config_workers()
    if mode == "multiworker" or (mode == "auto" and cluster > 1):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        log(f"MultiWorkerMirroredStrategy: {cluster} workers, "
            f"{strategy.num_replicas_in_sync} replicas in sync")
        return strategy
    gpus = tf.config.list_logical_devices("GPU")
    if mode == "mirrored" or (mode == "auto" and len(gpus) > 1):
        # all GPUs; without GPUs all logical CPU devices (one, unless configured otherwise)
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        log(f"MirroredStrategy over {strategy.num_replicas_in_sync} device(s): "
            f"{', '.join(devices)}")
        return strategy
    return tf.distribute.get_strategy()


def _tf_config_workers():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except ValueError:
        raise UserError("TF_CONFIG is not valid JSON") from None
    return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


# --------------------------------------------------------------------------------------------
# The run folder

def run_identity(flags, config):
    structure = {"num_resblock": config.num_resblock, "gan": config.gan,
                 "use_vgg": config.use_vgg, "pingpang": config.pingpang,
                 "D_LAYERLOSS": config.D_LAYERLOSS}
    if config.use_vgg and config.vgg_net != "vgg19":   # only then, so older run folders resume
        structure["vgg_net"] = config.vgg_net
    settings = {}
    for key in SETTING_KEYS:
        value = getattr(config, key, None)
        if value is None:
            value = getattr(flags, key, None)
        settings[key] = value
    return {"trainer": "TecoGAN-TF2", "version": 1,
            "model": "TecoGAN" if config.gan else "FRVSR",
            "structure": structure, "settings": settings}


def describe(identity):
    s = identity.get("structure", {})
    parts = [identity.get("model", "?"), f"{s.get('num_resblock', '?')} residual blocks"]
    if s.get("use_vgg"):
        parts.append("VGG loss")
    if s.get("pingpang"):
        parts.append("ping-pong")
    return ", ".join(parts)


def state_checkpoint(output_dir):
    return tf.train.latest_checkpoint(os.path.join(output_dir, STATE_DIR))


def check_run_folder(output_dir, identity, log=print):
    """True to resume from ``output_dir``; UserError when the folder belongs to another run."""
    if not os.path.isdir(output_dir):
        return False
    run_file = os.path.join(output_dir, RUN_FILE)
    has_state = bool(state_steps(output_dir))     # files on disk, whatever the state file says
    has_models = any(n.startswith("model-") and n.endswith(".index")
                     for n in os.listdir(output_dir))
    if not os.path.isfile(run_file):
        if has_state or has_models:
            raise UserError(f"output folder '{output_dir}' already holds checkpoints of another "
                            "run (no run.json); use a new --output_dir, or start from one of "
                            "them with --checkpoint")
        return False
    try:
        with open(run_file) as handle:
            theirs = json.load(handle)
    except (OSError, ValueError):
        raise UserError(f"'{run_file}' is unreadable; use a new --output_dir") from None
    if theirs.get("trainer") != identity["trainer"] or \
            theirs.get("structure") != identity["structure"]:
        raise UserError(f"output folder '{output_dir}' belongs to another run "
                        f"({describe(theirs)}; this one is {describe(identity)}); use a new "
                        "--output_dir")
    if not has_state:
        return False
    changed = {k: (theirs.get("settings", {}).get(k), v)
               for k, v in identity["settings"].items()
               if theirs.get("settings", {}).get(k) != v}
    if changed:
        log("note: resuming with changed settings (the result will differ from an "
            "uninterrupted run): " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()))
    return True


def write_run_file(output_dir, identity):
    with open(os.path.join(output_dir, RUN_FILE), "w") as handle:
        json.dump(identity, handle, indent=1, sort_keys=True)


def copy_sources(summary_dir):
    """The original copied its sources next to the logs; we copy main.py, runGan.py and lib/."""
    target = os.path.join(summary_dir, "source")
    sources = ["main.py", "runGan.py"]
    for folder, dirs, files in os.walk(os.path.join(REPO_ROOT, "lib")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        sources += [os.path.relpath(os.path.join(folder, n), REPO_ROOT)
                    for n in sorted(files) if n.endswith(".py")]
    for rel in sources:
        src = os.path.join(REPO_ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            shutil.copyfile(src, os.path.join(target, rel))


# --------------------------------------------------------------------------------------------
# Starting weights

def load_pretrained(model, path, init_missing_resblocks=False, log=print):
    """``--pre_trained_model``: weights by name; missing G/FNet tensors zero-filled and reported.

    As the original's ``get_existing_from_ckpt(rest_zero=True)``: every generator/FNet variable not
    in the checkpoint is set to zeros (a 16-block model started from a 10-block FRVSR gets zero
    residual blocks 11..16, which can never learn). With ``init_missing_resblocks`` those blocks
    instead start as identities that can learn: conv_1 keeps its Glorot weights, conv_2 is zero.
    With a D (``--ratio`` > 0) the D's MODEL_VARIABLES found in the checkpoint are loaded too.
    Returns the missing generator/FNet names.
    """
    from lib.models.checkpoint import load_official, open_checkpoint
    prefix, _, shapes = open_checkpoint(path)
    gf = {**model.generator.official_variables(), **model.fnet.official_variables()}
    missing = load_official(gf, prefix, allow_missing=True)
    if len(missing) == len(gf):
        raise UserError(f"checkpoint '{prefix}' holds no generator/FNet weights")
    for name in missing:
        var = gf[name]
        resblock = "/resblock_" in name
        if init_missing_resblocks and resblock and "/conv_1/Conv/weights" in name:
            log(f"variable not found in ckpt: {name}, keeps its Glorot initialisation")
            continue
        var.assign(tf.zeros_like(var))
        log(f"variable not found in ckpt: {name}, Assign Zero")
    if model.discriminator is not None:
        d_vars = model.discriminator.model_variables()
        present = {k: v for k, v in d_vars.items() if k in shapes}
        if present:
            load_official(present, prefix)
            log(f"loaded {len(present)} discriminator tensors from '{prefix}'")
    return missing


def load_weights_strict(model, state, path, log=print):
    """``--nopre_trained_model --checkpoint X`` with X holding weights only (official naming)."""
    from lib.models.checkpoint import load_official, open_checkpoint
    prefix, reader, shapes = open_checkpoint(path)
    names = model.official_variables(include_discriminator=model.discriminator is not None)
    d_names = set(model.discriminator.official_variables()) if model.discriminator else set()
    if d_names and not d_names & set(shapes):
        raise UserError(f"checkpoint '{prefix}' has no discriminator; to start TecoGAN from a "
                        "FRVSR model use --pre_trained_model")
    load_official(names, prefix)
    if GLOBAL_STEP_NAME in shapes:
        state.global_step.assign(int(reader.get_tensor(GLOBAL_STEP_NAME)))
        state.data_position.assign(int(state.global_step.numpy()) * model.config.batch_size)
    log(f"restored weights from '{prefix}' (global step {int(state.global_step.numpy())}); it "
        "holds no optimiser state, so Adam starts fresh")


def find_state_for(path):
    """The training-state checkpoint matching ``path`` (a run folder, its model-N or ckpt-N)."""
    path = os.path.expanduser(path)
    for suffix in (".index", ".data-00000-of-00001"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    if os.path.isdir(path):
        return state_checkpoint(path)
    folder, base = os.path.split(path)
    if base.startswith("ckpt-") and os.path.exists(path + ".index"):
        return path
    if base.startswith("model-"):
        candidate = os.path.join(folder, STATE_DIR, "ckpt-" + base[len("model-"):])
        if os.path.exists(candidate + ".index"):
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# The trainer

class Trainer:
    def __init__(self, flags, log=print):
        from lib.train.config import TrainConfig
        self.flags, self.log = flags, log
        if not flags.output_dir:
            raise UserError("--output_dir is required")
        if not flags.random_crop:
            raise UserError("--norandom_crop is not implemented for training (as in the original)")
        self.config = TrainConfig.from_flags(flags)
        self.config.validate()
        if flags.max_iter is None and flags.max_epoch is None:
            raise UserError("give --max_iter or --max_epoch")
        for name in ("display_freq", "summary_freq", "save_freq"):
            if getattr(flags, name) < 1:
                raise UserError(f"--{name} must be positive")
        self.output_dir = flags.output_dir
        self.summary_dir = flags.summary_dir or os.path.join(flags.output_dir, "log")
        self.identity = run_identity(flags, self.config)
        self.children = []
        self.history = []          # raw logged values of every step of this session
        self.final_step = None
        self.last_saved = None
        self.saved_step = None
        self.chief = True
        self._warned = set()

    # -- set-up ---------------------------------------------------------------------------------
    def prepare(self):
        """Checks that need no model (fast failures), then the datasets."""
        from lib.train.dataloader import load_scenes
        from lib.models.vgg16 import MAKE_IT as MAKE_VGG16
        from lib.models.vgg19 import VGG_URL
        flags, cfg = self.flags, self.config
        self.resume = self._find_resume_point()
        if cfg.use_vgg and cfg.vgg_net == "vgg16_lpips":
            if not flags.vgg_ckpt or not os.path.isfile(flags.vgg_ckpt):
                raise UserError(f"--vgg_net vgg16_lpips needs --vgg_ckpt model/vgg16_lpips.npz "
                                f"(now '{flags.vgg_ckpt}'); make it with: {MAKE_VGG16}")
        elif cfg.use_vgg:
            if not flags.vgg_ckpt or not (os.path.isfile(flags.vgg_ckpt)
                                          or os.path.isfile(flags.vgg_ckpt + ".index")):
                raise UserError(f"--vgg_scaling {cfg.vgg_scaling} > 0 needs the TF-slim VGG19 "
                                f"checkpoint (--vgg_ckpt, now '{flags.vgg_ckpt}'): download "
                                f"{VGG_URL} and unpack vgg_19.ckpt into model/ (runGan.py 3 "
                                "does this)")
        if not self.resume and flags.checkpoint:
            from lib.models.checkpoint import resolve_checkpoint
            if not (flags.pre_trained_model is False and find_state_for(flags.checkpoint)):
                resolve_checkpoint(flags.checkpoint)
        self.scenes = load_scenes(flags, log=self.log)
        self.val_scenes = load_scenes(flags, validation=True, log=self.log)
        count = len(self.scenes)
        self.steps_per_epoch = max(1, count // cfg.batch_size)
        self.log(f"tData count = {count}, steps per epoch {count // cfg.batch_size}")
        self.max_iter = flags.max_iter if flags.max_iter is not None else \
            flags.max_epoch * self.steps_per_epoch

    def build(self, strategy):
        from lib.train.teco_step import build
        self.strategy = strategy
        self.model, self.state, self.step = build(self.config, strategy, seed=self.flags.rand_seed)
        if self.model.vgg is not None:
            self.model.vgg.load(self.flags.vgg_ckpt)
            if self.config.vgg_net == "vgg19":
                self.log("VGG19 restored successfully!!")
            else:
                self.log(f"perceptual loss: VGG16 stand-in {self.flags.vgg_ckpt} (conv2_2, "
                         "conv3_3, conv4_3, conv5_3 in place of VGG19's; not the original loss)")
        parts = {"generator": self.model.generator, "fnet": self.model.fnet}
        if self.model.discriminator is not None:
            parts["discriminator"] = self.model.discriminator
        self.checkpoint = tf.train.Checkpoint(state=self.state, **parts)
        state_dir = os.path.join(self.output_dir, STATE_DIR)
        if not self.chief:
            state_dir = os.path.join(self.output_dir, f".worker_{id(self)}")
        self.manager = tf.train.CheckpointManager(self.checkpoint, state_dir,
                                                  max_to_keep=self.flags.keep_checkpoints,
                                                  checkpoint_name="ckpt")

    def _find_resume_point(self):
        """True to resume (``self.resume_path``); cleans what an interrupted save left behind
        and steps back over damaged checkpoints. Only the chief changes files."""
        self.resume_path = None
        resume = check_run_folder(self.output_dir, self.identity, self.log)
        if self.chief and os.path.isdir(self.output_dir):
            clean_interrupted_saves(self.output_dir, self.log)
        if resume:
            self.resume_path = resumable_checkpoint(self.output_dir, self.log, clean=self.chief)
            if self.resume_path is None:
                raise UserError(f"every training checkpoint in '{self.output_dir}/{STATE_DIR}' is "
                                "damaged (see the warnings above), so the run cannot resume; "
                                "start a new --output_dir, or start from one of its model-N "
                                "files with --pre_trained_model --checkpoint")
        return resume

    def resume_step(self):
        """Step of the checkpoint this run resumes from (None for a new run)."""
        return int(self.resume_path.rsplit("-", 1)[1]) if self.resume_path else None

    def nothing_to_do(self):
        """True when a resumed run is at ``--max_iter`` already; UserError when beyond it.

        ``--max_iter`` is the total length of the run here (the original ran that many more
        steps after every restart), so a smaller value is most likely meant the original way.
        """
        step = self.resume_step()
        if step is None or step < self.max_iter:
            return False
        if step > self.max_iter:
            raise UserError(f"--max_iter {self.max_iter} is below step {step}, where the run in "
                            f"'{self.output_dir}' stopped: --max_iter counts all steps of the run "
                            f"(not the steps after a restart); give --max_iter above {step} to "
                            "train further, or a new --output_dir")
        self.log(f"the run in '{self.output_dir}' is at step {step} = --max_iter already: "
                 "nothing to do (raise --max_iter to train further)")
        return True

    def restore(self):
        flags = self.flags
        if self.resume:
            # every worker restores from the run folder's state (a shared filesystem)
            self._restore_state(self.resume_path)
            if flags.checkpoint or flags.pre_trained_model:
                self.log("note: the run folder holds a checkpoint, so it is resumed; "
                         "--checkpoint/--pre_trained_model are ignored")
            return
        if not flags.checkpoint:
            return
        if flags.pre_trained_model:
            self.log(f"Loading weights from {flags.checkpoint} (--pre_trained_model)")
            load_pretrained(self.model, flags.checkpoint, flags.init_missing_resblocks, self.log)
            return
        state_path = find_state_for(flags.checkpoint)
        if state_path:
            self._check_other_run(os.path.dirname(os.path.dirname(state_path)), state_path)
            self._restore_state(state_path)
        else:
            load_weights_strict(self.model, self.state, flags.checkpoint, self.log)

    def _check_other_run(self, folder, path):
        """A clear error when the run that wrote ``path`` had another structure."""
        try:
            with open(os.path.join(folder, RUN_FILE)) as handle:
                theirs = json.load(handle)
        except (OSError, ValueError):
            return
        ours = self.identity["structure"]
        diff = [f"{k} {theirs.get('structure', {}).get(k)} (this model: {v})"
                for k, v in ours.items() if theirs.get("structure", {}).get(k) != v]
        if diff:
            raise UserError(f"checkpoint '{path}' is from another model ({describe(theirs)}): "
                            + ", ".join(diff) + "; use matching flags (e.g. --num_resblock), or "
                            "--pre_trained_model to load only the weights that fit")

    def _restore_state(self, path):
        try:
            status = self.checkpoint.restore(path)
            status.assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"checkpoint '{path}' does not fit this model "
                            f"({describe(self.identity)}): {first[:300]}") from None
        self.log(f"resumed from '{path}' at step {int(self.state.global_step.numpy())}")

    def print_variables(self):
        groups = [("generator", self.model.generator.official_variables()),
                  ("fnet", self.model.fnet.official_variables())]
        if self.model.discriminator is not None:
            groups.append(("tdiscriminator", self.model.discriminator.official_variables()))
        if self.model.vgg is not None:
            groups.append(("vgg_19", self.model.vgg.official_variables()))
        from lib.logging_utils import log_only
        for scope, names in groups:
            total = 0
            for name, var in names.items():
                log_only(f"{name} {var.shape.as_list()}")
                total += int(np.prod(var.shape.as_list()))
            self.log(f"{scope} variables: {len(names)} tensors, {total:,} parameters")

    # -- checkpoints and test inference -----------------------------------------------------------
    def export_variables(self):
        out = dict(self.model.official_variables())
        out[GLOBAL_STEP_NAME] = self.state.global_step
        return out

    def save(self, step):
        from lib.models.checkpoint import save_official
        self.state.data_position.assign(step * self.config.batch_size)
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            self.saved_step = step
            return None
        prefix = os.path.join(self.output_dir, f"model-{step}")
        save_official(self.export_variables(), prefix)
        kept = {os.path.basename(p).split("-")[-1] for p in self.manager.checkpoints}
        for name in os.listdir(self.output_dir):
            if name.startswith("model-") and name.endswith(".index"):
                number = name[len("model-"):-len(".index")]
                if number not in kept:
                    for suffix in (".index", ".data-00000-of-00001"):
                        try:
                            os.remove(os.path.join(self.output_dir, f"model-{number}{suffix}"))
                        except OSError:
                            pass
        self.last_saved = path
        self.saved_step = step
        self.log(f"Save the checkpoint: {path} (official names: {prefix})")
        return prefix

    def test_inference(self, step, wait=False):
        """The original's testWhileTrain: 10 frames of --test_input_dir by a separate process."""
        flags = self.flags
        if not (self.chief and flags.test_inference):
            return None
        main_py = os.path.join(REPO_ROOT, "main.py")
        if not os.path.isdir(flags.test_input_dir) or not os.path.isfile(main_py):
            if "test_inference" not in self._warned:
                self._warned.add("test_inference")
                self.log(f"test inference skipped: '{flags.test_input_dir}' not found (fetch it "
                         "with runGan.py 0, or set --test_input_dir; --notest_inference silences "
                         "this)")
            return None
        out = os.path.join(self.output_dir, "train") + os.sep
        os.makedirs(out, exist_ok=True)
        cmd = [sys.executable, main_py, "--output_dir", out, "--summary_dir", out,
               "--mode", "inference", "--num_resblock", str(self.config.num_resblock),
               "--checkpoint", os.path.join(self.output_dir, f"model-{step}"),
               "--cudaID", str(flags.cudaID), "--input_dir_LR", flags.test_input_dir,
               "--output_pre", "", "--output_name", f"{step:09d}",
               "--input_dir_len", str(TEST_INFERENCE_FRAMES), "--noprogress"]
        with open(os.path.join(out, "test_inference.log"), "a") as log_file:
            child = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=os.getcwd())
        self.children.append(child)
        if wait:
            self.wait_children()
        return child

    def wait_children(self, timeout=900):
        deadline = time.time() + timeout
        for child in self.children:
            try:
                child.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                self.log(f"test inference (pid {child.pid}) still running; not waiting longer")
        self.children = [c for c in self.children if c.poll() is None]

    # -- summaries --------------------------------------------------------------------------------
    def averaged(self):
        out = {name: float(var.numpy()) for name, var in self.state.loss_ema.items()}
        if self.config.gan:
            out["t_balance"] = float(self.state.t_balance_ema.numpy())
            out["Dst_ratio"] = float(self._dt_ratio)
            out["withD_counter"] = float(self.state.with_d_counter.numpy())
            out["w_o_D_counter"] = float(self.state.without_d_counter.numpy())
        return out

    def write_summaries(self, step, batch, learning_rate):
        from lib.train.summaries import write_scalars, write_sequences
        images = None
        if self.flags.gif_summaries:
            result = self.step.evaluate_images(*batch)
            images = {k: v.numpy() for k, v in result["images"].items()}
        if self.chief:
            with self.writer.as_default():
                write_scalars({"learning_rate": learning_rate}, step)
                write_scalars(self.averaged(), step)
                if images is not None:
                    for name, frames in images.items():
                        if write_sequences(name, frames, step) == "png" and \
                                "png" not in self._warned:
                            self._warned.add("png")
                            self.log("GIF summaries need ffmpeg; writing PNG frames instead")
        if self.val_iter is not None:
            from lib.train.dataloader import VALIDATION_SEED_OFFSET
            val_batch = self._next_batch(self.val_iter, self.val_scenes,
                                         self.flags.rand_seed + VALIDATION_SEED_OFFSET,
                                         self._val_position)
            self._val_position += self.config.batch_size
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

    def display(self, step, start_time, start_step, learning_rate):
        cfg = self.config
        elapsed = max(time.time() - start_time, 1e-9)
        done = step - start_step
        rate = done * cfg.batch_size / elapsed
        remaining = (self.max_iter - step) * elapsed / max(done, 1)
        epoch = step * cfg.batch_size // max(len(self.scenes), 1) + 1
        self.log(f"progress  epoch {epoch}  step {step}  image/sec {rate:.3f}x{cfg.num_frames}  "
                 f"remaining {int(remaining // 3600)}h {int(remaining % 3600 // 60)}m")
        self.log(f"global_step {step}")
        self.log(f"learning_rate {learning_rate}")
        for name, value in self.averaged().items():
            self.log(f"{name} {value}")

    # -- the loop ---------------------------------------------------------------------------------
    def _next_batch(self, iterator, scene_set, seed, position):
        """The next batch; a frame TensorFlow cannot decode becomes an error naming the file.

        The cheap checks at start (header, end marker, size) cannot see damage inside the image
        data; this finds the file among the batch's frames (samples ``position`` onwards).
        """
        try:
            return next(iterator)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError,
                tf.errors.NotFoundError) as err:
            from lib.train.dataloader import op_error_text, undecodable_frames
            bad = undecodable_frames(scene_set, self.config, seed, position,
                                     self.config.batch_size)
            last = self.last_saved or (self.resume_path if self.resume else None)
            then = f"; the last checkpoint is '{last}', a restart resumes from it" if last else ""
            if bad:
                path, reason = bad[0]
                more = f" (and {len(bad) - 1} more frame(s) of this batch)" if len(bad) > 1 else ""
                raise UserError(f"training frame '{path}' cannot be decoded ({reason}){more}; "
                                f"replace it or remove its scene{then}") from None
            raise UserError(f"the training data pipeline failed ({op_error_text(err)}){then}") \
                from None

    def loop(self):
        from lib.train.dataloader import VALIDATION_SEED_OFFSET, distributed_dataset
        flags, cfg = self.flags, self.config
        start_step = int(self.state.global_step.numpy())
        position = int(self.state.data_position.numpy()) or start_step * cfg.batch_size
        dataset = distributed_dataset(self.strategy, self.scenes, cfg, flags.rand_seed, position,
                                      flip=flags.flip, moving=flags.movingFirstFrame,
                                      threads=flags.queue_thread)
        iterator = iter(dataset)
        self.val_iter = None
        if self.val_scenes is not None:
            val_position = (start_step // flags.summary_freq) * cfg.batch_size
            self._val_position = val_position
            self.val_iter = iter(distributed_dataset(
                self.strategy, self.val_scenes, cfg, flags.rand_seed + VALIDATION_SEED_OFFSET,
                val_position, flip=flags.flip, moving=flags.movingFirstFrame,
                threads=max(1, min(2, flags.queue_thread))))
        if self.chief:
            self.writer = tf.summary.create_file_writer(self.summary_dir)
        self._dt_ratio = 1.0
        if not self.resume:
            # The original saves model-<global_step> before training and tests it.
            self.save(start_step)
            self.test_inference(start_step)
        else:
            self.saved_step = start_step
        start_time = time.time()
        step = start_step
        self.log("Optimization starts!!!")
        while step < self.max_iter:
            batch = self._next_batch(iterator, self.scenes, flags.rand_seed, step * cfg.batch_size)
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
            step = int(result["global_step"].numpy())
            self.history.append({k: float(v.numpy()) for k, v in result.items()
                                 if k in self.step.names})
            self._dt_ratio = float(result["dt_ratio"].numpy())
            learning_rate = float(result["learning_rate"].numpy())
            if step % flags.display_freq == 0:
                self.display(step, start_time, start_step, learning_rate)
            if step % flags.summary_freq == 0:
                self.write_summaries(step, batch, learning_rate)
            if step % flags.save_freq == 0:
                self.save(step)
                self.test_inference(step)
        if step != start_step and self.saved_step != step:
            self.save(step)
            self.test_inference(step)
        return step


# What a collective raises on the surviving workers when a peer dies (seen with TF 2.21: after
# about 30 s without heartbeats, UnavailableError "The following tasks are unhealthy").
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.CancelledError)


def peer_lost_message(err, output_dir):
    """What to do when another worker of a MultiWorkerMirroredStrategy job stopped.

    TensorFlow cannot take a restarted worker back into a running job ("Restart your program to
    reset"): every worker must be started again, and then the job resumes from the last checkpoint.
    """
    from lib.train.dataloader import op_error_text
    steps = state_steps(output_dir)
    last = (f"resumes from the last checkpoint '{os.path.join(output_dir, STATE_DIR)}/ckpt-"
            f"{steps[0]}' (step {steps[0]})" if steps else "starts again from step 0")
    return (f"another worker of the multi-worker job stopped ({op_error_text(err)}); TensorFlow "
            "cannot continue the job without it. Start the same command again on every worker "
            f"(same TF_CONFIG): training {last}")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def train(flags, log=print):
    """Run the training mode. Returns the :class:`Trainer` (``final_step``, ``history`` of the raw
    logged values per step, ``last_saved``)."""
    from lib.logging_utils import tee_stdout
    from lib.logging_utils import log_only
    early = []

    def early_log(*args):
        early.append(" ".join(str(a) for a in args))
        log(*args)

    from absl import logging as absl_logging
    tf.get_logger().setLevel("WARNING")
    absl_logging.set_verbosity(absl_logging.WARNING)    # e.g. the saver's per-save INFO lines
    trainer = Trainer(flags, log=early_log)
    if flags.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = choose_strategy(flags.distribute, early_log)
    trainer.chief = _is_chief(strategy)
    # a file, a file as parent or an unwritable place: one error line before any work
    created = prepare_output_dir(trainer.output_dir, "--output_dir")
    try:
        created += prepare_output_dir(trainer.summary_dir, "--summary_dir")
        trainer.prepare()
    except BaseException:
        remove_if_empty(created)    # a refused start leaves no empty run folder behind
        raise
    if trainer.nothing_to_do():
        trainer.final_step = trainer.resume_step()
        return trainer
    trainer.log = log
    tee = tee_stdout(trainer.summary_dir) if (log is print and trainer.chief) else None
    for line in early:          # what was printed before the log file existed
        log_only(line)
    old_term = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:      # not the main thread
        old_term = None
    try:
        copy_sources(trainer.summary_dir)
        trainer.build(strategy)
        trainer.restore()
        if trainer.chief:
            write_run_file(trainer.output_dir, trainer.identity)
        trainer.print_variables()
        try:
            trainer.final_step = trainer.loop()
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            step = int(trainer.state.global_step.numpy())
            log(f"interrupted at step {step}: saving the checkpoint")
            if step > 0 and trainer.saved_step != step:
                trainer.save(step)
                trainer.test_inference(step)
            trainer.wait_children()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise
        trainer.wait_children()
        log(f"Optimization done: {trainer.final_step} steps, checkpoint {trainer.last_saved}")
        return trainer
    except PEER_ERRORS as err:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        raise UserError(peer_lost_message(err, trainer.output_dir)) from None
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if tee is not None:
            sys.stdout.flush()
            sys.stdout = tee.stream
            tee.close()


def main():
    """``python -m lib.train.trainer`` = ``main.py --mode train`` without main.py's other modes."""
    from absl import app, flags as absl_flags
    import lib.flags  # noqa: F401
    from lib.errors import run_cli

    def entry(argv):
        if len(argv) > 1:
            raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
        import random
        seed = absl_flags.FLAGS.rand_seed
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
        train(absl_flags.FLAGS)

    app.run(lambda argv: run_cli(entry, argv))


if __name__ == "__main__":
    main()
