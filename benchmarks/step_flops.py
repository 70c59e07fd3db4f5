"""Executed convolution FLOPs from a runtime trace, the matmul peak and the CPU's bf16 flags.

The count comes from what TensorFlow *ran*, not from the graph: the function is called in a
``tf.compat.v1.Session`` with ``RunOptions(trace_level=FULL_TRACE)``, and every executed kernel
in ``RunMetadata.step_stats`` whose op is a convolution (``Conv2D``, ``Conv2DBackpropInput``,
``Conv2DBackpropFilter`` and their oneDNN / fused variants ``_MklNativeFusedConv2D``,
``_MklNativeConv2DBackpropFilterWithBias`` ...) or a matmul is counted from its runtime shapes:

* forward ``Conv2D``: 2 * N * Ho * Wo * Cout * kh * kw * Cin (output shape, filter shape);
* ``Conv2DBackpropInput`` (the data gradient, and the forward pass of a transposed conv):
  2 * |out_backprop| * kh * kw * Cin;
* ``Conv2DBackpropFilter`` (the weight gradient): 2 * |out_backprop| * kh * kw * Cin;
* ``MatMul``: 2 * M * N * K.

Pruned ops (gradients nobody uses) never run, so they are not in the count. Each kernel is
attributed to the network whose variable its filter comes from (walking from the executed node's
filter input back through Cast / ReadVariableOp / ShapeN in the function's graph to the captured
variable).
"""
import re
import time

import numpy as np
import tensorflow as tf

KINDS = ("forward", "data_grad", "filter_grad", "matmul")


def kind_of(op_type):
    """'forward' | 'data_grad' | 'filter_grad' | 'matmul' | None for an executed op type."""
    if "Conv2DBackpropInput" in op_type:
        return "data_grad"
    if "Conv2DBackpropFilter" in op_type:
        return "filter_grad"
    if "Conv2D" in op_type and "Depthwise" not in op_type and "3D" not in op_type:
        return "forward"
    if "MatMul" in op_type:
        return "matmul"
    return None


_LABEL = re.compile(r"^(?:\[[^\]]*\]\s*)?(\S+) = (\S+)\((.*)\)\s*$")


def parse_label(label):
    """(node name, op type, [input names]) from a step_stats timeline label, or None."""
    match = _LABEL.match(label)
    if not match:
        return None
    inputs = [s.strip() for s in match.group(3).split(",") if s.strip()]
    return match.group(1), match.group(2), [s for s in inputs if not s.startswith("^")]


def _shape(output):
    return [int(d.size) for d in output.tensor_description.shape.dim]


def executed_kernels(step_stats):
    """[(name, op, inputs, [output shapes])] of every executed node, and {tensor name: shape}."""
    nodes, shapes = [], {}
    for dev in step_stats.dev_stats:
        for stat in dev.node_stats:
            parsed = parse_label(stat.timeline_label)
            outs = {o.slot: _shape(o) for o in stat.output}
            for slot, shape in outs.items():
                shapes[f"{stat.node_name}:{slot}"] = shape
                if slot == 0:
                    shapes[stat.node_name] = shape
            if parsed:
                nodes.append((parsed[0], parsed[1], parsed[2], outs))
    return nodes, shapes


def kernel_flops(op, inputs, outs, shapes):
    """(kind, FLOPs, filter shape) of one executed kernel; FLOPs None when a shape is unknown."""
    kind = kind_of(op)
    if kind is None:
        return None, 0, None

    def shape_of(i):
        return shapes.get(inputs[i]) if i < len(inputs) else None

    if kind == "forward":
        out, filt = outs.get(0), shape_of(1)
        if out is None or filt is None or len(filt) != 4:
            return kind, None, filt
        return kind, 2 * int(np.prod(out)) * filt[0] * filt[1] * filt[2], filt
    if kind == "data_grad":
        filt, grad = shape_of(1), shape_of(2)
        if filt is None or grad is None:
            return kind, None, filt
        return kind, 2 * int(np.prod(grad)) * filt[0] * filt[1] * filt[2], filt
    if kind == "filter_grad":
        filt, grad = outs.get(0), shape_of(2)
        if filt is None or grad is None:
            return kind, None, filt
        return kind, 2 * int(np.prod(grad)) * filt[0] * filt[1] * filt[2], filt
    out, a = outs.get(0), shape_of(0)
    if out is None or a is None or len(out) < 2:
        return kind, None, None
    m = int(np.prod(out[:-1]))
    k = int(np.prod(a)) // max(m, 1)
    return kind, 2 * m * out[-1] * k, None


# -- attribution to networks ------------------------------------------------------------------
_PASS_THROUGH = {"Cast", "Identity", "ReadVariableOp", "Shape", "ShapeN"}


def _variable_owner(graph, name, owners, depth=8):
    """Walk from graph op ``name`` up its filter path to a captured variable; owner or None."""
    try:
        op = graph.get_operation_by_name(name)
    except (KeyError, ValueError):
        return None
    for _ in range(depth):
        if op.type == "Placeholder":
            return owners.get(op.name)
        if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul"):
            op = op.inputs[1].op
        elif op.type == "ShapeN":
            op = op.inputs[-1].op
        elif op.type in _PASS_THROUGH and op.inputs:
            op = op.inputs[0].op
        else:
            return None
    return None


