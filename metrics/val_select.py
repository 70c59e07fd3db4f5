"""A model-selection rule that runs: ``python3 -m metrics.validate --require ... --select ...``.

    python3 -m metrics.validate --from_json val.json --exclude_scene friends \\
        --require "tOF_excl<=0.2887" --require "PSNR_Y>=30.78" --require "grid_err<=0.1352" \\
        --select LPIPS

Honest selection means writing the rule down before the numbers are seen and then applying it
exactly (model/README.md, Model selection). Written as flags, the rule is applied by the code,
printed with its verdict on every checkpoint, and kept in the ``--json`` file next to the numbers
it judged. A requirement is ``METRIC OP NUMBER`` with OP one of ``<= >= < >``; METRIC is one of
the table's metrics (the mean of scenes), or one with ``_excl`` appended for the mean without the
``--exclude_scene`` scenes. ``--select METRIC`` chooses, among the checkpoints that meet every
requirement, the best by that metric's direction (lowest LPIPS, highest PSNR_Y; of equals, the
first listed); the bicubic baseline is never chosen. A metric that was not computed (NaN) meets
no requirement. Finding no checkpoint is an answer, not an error: "chosen: none".
"""
import math
import operator
import re

from lib.errors import UserError

EXCLUDED_SUFFIX = "_excl"
OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z_]+)\s*(<=|>=|<|>)\s*"
                          r"([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")


def split_key(key):
    """``(metric, mean)``: ``("tOF", "mean_excluding")`` for ``tOF_excl``, ``("tOF", "mean")``
    for ``tOF``: where the number of ``key`` is in a method of the result."""
    if key.endswith(EXCLUDED_SUFFIX):
        return key[:-len(EXCLUDED_SUFFIX)], "mean_excluding"
    return key, "mean"


def check_key(key, metrics, excluded, flag):
    """``key`` names a metric of the table (``_excl``: of the mean without excluded scenes)."""
    base = split_key(key)[0]
    if base not in metrics:
        raise UserError(f"{flag}: '{base}' is not a metric; the metrics are {', '.join(metrics)} "
                        f"(each also as METRIC{EXCLUDED_SUFFIX}, the mean without --exclude_scene)")
    if key != base and not excluded:
        raise UserError(f"{flag}: '{key}' needs --exclude_scene (the scenes it leaves out)")


def parse_rule(requirements, select, metrics, excluded):
    """The rule as ``([(key, op, value), ...], select)``, or a UserError for what is malformed."""
    parsed = []
    for text in requirements:
        match = _REQUIREMENT.match(text)
        try:
            value = float(match.group(3)) if match else math.nan
        except ValueError:
            value = math.nan
        if not match or not math.isfinite(value):
            raise UserError(f"--require '{text}': write METRIC OP NUMBER, e.g. 'LPIPS<=0.17' or "
                            "'PSNR_Y>=30.8' (quote it: the shell reads < and > itself)")
        check_key(match.group(1), metrics, excluded, f"--require '{text}'")
        parsed.append((match.group(1), match.group(2), value))
    if select is not None:
        check_key(select, metrics, excluded, f"--select '{select}'")
    return parsed, select


def number(method, key):
    """The mean (or, for ``*_excl``, the mean without the excluded scenes) of ``method``."""
    metric, mean = split_key(key)
    return method[mean][metric]


def apply_rule(result, requirements, select, higher_is_better, baseline):
    """Every method's verdict (the requirements it fails) and the chosen one, as a dict for the
    JSON file; the baseline is judged but never chosen."""
    verdicts, candidates, meeting = [], [], 0
    for method in result["methods"]:
        failed = []
        for key, op, limit in requirements:
            value = number(method, key)
            if value != value or not OPERATORS[op](value, limit):
                failed.append({"requirement": f"{key}{op}{limit:g}", "value": value})
        verdicts.append({"method": method["method"], "meets": not failed, "failed": failed})
        meeting += not failed and method["method"] != baseline
        if not failed and method["method"] != baseline and (
                select is None or number(method, select) == number(method, select)):
            candidates.append(method)
    chosen = None
    if select is not None and candidates:
        sign = -1 if higher_is_better[split_key(select)[0]] else 1
        chosen = min(candidates, key=lambda m: sign * number(m, select))["method"]
    selection = {"requirements": [f"{k}{op}{v:g}" for k, op, v in requirements],
                 "select": select, "methods": verdicts, "chosen": chosen}
    if select is not None and chosen is None:
        selection["none_because"] = (
            f"the {meeting} checkpoint(s) that meet every requirement have no {select} number "
            "(it was not computed)" if meeting else "no checkpoint meets every requirement")
    return selection


def verdict_text(verdict):
    """``meets every requirement``, or each requirement failed with the method's value."""
    fails = "; ".join(f"fails {f['requirement']} ({f['value']:.4f})" for f in verdict["failed"])
    return fails or "meets every requirement"


def watch_line(selection, method):
    """The verdict on the checkpoint just scored, and the choice so far, for a ``--watch``."""
    verdict = next(v for v in selection["methods"] if v["method"] == method)
    line = f"  rule: {verdict_text(verdict)}"
    if selection["select"] is not None:
        line += f"; chosen so far: {selection['chosen'] or 'none'}"
    return line


def selection_text(selection, result):
    """The rule, one line per method (its value of the selected metric and what it fails), and
    the choice."""
    select, rule = selection["select"], ", ".join(selection["requirements"]) or "no requirement"
    by_name = {m["method"]: m for m in result["methods"]}
    width = max(len(v["method"]) for v in selection["methods"]) + 2
    head = f"best {select}" if select else "which checkpoints meet"
    lines = [f"selection: {head} under {rule}"]
    for verdict in selection["methods"]:
        shown = f"{select} {number(by_name[verdict['method']], select):.4f}  " if select else ""
        lines.append(f"  {verdict['method']:<{width}}{shown}{verdict_text(verdict)}")
    if select is not None:
        lines.append(f"chosen: {selection['chosen']}" if selection["chosen"] else
                     f"chosen: none ({selection['none_because']})")
    return "\n".join(lines) + "\n"
