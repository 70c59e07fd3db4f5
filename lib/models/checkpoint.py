"""Import and export of checkpoints in the official TF1 variable naming.

The official ``model/TecoGAN`` is a TF1 V2 tensor bundle (``.index`` + ``.data-00000-of-00001``)
holding ``generator/generator_unit/...`` and ``fnet/autoencode_unit/...``. TF2 reads it by name with
``tf.train.load_checkpoint``; we write the same format with the SaveV2 op, so a model trained here
can be restored by the original code (its Saver restores by name as well).

Every failure is a :class:`UserError` naming the checkpoint and, where it applies, the tensor.
"""
import os
import re

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

from lib.errors import UserError
from lib.models.checkpoint_files import checkpoint_prefix
from lib.models.networks import FNet, Generator

RESBLOCK_RE = re.compile(r"^generator/generator_unit/resblock_(\d+)/")
STATE_FILE = "checkpoint"       # the TF1 state file naming a folder's newest checkpoint


def state_file_problem(folder, name=STATE_FILE):
    """None when ``folder/name`` is missing or a readable checkpoint state file, else the reason
    (one line). TensorFlow's own reader raises UnicodeDecodeError or ValueError on such a file."""
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
        state = CheckpointState()
        text_format.Merge(text, state)
    except (UnicodeDecodeError, text_format.ParseError) as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    if not state.model_checkpoint_path:
        return "it names no checkpoint"
    return None


def resolve_checkpoint(path):
    """Accept a prefix (``model/TecoGAN``), a file of it, or a folder with a ``checkpoint`` file."""
    if path is None:
        raise UserError("no --checkpoint given")
    path = checkpoint_prefix(path)
    if os.path.isdir(path):
        problem = state_file_problem(path)
        if problem:     # TensorFlow's reader would end in a traceback
            raise UserError(f"the '{STATE_FILE}' file of checkpoint folder '{path}' is damaged "
                            f"({problem}); give the checkpoint prefix instead, e.g. "
                            f"{os.path.join(path, 'model-N')}")
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise UserError(f"checkpoint folder '{path}' holds no checkpoint (no 'checkpoint' "
                            "file naming one)")
        path = latest
    if not os.path.exists(path + ".index"):
        raise UserError(f"checkpoint '{path}' not found (expected '{path}.index' and "
                        f"'{path}.data-00000-of-00001')")
    return path


def open_checkpoint(path):
    """``(prefix, reader, shapes)`` for ``path`` (see :func:`resolve_checkpoint`)."""
    prefix = resolve_checkpoint(path)
    reader, shapes = read_checkpoint(prefix)
    return prefix, reader, shapes


def read_checkpoint(prefix, what="checkpoint"):
    """``(CheckpointReader, {name: shape})`` of ``prefix`` (TF1 V1 or V2 files); a corrupt or
    truncated file is one clear UserError naming ``what`` it should have been."""
    from lib.models.checkpoint_files import check_no_pattern
    check_no_pattern(prefix, what)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as err:
        raise UserError(f"{what} '{prefix}' cannot be read (corrupt or truncated?): "
                        f"{_first_line(err)}") from None
    return reader, shapes


def _first_line(err):
    text = getattr(err, "message", None) or str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def checkpoint_resblocks(names):
    """Number of generator residual blocks stored under ``names`` (0 if none)."""
    found = [int(m.group(1)) for m in map(RESBLOCK_RE.match, names) if m]
    return max(found) if found else 0


def load_official(variables_by_name, path, allow_missing=False):
    """Assign checkpoint tensors to ``variables_by_name`` ({official name: tf.Variable}).

    Returns the names that were missing from the checkpoint (only possible with
    ``allow_missing``). A shape mismatch is always an error; so is a checkpoint whose generator has
    more residual blocks than the model (a wrong ``--num_resblock``).
    """
    prefix, reader, shapes = open_checkpoint(path)
    ours = checkpoint_resblocks(variables_by_name)
    theirs = checkpoint_resblocks(shapes)
    if ours and theirs and theirs != ours and not allow_missing:
        raise UserError(f"checkpoint '{prefix}' has a generator with {theirs} residual blocks, "
                        f"but the model was built with --num_resblock {ours}")
    if ours and theirs > ours:
        raise UserError(f"checkpoint '{prefix}' has {theirs} residual blocks, more than "
                        f"--num_resblock {ours}; use --num_resblock {theirs}")
    missing = []
    for name, var in variables_by_name.items():
        if name not in shapes:
            missing.append(name)
            continue
        if list(shapes[name]) != var.shape.as_list():
            raise UserError(f"checkpoint '{prefix}': tensor '{name}' has shape {shapes[name]}, "
                            f"the model expects {var.shape.as_list()}")
        try:
            value = reader.get_tensor(name)
        except (tf.errors.OpError, ValueError, IndexError) as err:
            raise UserError(f"checkpoint '{prefix}': tensor '{name}' cannot be read (corrupt or "
                            f"truncated data file?): {_first_line(err)}") from None
        var.assign(_checked_value(prefix, name, value, var))
    if missing and not allow_missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise UserError(f"checkpoint '{prefix}' lacks {len(missing)} tensor(s) the model needs: "
                        f"{shown}")
    return missing


