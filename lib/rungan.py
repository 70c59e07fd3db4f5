"""runGan.py's modes: their help, which flags each takes, and the check of a command line before
anything runs (so a flag is honoured by its mode or refused with one line, never ignored).

Imports no TensorFlow; the flags of modes 0 and 2 come from their own parsers, those of modes 1,
3 and 4 from the sections of ``lib/flags.py`` (General plus the sections of their ``--mode``).
"""
from lib.errors import UserError

MODES = {0: "download", 1: "inference", 2: "evaluation", 3: "train TecoGAN", 4: "train FRVSR"}
HELP_ARGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")

USAGE = "usage: python3 runGan.py N [flags]    (python3 runGan.py N --help: that mode's own help)\n"

MODE_TEXT = {
    0: """
  0  download the official model and the test scenes: model/, LR/, HR/ (resumes, verifies)
       --parts model,vid4,tos|all   only some parts (default model,vid4,tos)
       --mirror URL|DIR             same file names from another server or a local folder
                                    (or set TECOGAN_MIRROR)
       --overwrite                  fetch again and replace files that differ from the archives
       --root DIR                   folder that receives model/, LR/, HR/ (default .)
""",
    1: """
  1  inference: ./LR/calendar -> ./results/calendar/ with ./model/TecoGAN (16 blocks); without
     the official model, the model this project ships (model/shipped/TecoGAN_ours, 10 blocks) on
     its demo clip -> ./results/bigbuckbunny/ + ./results/bigbuckbunny_bicubic_vs_ours.png
       any main.py inference flag (python3 main.py --help), e.g.
       --input_dir_LR PATH          your own frames folder or video -> ./results/<its name>/
       --input_dir_HR PATH          HR frames or video, degraded to LR first
       --output_ext png|jpg|mp4|mkv frames, or one video (H.264 4:2:0, the source's sound)
       --video_crf N                video quality: 18 default, 0 lossless 4:4:4
       --checkpoint P               another model (its --num_resblock is read from P unless given)
       --output_dir DIR             instead of ./results/ (logs in DIR/log/)
       --tile N, --precision bf16|fp16, --nofast_path, --overwrite, --noprogress
""",
    2: """
  2  evaluation: every ./results/<scene> against ./HR/<scene> -> ./results/metric_log/
     (PSNR-Y, SSIM-Y, LPIPS, tOF, tLP100 as the original metric script; plus bicubic)
       --no_bicubic                 skip the bicubic x4 baseline of ./LR/<scene>
       --lpips auto|tf|torch|off    off skips LPIPS and tLP100; torch needs requirements-torch.txt
       --results_root DIR           default ./results
       --hr_root DIR                default ./HR
       --lr_root DIR                default ./LR (for the bicubic baseline)
       --output DIR                 default ./results/metric_log/
""",
    3: """
  3  train TecoGAN from an FRVSR model (the original's recipe: 16 blocks, VGG, ping-pong, D)
     -> ex_TecoGAN<date>/; fetches model/vgg_19.ckpt and model/ourFRVSR when missing
""",
    4: """
  4  train FRVSR (pre-training, 10 blocks, no discriminator) -> ex_FRVSR<date>/
""",
}

TRAIN_TEXT = """     modes 3 and 4:
       --train_data DIR             training scenes DIR/scene_2000/... (or TECOGAN_TRAIN_DATA)
       --resume                     continue the newest ex_TecoGAN*/ (ex_FRVSR*/) run
       --run_dir DIR                run folder (resumed when it holds a checkpoint)
       --model_dir DIR              where vgg_19.ckpt and ourFRVSR are kept (default model)
       --mirror URL|DIR             fetch them from another server or folder
       any main.py training flag overrides the recipe, e.g. --max_iter 900000, --vgg_scaling -1
"""

HELP = (USAGE + "".join(MODE_TEXT[m] for m in MODES) + TRAIN_TEXT + """
Also: python3 main.py --mode export ... writes a SavedModel of one recurrent step (README,
"Deploy"); python3 -m metrics ... runs the original metric script's command line.
""")

