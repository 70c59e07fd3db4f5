"""Devices of a training run: the ``tf.distribute`` strategy for ``--distribute``, which worker is
the chief (the one that writes the run folder), and what to say when a peer worker is lost."""
import contextlib
import os

import tensorflow as tf

from lib.errors import UserError
from lib.train.dataloader import op_error_text
from lib.train.state_checkpoints import STATE_DIR, state_steps
from lib.train.tf_config import tf_config_workers

# What a collective raises on the surviving workers when a peer dies (seen with TF 2.21: after
# about 30 s without heartbeats, UnavailableError "The following tasks are unhealthy").
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.CancelledError)


def choose_strategy(mode="auto", log=print):
    """tf.distribute strategy for ``--distribute`` (see the flag's help)."""
    cluster = tf_config_workers()
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


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (Linux), or None where they cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def bf16_note(precision, flags=None, gpus=None):
    """The one line to say for ``--precision``, or None: bf16 training without a GPU on a CPU
    with neither AVX512_BF16 nor AMX runs emulated, slower than fp32."""
    if precision != "bf16":
        return None
    gpus = tf.config.list_logical_devices("GPU") if gpus is None else gpus
    flags = cpu_flags() if flags is None else flags
    if gpus or flags is None or flags & set(BF16_CPU_FLAGS):
        return None
    return ("warning: --precision bf16 on a CPU without AVX512_BF16 or AMX: TensorFlow emulates "
            "bfloat16 there, so training is slower than with --precision fp32 (a TecoGAN step "
            "about 9x slower on a 2-core AVX2 CPU, benchmarks/bench_train.py); use fp32 here")


def is_chief(strategy):
    """True on the worker that writes the run folder (and on a single machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def is_multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def peer_lost_message(err, output_dir):
    """What to do when another worker of a MultiWorkerMirroredStrategy job stopped.

    TensorFlow cannot take a restarted worker back into a running job ("Restart your program to
    reset"): every worker must be started again, and then the job resumes from the last checkpoint.
    """
    steps = state_steps(output_dir)
    last = (f"resumes from the last checkpoint '{os.path.join(output_dir, STATE_DIR)}/ckpt-"
            f"{steps[0]}' (step {steps[0]})" if steps else "starts again from step 0")
    return (f"another worker of the multi-worker job stopped ({op_error_text(err)}); TensorFlow "
            "cannot continue the job without it. Start the same command again on every worker "
            f"(same TF_CONFIG): training {last}")


@contextlib.contextmanager
def peer_loss_is_user_error(strategy, output_dir):
    """Under a MultiWorkerMirroredStrategy, a lost peer ends in :func:`peer_lost_message`."""
    try:
        yield
    except PEER_ERRORS as err:
        if not is_multiworker(strategy):
            raise
        raise UserError(peer_lost_message(err, output_dir)) from None
