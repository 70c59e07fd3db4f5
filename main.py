r"""TecoGAN entry point: ``--mode inference`` or ``--mode train`` (flags as in the original).

    python3 main.py --mode inference --input_dir_LR ./LR/calendar --output_dir ./results/ \
        --output_pre calendar --checkpoint ./model/TecoGAN --num_resblock 16 --output_ext png

    python3 main.py --mode export --checkpoint model/shipped/TecoGAN_ours --num_resblock 10 \
        --output_dir ./exported/TecoGAN_ours     # a SavedModel of one recurrent step (README)

``python3 main.py --help`` explains every flag. Bad input ends with one "error: ..." line, exit 2.
"""
import os
import sys


def _early_environment(argv):
    """Settings that must be in place before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for i, arg in enumerate(argv):        # absl takes -cudaID as well as --cudaID
        if arg.startswith(("--cudaID=", "-cudaID=")):
            os.environ["CUDA_VISIBLE_DEVICES"] = arg.split("=", 1)[1]
        elif arg in ("--cudaID", "-cudaID") and i + 1 < len(argv):
            os.environ["CUDA_VISIBLE_DEVICES"] = argv[i + 1]


_early_environment(sys.argv)

from absl import app, flags  # noqa: E402

import lib.flags  # noqa: E402,F401  (defines every flag)
from lib.errors import UserError, run_cli  # noqa: E402
from lib.project import set_seeds  # noqa: E402

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])} (flags start with --)")
    if FLAGS.mode not in ("inference", "train", "export"):
        raise UserError(f"--mode must be 'inference', 'train' or 'export', not '{FLAGS.mode}'")
    # Checks that need no TensorFlow run first, so bad input is answered at once.
    from lib.flags import config_from_flags
    from lib.infer.prepare import check_num_resblock
    check_num_resblock(FLAGS.num_resblock)
    if FLAGS.mode == "inference":
        from lib.infer.config import InferenceConfig
        from lib.infer.prepare import prepare_inference
        config = config_from_flags(InferenceConfig)
        prepared = prepare_inference(config)
        set_seeds(FLAGS.rand_seed)
        from lib.infer.driver import run_inference
        run_inference(config, prepared)
    elif FLAGS.mode == "export":
        from lib.infer.config import ExportConfig
        from lib.infer.prepare import check_export_config
        config = config_from_flags(ExportConfig)
        check_export_config(config)
        if FLAGS.precision != "fp32":       # said, not silently ignored
            print(f"note: --precision {FLAGS.precision} does not apply to --mode export: the "
                  "exported step computes in float32", flush=True)
        set_seeds(FLAGS.rand_seed)
        from lib.infer.export import run_export
        run_export(config)
    else:
        from lib.train.config import DataConfig, RunConfig, TrainConfig, check_configs
        from lib.train.tf_config import tf_config_workers
        configs = [config_from_flags(c) for c in (TrainConfig, DataConfig, RunConfig)]
        check_configs(*configs)     # nonsensical flag values and a malformed TF_CONFIG: one
        tf_config_workers()         # line each, before TensorFlow loads
        set_seeds(FLAGS.rand_seed)
        try:
            from lib.train.trainer import train
        except ImportError as err:
            raise UserError(f"training is not available in this build: {err}") from None
        train(*configs)


def entry(argv):
    run_cli(main, argv)


def print_help():
    """--help: every TecoGAN flag, in the sections of lib/flags.py (absl's default would list only
    the flags defined in main.py, and in one alphabetical list)."""
    lines = [__doc__]
    for title, names in lib.flags.help_sections():
        lines.append(f"{title}:")
        lines.extend(lib.flags.flag_help(name) for name in names)
        lines.append("")
    print("\n".join(lines))


def parse_flags(argv):
    """absl's parsing (app.run's flags_parser), but an unknown flag or a bad value is one
    'error:' line and exit status 2, not absl's usage text and status 1."""
    try:
        return FLAGS(argv)
    except flags.UnrecognizedFlagError as err:
        name = err.flagname
        hint = lib.flags.did_you_mean(name, lib.flags.flag_specs(list(FLAGS)))
        message = f"main.py has no flag --{name}{hint}"
    except flags.Error as err:
        message = str(err).splitlines()[0]
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


if __name__ == "__main__":
    if any(arg in ("--help", "-h", "-?", "--helpshort", "--helpfull") for arg in sys.argv[1:]):
        try:
            print_help()
        except BrokenPipeError:         # e.g. piped into head
            sys.stdout = None
        sys.exit(0)
    app.run(entry, flags_parser=parse_flags)
