"""The run folder (``--output_dir``) as a run's identity: ``run.json``, checking a folder before a
start or a resume, source copies next to the logs, and finding the training-state checkpoint.

``run.json`` holds what defines the run: the model's structure (a resume with another structure is
refused) and the settings (a resume with other settings is allowed, with a note), and the run's
history (starts, branches and changed resumes: :func:`with_history`). Its content is
the one older run folders hold, so they resume unchanged.
"""
import dataclasses
import json
import os
import shutil

from lib.errors import UserError
from lib.models.checkpoint_files import checkpoint_prefix
from lib.project import REPO_ROOT
from lib.train.state_checkpoints import (STATE_DIR, clean_interrupted_saves,
                                         newest_state_checkpoint, repair_state_file,
                                         resumable_checkpoint, state_steps)

RUN_FILE = "run.json"
STRUCTURE_KEYS = ("num_resblock", "gan", "use_vgg", "pingpang", "D_LAYERLOSS")
SETTING_KEYS = ("batch_size", "RNN_N", "crop_size", "rand_seed", "vgg_scaling", "pp_scaling",
                "warp_scaling", "ratio", "EPS", "Dt_ratio_0", "Dt_ratio_add", "Dt_ratio_max",
                "Dbalance", "crop_dt", "learning_rate", "decay_step", "decay_rate", "stair",
                "beta", "adameps", "input_video_pre", "str_dir", "end_dir", "max_frm",
                "movingFirstFrame", "flip")
# settings beyond the original, written into run.json only when they differ from these defaults
OPTIONAL_SETTINGS = {"precision": "fp32", "ema_decay": 0.0, "vgg_shift": False,
                     "upsampling_lr_scale": 1.0, "phase_loss": 0.0,
                     "temporal_loss": 0.0, "temporal_loss_norm": "l2", "temporal_loss_flow": "fnet",
                     "temporal_loss_blur": 0.0,
                     "D_extra_updates": 0}


def log_folder(run):
    """``--summary_dir``, by default ``<output_dir>/log``."""
    return run.summary_dir or os.path.join(run.output_dir, "log")


def run_identity(config, data, run):
    """The content of ``run.json`` for a :class:`TrainConfig`, :class:`DataConfig` and
    :class:`RunConfig` (``lib.train.config``)."""
    structure = {key: getattr(config, key) for key in STRUCTURE_KEYS}
    if config.use_vgg and config.vgg_net != "vgg19":   # only then, so older run folders resume
        structure["vgg_net"] = config.vgg_net
    values = {**dataclasses.asdict(run), **dataclasses.asdict(data), **dataclasses.asdict(config)}
    settings = {key: values[key] for key in SETTING_KEYS}
    for key, default in OPTIONAL_SETTINGS.items():     # only when used: older folders resume
        if values[key] != default:
            settings[key] = values[key]
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


def read_run_file(folder):
    """The ``run.json`` of ``folder`` as a dict; OSError or ValueError when it cannot be read or
    is not shaped as this project writes it (an edited or foreign file)."""
    with open(os.path.join(folder, RUN_FILE)) as handle:
        identity = json.load(handle)
    if not isinstance(identity, dict) or any(
            not isinstance(identity.get(key, {}), dict) for key in ("structure", "settings")) \
            or not isinstance(identity.get("history", []), list):
        raise ValueError(f"{RUN_FILE} is not a dict of structure, settings and history")
    return identity


def changed_settings(before, after):
    """``{name: (before, after)}`` for the settings of two run.json files that differ; a setting
    beyond the original that a file omits has its default (it is written only when it differs)."""
    before, after = dict(OPTIONAL_SETTINGS, **before), dict(OPTIONAL_SETTINGS, **after)
    return {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def _gan_hint(theirs, ours):
    """Where two runs differ only in TecoGAN against FRVSR: the flag that decides it, since a
    run meant to weaken the adversarial term with ``--ratio 0`` gets an FRVSR otherwise."""
    a, b = dict(theirs.get("structure", {})), dict(ours["structure"])
    if a.pop("gan", None) == b.pop("gan", None) or a != b:
        return ""
    return (" (--ratio decides the model, as in the original: > 0 trains TecoGAN with its "
            "discriminator, <= 0 FRVSR; for a TecoGAN with almost no adversarial term give a "
            "small positive --ratio)")


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
        theirs = read_run_file(output_dir)
    except (OSError, ValueError):
        raise UserError(f"'{run_file}' is unreadable; use a new --output_dir") from None
    if theirs.get("trainer") != identity["trainer"] or \
            theirs.get("structure") != identity["structure"]:
        raise UserError(f"output folder '{output_dir}' belongs to another run "
                        f"({describe(theirs)}; this one is {describe(identity)}); use a new "
                        "--output_dir" + _gan_hint(theirs, identity))
    if not has_state:
        return False
    changed = changed_settings(theirs.get("settings", {}), identity["settings"])
    if changed:
        log("note: resuming with changed settings (the result will differ from an "
            "uninterrupted run): " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()))
    return True