def _checked_value(prefix, name, value, var):
    """``value`` as ``var``'s dtype, refusing what would load silently but wrongly: integer,
    boolean or text tensors where the model has floats (a cast would turn them into plausible
    weights), and NaN or infinite values (a diverged training run: its outputs would be
    garbage, or plausible-looking frames from the finite part)."""
    value = np.asarray(value)
    if var.dtype.is_floating and value.dtype.kind in "biuOSU":
        raise UserError(f"checkpoint '{prefix}': tensor '{name}' is {value.dtype}, not a "
                        "floating-point tensor as the model expects; not a TecoGAN/FRVSR "
                        "checkpoint?")
    array = np.asarray(value, dtype=var.dtype.as_numpy_dtype)
    if var.dtype.is_floating:
        bad = array.size - int(np.count_nonzero(np.isfinite(array)))
        if bad:
            raise UserError(f"checkpoint '{prefix}': tensor '{name}' holds {bad} non-finite "
                            "value(s) (NaN or infinity), the weights of a diverged training "
                            "run; use an earlier checkpoint of that run")
    return array


def save_official(variables_by_name, prefix, write_state_file=True):
    """Write ``{official name: variable}`` as a TF1 V2 tensor bundle at ``prefix``.

    The result has the official names only (no optimiser slots), like the released ``model.zip``,
    and a ``checkpoint`` state file so ``tf.train.latest_checkpoint(folder)`` finds it.
    """
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    names = sorted(variables_by_name)
    tensors = [tf.convert_to_tensor(variables_by_name[n]) for n in names]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=tensors)
    if write_state_file:
        base = os.path.basename(prefix)
        with open(os.path.join(folder, "checkpoint"), "w") as handle:
            handle.write(f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n')
    return prefix


def round_to_bfloat16(array):
    """float32 values rounded (to nearest, ties to even) to the 8 significant bits of bfloat16,
    still stored as float32: the low 16 bits of every value become zero."""
    import ml_dtypes     # TensorFlow's own dependency: numpy's bfloat16
    return np.asarray(array, dtype=np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def export_inference_weights(source, prefix, discriminator_source=None, bfloat16_values=False):
    """Copy only the generator and FNet tensors of ``source`` to a new bundle at ``prefix``.

    A training checkpoint (``<run>/model-N``, also holding the global step and, for TecoGAN, the
    discriminator) becomes a model like the released one: the official names inference restores,
    nothing else. With ``discriminator_source`` (a TecoGAN ``model-N``, e.g. the raw weights
    beside the averaged ``model_ema-N`` given as ``source``) the bundle also holds its
    discriminator, so ``--pre_trained_model --checkpoint PREFIX`` continues the GAN with the D
    it was trained against; inference still reads only the generator and FNet.
    ``bfloat16_values`` rounds every value to bfloat16 precision (``round_to_bfloat16``) but keeps
    the float32 tensors, so the bundle loads everywhere as before; git compresses such a file to
    about half (the shipped models: each commit of a model stays in the history for good).
    Returns (prefix, residual block count).
    """
    src, _, shapes = open_checkpoint(source)
    blocks = checkpoint_resblocks(shapes)
    if not blocks:
        raise UserError(f"checkpoint '{src}' holds no generator residual blocks")
    variables = {**Generator(blocks).official_variables(), **FNet().official_variables()}
    load_official(variables, src)
    if discriminator_source is not None:
        from lib.models.discriminator import Discriminator
        d_src, _, d_shapes = open_checkpoint(discriminator_source)
        d_vars = Discriminator().official_variables()
        absent = sorted(n for n in d_vars if n not in d_shapes)
        if absent:
            raise UserError(f"checkpoint '{d_src}' holds no discriminator ('{absent[0]}' is "
                            "missing); give a TecoGAN training checkpoint <run>/model-N")
        load_official(d_vars, d_src)
        variables.update(d_vars)
    if os.path.exists(prefix + ".index"):
        raise UserError(f"'{prefix}.index' exists; remove it first (nothing was overwritten)")
    if bfloat16_values:
        variables = {name: tf.constant(round_to_bfloat16(var.numpy()))
                     for name, var in variables.items()}
    save_official(variables, prefix, write_state_file=False)
    return prefix, blocks
