"""``python3 -m lib.models.grow``: more residual blocks for a trained model, same output.

    python3 -m lib.models.grow --checkpoint model/shipped/FRVSR_ours --num_resblock 16 \\
        --output model/frvsr_16/model

Copies every generator, FNet (and, where the source has one, discriminator) tensor of the source
and appends residual blocks ``resblock_{n+1}`` .. ``resblock_{N}``. A new block's first
convolution gets the generator's usual initialisation and its second convolution zero weights
and biases, so the block adds zero and the grown generator's output equals the source's (up to
float rounding); gradients reach the second convolution at once, so the new blocks start learning
from the first step ("zero-init residual", as Goyal et al. 2017 and Fixup do). The use: continue
training (``runGan.py 3 --checkpoint OUTPUT --num_resblock N``) with more capacity without
throwing away what the smaller model learnt. Bad input is one ``error:`` line and exit status 2;
an existing output is never overwritten.
"""
import os
import sys

from lib.errors import ArgumentParser, UserError, run_cli


def parse_args(argv=None):
    parser = ArgumentParser(prog="python3 -m lib.models.grow",
                            description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True,
                        help="the trained model: a checkpoint prefix or a folder with a "
                        "'checkpoint' file")
    parser.add_argument("--num_resblock", type=int, required=True,
                        help="residual blocks of the grown generator (more than the source's)")
    parser.add_argument("--output", required=True,
                        help="prefix of the new checkpoint (PREFIX.index and PREFIX.data-*)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the new blocks' first convolutions (default 0)")
    return parser.parse_args(argv)


def new_block_names(old_blocks, new_blocks):
    """The official names of the tensors that ``grow_generator`` sets to zero."""
    from lib.models.networks import GENERATOR_SCOPE
    return [f"{GENERATOR_SCOPE}/resblock_{i}/conv_2/Conv/{kind}"
            for i in range(old_blocks + 1, new_blocks + 1) for kind in ("weights", "biases")]


def grow_generator(source, num_resblock, prefix, seed=0):
    """Write ``source``'s model with ``num_resblock`` residual blocks to ``prefix`` (see the
    module's doc). Returns (prefix, source's block count)."""
    import tensorflow as tf
    from lib.models.checkpoint import (checkpoint_resblocks, load_official, open_checkpoint,
                                       save_official)
    from lib.models.discriminator import Discriminator
    from lib.models.networks import FNet, Generator
    src, _, shapes = open_checkpoint(source)
    blocks = checkpoint_resblocks(shapes)
    if not blocks:
        raise UserError(f"checkpoint '{src}' holds no generator residual blocks")
    if num_resblock <= blocks:
        raise UserError(f"--num_resblock {num_resblock}: the source already has {blocks} "
                        f"residual blocks; give more than {blocks} (dropping blocks would change "
                        "the output)")
    if os.path.exists(prefix + ".index"):
        raise UserError(f"'{prefix}.index' exists; remove it first (nothing was overwritten)")
    variables = {**Generator(num_resblock, seed=seed).official_variables(),
                 **FNet().official_variables()}
    missing = load_official(variables, src, allow_missing=True)
    zeroed = new_block_names(blocks, num_resblock)
    expected_missing = {name for name in variables
                        if any(f"/resblock_{i}/" in name
                               for i in range(blocks + 1, num_resblock + 1))}
    if set(missing) != expected_missing:        # e.g. an FNet tensor absent: not a whole model
        other = sorted(set(missing) - expected_missing)
        raise UserError(f"checkpoint '{src}' lacks {len(other)} tensor(s) the model needs: "
                        f"{', '.join(other[:3])}")
    for name in zeroed:
        variables[name].assign(tf.zeros_like(variables[name]))
    d_vars = Discriminator().official_variables()
    if all(name in shapes for name in d_vars):  # a TecoGAN start: keep its discriminator
        load_official(d_vars, src)
        variables.update(d_vars)
    save_official(variables, prefix, write_state_file=False)
    return prefix, blocks


def main(argv=None):
    args = parse_args(argv)
    if args.num_resblock < 2:
        raise UserError(f"--num_resblock {args.num_resblock}: give more blocks than the source has")
    from lib.io.output_plan import check_writable_folder
    check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "--output")
    from lib.project import import_tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import_tensorflow()
    prefix, blocks = grow_generator(args.checkpoint, args.num_resblock, args.output, args.seed)
    print(f"wrote {prefix}: {args.checkpoint} grown from {blocks} to {args.num_resblock} residual "
          f"blocks (new blocks add zero, so the output is unchanged); train it with "
          f"--num_resblock {args.num_resblock}")
    return 0


if __name__ == "__main__":
    run_cli(main, sys.argv[1:])
    sys.exit(0)