# runGan options of modes 3/4 (lib/train/recipes.py): {name: takes a value}
TRAIN_RUNNER_SPECS = {"train_data": True, "resume": False, "noresume": False, "run_dir": True,
                      "mirror": True, "model_dir": True}


def where(mode):
    return f"runGan.py {mode} ({MODES[mode]})"


def main_flag_names(mode):
    """The main.py flags runGan mode 1, 3 or 4 passes on: General plus its --mode's sections.
    --mode itself is not among them: the runGan mode fixes it."""
    from lib.flags import flags_of_sections
    starts = ("General", "Inference") if mode == 1 else \
        ("General", "Training", "Evaluation and logging during training")
    return [name for name in flags_of_sections(*starts) if name != "mode"]


def _parser(mode):
    if mode == 0:
        from lib.io.assets import build_parser
        return build_parser(prog="python3 runGan.py 0")
    from metrics.evaluate import mode2_parser
    return mode2_parser()


def _parser_specs(parser):
    return {opt[2:]: action.nargs != 0 for action in parser._actions
            for opt in action.option_strings if opt.startswith("--") and opt != "--help"}


def mode_specs(mode):
    """``{flag: takes a value}`` of everything runGan mode ``mode`` takes after the number."""
    if mode in (0, 2):
        return _parser_specs(_parser(mode))
    from lib.flags import flag_specs
    specs = flag_specs(main_flag_names(mode))
    if mode in (3, 4):
        specs.update(TRAIN_RUNNER_SPECS)
    return specs


def belongs_elsewhere(mode, name):
    """Where flag ``name``, not one of mode ``mode``'s, belongs ('a flag of modes 1, 3 and 4'),
    or None when no mode (and no main.py --mode) takes it."""
    if name == "mode":
        return "runGan.py sets it; python3 main.py --mode ... runs a mode directly"
    others = [m for m in MODES if m != mode and name in mode_specs(m)]
    if not others:
        return None
    listed = ", ".join(str(m) for m in others)
    return (f"it is a flag of mode{'s' if len(others) > 1 else ''} {listed}; "
            f"'python3 runGan.py {mode} --help' lists this mode's flags")


def check_mode_args(mode, args):
    """UserError (one line) unless runGan mode ``mode`` takes every flag of ``args``; returns
    ``args`` with each flag spelled ``--name`` (``-name``, which absl takes too, included), the
    spelling everything after this reads."""
    from lib.flags import check_args
    args = check_args(list(args), mode_specs(mode), where(mode),
                      lambda name: belongs_elsewhere(mode, name))
    if mode in (0, 2):
        _parser(mode).parse_args(list(args))     # their values too (choices), before any output
    return args


def wants_help(args):
    return any(arg in HELP_ARGS for arg in args)


def mode_help(mode):
    """``runGan.py N --help``: the mode's description and every flag it takes."""
    if mode in (0, 2):
        return MODE_TEXT[mode].lstrip("\n") + "\n" + _parser(mode).format_help()
    from lib.flags import flag_help, help_sections
    own = set(main_flag_names(mode))
    lines = [MODE_TEXT[mode].lstrip("\n") + (TRAIN_TEXT if mode in (3, 4) else "")]
    lines.append("main.py flags of this mode (python3 main.py --help lists them all)"
                 + ("; the defaults shown are main.py's, the recipe passes the original's "
                    "values and these flags override them" if mode in (3, 4) else "") + ":\n")
    for title, names in help_sections():
        names = [n for n in names if n in own]
        if names:
            lines.append(f"{title.split(' (')[0]}:")
            lines.extend(flag_help(n) for n in names)
            lines.append("")
    return "\n".join(lines)


def parse_mode(argv):
    """(mode number, the arguments after it) of ``runGan.py N ...``; UserError otherwise."""
    if len(argv) < 2 or argv[1] not in {str(k) for k in MODES}:
        lines = "\n".join(f"  {k}  {v}" for k, v in MODES.items())
        raise UserError(f"usage: python3 runGan.py N [flags], with N one of\n{lines}\n"
                        "('python3 runGan.py --help' describes each mode and its flags)")
    return int(argv[1]), argv[2:]