def _strip(name, prefixes=("StatefulPartitionedCall/", "PartitionedCall/")):
    name = name.split(":")[0]
    if name.startswith("ConstantFolding/"):
        name = name[len("ConstantFolding/"):]
    name = re.sub(r"-matshapes-\d+$", "", name)
    for prefix in prefixes:
        while name.startswith(prefix):
            name = name[len(prefix):]
    return name


def owners_of_captures(func_graph, networks):
    """{placeholder op name in ``func_graph``: network} from ``networks`` {name: tf.Module}."""
    by_handle = {}
    for net, module in networks.items():
        if module is None:
            continue
        for var in module.variables:
            by_handle[id(var.handle)] = net
    owners = {}
    for external, internal in func_graph.captures:
        net = by_handle.get(id(external))
        if net is not None:
            owners[internal.op.name] = net
    return owners


def attribute(name, op, inputs, func_graph, owners):
    """The network of an executed kernel (from the function graph), or '?'."""
    if func_graph is None:
        return "?"
    candidates = []
    if kind_of(op) == "filter_grad":
        candidates.append(_strip(name))
    if len(inputs) > 1:
        candidates.append(_strip(inputs[1]))
    candidates.append(_strip(name))
    # a gradient kernel "gradient_tape/<forward op>/...": the forward op's filter
    parts = _strip(name).split("/")
    if len(parts) > 2 and parts[0] == "gradient_tape":
        candidates.append(parts[1])
    for cand in candidates:
        owner = _variable_owner(func_graph, cand, owners)
        if owner is not None:
            return owner
    return "?"


def count(step_stats, func_graph=None, networks=None):
    """Executed conv/matmul FLOPs: {'total', 'unknown', 'by_kind', 'by_network', 'kernels'}."""
    nodes, shapes = executed_kernels(step_stats)
    owners = owners_of_captures(func_graph, networks) if func_graph is not None and networks else {}
    total, unknown, kernels = 0, 0, []
    by_kind = {k: {"count": 0, "flops": 0} for k in KINDS}
    by_network = {}
    for name, op, inputs, outs in nodes:
        kind, flops, filt = kernel_flops(op, inputs, outs, shapes)
        if kind is None:
            continue
        if flops is None:
            unknown += 1
            flops = 0
        net = attribute(name, op, inputs, func_graph, owners) if owners else "?"
        total += flops
        by_kind[kind]["count"] += 1
        by_kind[kind]["flops"] += flops
        cell = by_network.setdefault(net, {k: {"count": 0, "flops": 0} for k in KINDS})
        cell[kind]["count"] += 1
        cell[kind]["flops"] += flops
        kernels.append({"name": name, "op": op, "kind": kind, "network": net, "flops": flops,
                        "filter": filt, "output": outs.get(0)})
    return {"total": total, "unknown": unknown, "by_kind": by_kind, "by_network": by_network,
            "kernels": kernels}


def traced_run(session, fetches, feed_dict=None):
    """Run ``fetches`` once with a full trace: (result, step_stats)."""
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    metadata = tf.compat.v1.RunMetadata()
    result = session.run(fetches, feed_dict=feed_dict, options=options, run_metadata=metadata)
    return result, metadata.step_stats


def function_graph(tf_function, *args):
    """The graph of ``tf_function``'s concrete function for ``args`` (for attribution)."""
    return tf_function.get_concrete_function(*args).graph


# -- peak and CPU ---------------------------------------------------------------------------
def matmul_peak(dtypes=("float32", "bfloat16"), size=4096, reps=5, device="/CPU:0"):
    """Median GFLOP/s of a size^3 ``tf.matmul`` per dtype, reps alternating between dtypes."""
    mats = {}
    with tf.device(device):
        rng = np.random.default_rng(0)
        for dtype in dtypes:
            a = tf.cast(tf.constant(rng.standard_normal((size, size), np.float32)), dtype)
            b = tf.cast(tf.constant(rng.standard_normal((size, size), np.float32)), dtype)
            mats[dtype] = (a, b)
            tf.matmul(a, b).numpy()   # warm-up (oneDNN primitive creation)
        times = {d: [] for d in dtypes}
        for _ in range(reps):
            for dtype in dtypes:
                a, b = mats[dtype]
                start = time.perf_counter()
                tf.matmul(a, b).numpy()
                times[dtype].append(time.perf_counter() - start)
    flops = 2.0 * size ** 3
    return {d: flops / float(np.median(t)) / 1e9 for d, t in times.items()}


def cpu_flags(path="/proc/cpuinfo"):
    """The flags that decide bf16 speed on x86: {flag: bool} plus the model name."""
    out = {"avx512_bf16": False, "amx_bf16": False, "amx_tile": False, "avx512f": False,
           "model_name": None}
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "flags":
            flags = set(value.split())
            for flag in ("avx512_bf16", "amx_bf16", "amx_tile", "avx512f"):
                out[flag] = flag in flags
            break
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if match:
        out["model_name"] = match.group(1).strip()
    return out