def find_resume_point(output_dir, identity, chief=True, log=print):
    """The state checkpoint to resume from (None for a new run), after :func:`check_run_folder`.

    Cleans what an interrupted save left behind and steps back over damaged checkpoints
    (``state_checkpoints``); only the chief changes files."""
    resume = check_run_folder(output_dir, identity, log)
    if chief and os.path.isdir(output_dir):
        clean_interrupted_saves(output_dir, log)
        repair_state_file(output_dir, log)     # read next by tf.train.CheckpointManager
    if not resume:
        return None
    path = resumable_checkpoint(output_dir, log, clean=chief)
    if path is None:
        raise UserError(f"every training checkpoint in '{output_dir}/{STATE_DIR}' is "
                        "damaged (see the warnings above), so the run cannot resume; "
                        "start a new --output_dir, or start from one of its model-N "
                        "files with --pre_trained_model --checkpoint")
    return path


def check_same_structure(state_path, identity):
    """A clear error when the run that wrote the state checkpoint ``state_path`` (in
    ``<its run folder>/state/``) had another structure; nothing when its run.json is unreadable."""
    try:
        theirs = read_run_file(os.path.dirname(os.path.dirname(state_path)))
    except (OSError, ValueError):
        return
    ours = identity["structure"]
    diff = [f"{k} {theirs.get('structure', {}).get(k)} (this model: {v})"
            for k, v in ours.items() if theirs.get("structure", {}).get(k) != v]
    if diff:
        raise UserError(f"checkpoint '{state_path}' is from another model ({describe(theirs)}): "
                        + ", ".join(diff) + "; use matching flags (e.g. --num_resblock), or "
                        "--pre_trained_model to load only the weights that fit")


def utc_now():
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def with_history(output_dir, identity, step, resumed, start_checkpoint=None,
                 pre_trained_model=False):
    """``identity`` with ``history``: how the run came to its weights and settings, oldest first.

    A new run starts it (``start``: the step, the ``--checkpoint`` it started from and whether
    only matching weights were taken, ``--pre_trained_model``); ``python3 -m lib.train.branch``
    adds ``branch`` (the run folder and step it came from); a resume keeps the run.json's history
    and adds ``resume`` with each setting that changed (``[before, after]``). So a shipped model's
    recipe can be read from its run folder instead of being pieced together from logs. Run folders
    written before the history existed get it from their next start or changed resume on."""
    history = []
    if resumed:
        try:
            theirs = read_run_file(output_dir)
        except (OSError, ValueError):
            theirs = {}
        history = list(theirs.get("history", []))
        changed = changed_settings(theirs.get("settings", {}), identity["settings"])
        if changed:
            history.append({"event": "resume", "step": step, "time": utc_now(),
                            "changed": {k: list(v) for k, v in changed.items()}})
    else:
        history.append({"event": "start", "step": step, "time": utc_now(),
                        "from": start_checkpoint, "pre_trained_model": bool(pre_trained_model)})
    return dict(identity, history=history)


def write_run_file(output_dir, identity):
    """``run.json``, whole or not at all (a half-written one would make the folder unresumable)."""
    from lib.io.atomic import atomic_file
    with atomic_file(os.path.join(output_dir, RUN_FILE), "w") as handle:
        json.dump(identity, handle, indent=1, sort_keys=True)


def remove_models_except(output_dir, kept):
    """Remove the ``model-<N>`` (and ``model_ema-<N>``) files whose N (a string) is not in
    ``kept``: the run folder keeps the official-naming copies of the state checkpoints the
    checkpoint manager keeps."""
    for name in os.listdir(output_dir):
        for kind in ("model-", "model_ema-"):
            if name.startswith(kind) and name.endswith(".index"):
                number = name[len(kind):-len(".index")]
                if number not in kept:
                    for suffix in (".index", ".data-00000-of-00001"):
                        try:
                            os.remove(os.path.join(output_dir, f"{kind}{number}{suffix}"))
                        except OSError:
                            pass


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


def state_checkpoint(output_dir):
    """The newest state checkpoint of a run folder (None without one); a damaged state file
    (another run's folder: only read here) is not trusted, the files on disk are."""
    return newest_state_checkpoint(output_dir)


def find_state_for(path):
    """The training-state checkpoint matching ``path`` (a run folder, its model-N or ckpt-N)."""
    path = checkpoint_prefix(path)
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
