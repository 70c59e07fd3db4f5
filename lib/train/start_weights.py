"""Starting weights of a new run: ``--checkpoint``, with or without ``--pre_trained_model``.

* ``--pre_trained_model --checkpoint X``: the weights of X that exist, by name (:func:`load_pretrained`);
* ``--nopre_trained_model --checkpoint X``: the whole training state when X is (or sits next to)
  one (``run_folder.find_state_for``), else every weight of X, strictly (:func:`load_weights_strict`).
"""
import tensorflow as tf

from lib.errors import UserError
from lib.models.checkpoint import load_official, open_checkpoint, resolve_checkpoint
from lib.train.run_folder import describe, find_state_for

GLOBAL_STEP_NAME = "get_learning_rate_and_global_step/global_step"


def check_start_checkpoint(run):
    """Fast check (no model needed) that ``--checkpoint`` can be read as the starting point."""
    if run.checkpoint and not (run.pre_trained_model is False and find_state_for(run.checkpoint)):
        resolve_checkpoint(run.checkpoint)


def load_pretrained(model, path, init_missing_resblocks=False, log=print):
    """``--pre_trained_model``: weights by name; missing G/FNet tensors zero-filled and reported.

    As the original's ``get_existing_from_ckpt(rest_zero=True)``: every generator/FNet variable not
    in the checkpoint is set to zeros (a 16-block model started from a 10-block FRVSR gets zero
    residual blocks 11..16, which can never learn). With ``init_missing_resblocks`` those blocks
    instead start as identities that can learn: conv_1 keeps its Glorot weights, conv_2 is zero.
    With a D (``--ratio`` > 0) the D's MODEL_VARIABLES found in the checkpoint are loaded too.
    Returns the missing generator/FNet names.
    """
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


LOSS_AVERAGES = "state/loss_ema/"


def _stored_loss_averages(path):
    """Names of the logged loss averages (``TrainState.loss_ema``) that checkpoint ``path`` holds."""
    return {name[len(LOSS_AVERAGES):].split("/", 1)[0]
            for name, _ in tf.train.list_variables(path) if name.startswith(LOSS_AVERAGES)}


def _state_with_losses(state, stored_losses, log):
    """A stand-in for the training ``state`` for restoring: the same variables, but exactly the
    loss averages ``stored_losses``: the run's own where it has them, placeholders for the others.

    Why: the averages are only what the log shows, one per loss term, so turning a term on
    (``--phase_loss``, ``--temporal_loss``) or off when a run is resumed or branched changes the
    set. A new term's average starts at 0; a dropped term's stored average is read and discarded.
    Everything else must still match exactly (``assert_consumed``)."""
    added = sorted(set(state.loss_ema) - stored_losses)
    dropped = sorted(stored_losses - set(state.loss_ema))
    if added:
        log(f"the checkpoint has no average of {', '.join(added)} (a loss term this run adds): "
            "it starts at 0")
    if dropped:
        log(f"the checkpoint's average of {', '.join(dropped)} is dropped (a loss term this run "
            "does not have)")
    stand_in = tf.Module(name=state.name)
    for attribute, value in vars(state).items():
        if not attribute.startswith("_") and attribute != "loss_ema":
            setattr(stand_in, attribute, value)
    stand_in.loss_ema = {name: state.loss_ema[name] if name in state.loss_ema
                         else tf.Variable(0.0, trainable=False, name=name)
                         for name in sorted(stored_losses)}
    return stand_in


def restore_state(checkpoint, parts, path, identity, log=print):
    """The whole training state from ``path`` into ``checkpoint`` (a ``tf.train.Checkpoint``
    of ``parts``: the state and the networks); UserError when it does not fit this model.

    A run that had no weight average (``--ema_decay``) resumes with one: everything else is
    restored and the average starts at the next step. The other way round is refused, so an
    average is never dropped by a forgotten flag. A loss term turned on or off changes only the
    logged averages (:func:`_state_with_losses`)."""
    try:
        stored = {name.split("/", 1)[0] for name, _ in tf.train.list_variables(path)}
    except (ValueError, tf.errors.OpError) as err:
        raise UserError(f"checkpoint '{path}' cannot be read: "
                        f"{str(err).strip().splitlines()[0][:300]}") from None
    if "weight_average" in stored and "weight_average" not in parts:
        raise UserError(f"checkpoint '{path}' keeps an average of the weights; resume it with "
                        "--ema_decay (the run's value is in its run.json)")
    restored, changed = dict(parts), False
    if "weight_average" in parts and "weight_average" not in stored:
        log("the checkpoint has no weight average: it starts from the restored weights")
        del restored["weight_average"]
        changed = True
    stored_losses = _stored_loss_averages(path)
    if hasattr(parts.get("state"), "loss_ema") and set(parts["state"].loss_ema) != stored_losses:
        restored["state"] = _state_with_losses(parts["state"], stored_losses, log)
        changed = True
    if changed:
        checkpoint = tf.train.Checkpoint(**restored)
    try:
        status = checkpoint.restore(path)
        status.assert_consumed()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"checkpoint '{path}' does not fit this model "
                        f"({describe(identity)}): {first[:300]}") from None
    log(f"resumed from '{path}' at step {int(parts['state'].global_step.numpy())}")