"""``$TF_CONFIG`` checked before TensorFlow loads: its structure, not only its JSON syntax.

TensorFlow's cluster resolver takes whatever is there and fails deep inside the strategy
(AttributeError, TypeError, "task index out of range") with a traceback. This module has no
TensorFlow import, so ``main.py --mode train`` answers a malformed value with one line at once.
"""
import json
import os

from lib.errors import UserError

EXPECTED = ('expected e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}')
# the workers of the training job (a MultiWorkerMirroredStrategy has no other kinds of task)
TRAINING_JOBS = ("chief", "worker")


def _bad(what):
    return UserError(f"TF_CONFIG {what}; {EXPECTED}")


def _task_indices(addresses):
    """The task indices of one job's addresses (a list, or TensorFlow's sparse form, an object
    of index -> address); an empty list when they are malformed."""
    if isinstance(addresses, list):
        pairs = list(enumerate(addresses))
    elif isinstance(addresses, dict) and all(k.isdigit() for k in addresses):
        pairs = [(int(k), v) for k, v in addresses.items()]
    else:
        return []
    if not all(isinstance(a, str) and a.strip() for _, a in pairs):
        return []
    return sorted(i for i, _ in pairs)


def _check_cluster(cluster):
    if not isinstance(cluster, dict):
        raise _bad(f'"cluster" must be an object of job name -> list of "host:port", not '
                   f"{json.dumps(cluster)[:60]}")
    for job, addresses in cluster.items():
        if not _task_indices(addresses):
            raise _bad(f'"cluster"."{job}" must be a list of "host:port" strings, not '
                       f"{json.dumps(addresses)[:60]}")
    if len(cluster.get("chief", [])) > 1:
        raise _bad(f'"cluster"."chief" names {len(cluster["chief"])} machines; there is one chief')


def _check_task(task, cluster):
    if task is None:
        raise _bad('has a "cluster" but no "task" (which of its machines this one is)')
    if not isinstance(task, dict):
        raise _bad(f'"task" must be an object with "type" and "index", not '
                   f"{json.dumps(task)[:60]}")
    job, index = task.get("type"), task.get("index", 0)
    if not isinstance(job, str) or job not in cluster:
        raise _bad(f'"task"."type" must be one of the jobs of "cluster" '
                   f"({', '.join(cluster) or 'none'}), not {json.dumps(job)}")
    indices = _task_indices(cluster[job])
    if isinstance(index, bool) or not isinstance(index, int) or index not in indices:
        raise _bad(f'"task"."index" {json.dumps(index)} is not an index of the '
                   f'{len(indices)} "{job}" address(es) of "cluster" '
                   f"({', '.join(map(str, indices))})")


def parse_tf_config(raw):
    """The checked ``TF_CONFIG`` (a dict) of the text ``raw``; UserError naming what is wrong."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise UserError(f"TF_CONFIG is not valid JSON; {EXPECTED}") from None
    if not isinstance(value, dict):
        kind = {list: "list", str: "string", bool: "boolean", int: "number", float: "number",
                type(None): "null"}.get(type(value), type(value).__name__)
        raise _bad(f"must be a JSON object, not a {kind}")
    cluster = value.get("cluster", {})
    _check_cluster(cluster)
    if cluster:
        _check_task(value.get("task"), cluster)
    elif "task" in value and not isinstance(value["task"], dict):
        raise _bad('"task" must be an object with "type" and "index"')
    return value


def tf_config_workers(environ=None):
    """Workers (chief included) that ``$TF_CONFIG`` names; 0 without it. UserError when
    ``$TF_CONFIG`` is malformed (checked once here, before any strategy is built)."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not raw:
        return 0
    cluster = parse_tf_config(raw).get("cluster", {})
    return sum(len(cluster.get(job, [])) for job in TRAINING_JOBS)
