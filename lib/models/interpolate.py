"""``python3 -m lib.models.interpolate``: network interpolation between two models of one shape.

    python3 -m lib.models.interpolate --checkpoint_a model/shipped/TecoGAN_ours \\
        --checkpoint_b model/shipped/FRVSR_ours --alpha 0.8 --output model/teco_frvsr_0.8/model

Writes ``alpha * A + (1 - alpha) * B``, tensor by tensor, for the generator and FNet (as ESRGAN's
``net_interp.py`` does for its PSNR and GAN models). With A a TecoGAN and B the FRVSR it was
trained from, alpha sets the trade between detail (LPIPS) and temporal stability (tOF): on the
validation scenes it lands on the straight line between the two models, not better
(model/README.md, stop 24). The result is an inference model like ``export_inference_weights``
writes (``--checkpoint PREFIX`` in inference); it holds no discriminator, so it is not a start
for ``runGan.py 3``. Bad input is one ``error:`` line and exit status 2; an existing output is
never overwritten.
"""
import os
import sys

from lib.errors import ArgumentParser, UserError, run_cli


def parse_args(argv=None):
    parser = ArgumentParser(prog="python3 -m lib.models.interpolate",
                            description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint_a", required=True,
                        help="the model alpha weighs (e.g. a TecoGAN): a checkpoint prefix or "
                        "a folder with a 'checkpoint' file")
    parser.add_argument("--checkpoint_b", required=True,
                        help="the model 1 - alpha weighs (e.g. the FRVSR it was trained from)")
    parser.add_argument("--alpha", type=float, required=True,
                        help="weight of --checkpoint_a, from 0 (B) to 1 (A)")
    parser.add_argument("--output", required=True,
                        help="prefix of the new checkpoint (PREFIX.index and PREFIX.data-*)")
    return parser.parse_args(argv)


def check_alpha(alpha):
    if not 0.0 <= alpha <= 1.0:     # also rejects NaN
        raise UserError(f"--alpha {alpha}: give a weight from 0 (--checkpoint_b) to 1 "
                        "(--checkpoint_a); outside it the weights are extrapolated")


def interpolate_inference_weights(source_a, source_b, alpha, prefix):
    """Write ``alpha * A + (1 - alpha) * B`` of the generator and FNet tensors of ``source_a``
    and ``source_b`` (same residual block count) to a new bundle at ``prefix``, in float32
    (computed in float64). Returns (prefix, residual block count)."""
    import numpy as np
    import tensorflow as tf
    from lib.models.checkpoint import (checkpoint_resblocks, load_official, open_checkpoint,
                                       save_official)
    from lib.models.networks import FNet, Generator
    check_alpha(alpha)
    blocks = []
    for source in (source_a, source_b):
        prefix_read, _, shapes = open_checkpoint(source)
        blocks.append(checkpoint_resblocks(shapes))
        if not blocks[-1]:
            raise UserError(f"checkpoint '{prefix_read}' holds no generator residual blocks")
    if blocks[0] != blocks[1]:
        raise UserError(f"the generators differ: {blocks[0]} residual blocks in '{source_a}', "
                        f"{blocks[1]} in '{source_b}'; only models of one shape interpolate")
    if os.path.exists(prefix + ".index"):
        raise UserError(f"'{prefix}.index' exists; remove it first (nothing was overwritten)")
    values = []
    for source in (source_a, source_b):
        variables = {**Generator(blocks[0]).official_variables(), **FNet().official_variables()}
        load_official(variables, source)
        values.append({name: var.numpy().astype(np.float64) for name, var in variables.items()})
    mixed = {name: tf.constant((alpha * a + (1.0 - alpha) * values[1][name]).astype(np.float32))
             for name, a in values[0].items()}
    save_official(mixed, prefix, write_state_file=False)
    return prefix, blocks[0]


def main(argv=None):
    args = parse_args(argv)
    check_alpha(args.alpha)         # before TensorFlow loads
    from lib.io.output_plan import check_writable_folder
    check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "--output")
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()
    prefix, blocks = interpolate_inference_weights(args.checkpoint_a, args.checkpoint_b,
                                                   args.alpha, args.output)
    print(f"wrote {prefix} ({blocks} residual blocks): {args.alpha:g} x {args.checkpoint_a} + "
          f"{1 - args.alpha:g} x {args.checkpoint_b}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
