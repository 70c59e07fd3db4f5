"""benchmarks/bench_train.py: executed-FLOP counter against a hand count, and its JSON fields."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from lib.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import bench_train  # noqa: E402
import step_flops  # noqa: E402
from lib.ops.layers import Conv2D, Conv2DTranspose  # noqa: E402


def _conv(n, h, w, c_out, k, c_in):
    return 2 * n * h * w * c_out * k * k * c_in


def test_executed_conv_flops_equal_hand_count():
    """Forward + backward of conv(3->4) -> conv(4->5) -> transposed conv(5->6, stride 2).

    Executed kernels (runtime trace): 2 convs + 1 transposed conv forward; the filter gradient of
    all three; the data gradient of the transposed conv and of the second conv. The first conv's
    data gradient (into the constant input) is pruned, so it must not be counted.
    """
    n, h, w = 2, 8, 8
    graph = tf.Graph()
    with graph.as_default():
        x = tf.constant(np.random.default_rng(0).standard_normal((n, h, w, 3)), tf.float32)
        layers = [Conv2D(3, 4, scope="a"), Conv2D(4, 5, scope="b"),
                  Conv2DTranspose(5, 6, scope="t")]
        variables = [v for layer in layers for v in layer.trainable_variables]

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                y = x
                for layer in layers:
                    y = layer(y)
                loss = tf.reduce_sum(tf.square(y))
            return tape.gradient(loss, variables)

        fetches = step(x)
        func_graph = step_flops.function_graph(step, x)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        _, stats = step_flops.traced_run(session, fetches)
    counted = step_flops.count(stats, func_graph, {"net": layers[0], "b": layers[1],
                                                   "t": layers[2]})
    a_fwd = _conv(n, h, w, 4, 3, 3)                 # conv a
    b_fwd = _conv(n, h, w, 5, 3, 4)                 # conv b
    t_fwd = _conv(n, h, w, 5, 3, 6)                 # transposed conv: |x| * 9 * 6
    expected = {
        "forward": a_fwd + b_fwd + t_fwd,           # t's data gradient is a forward Conv2D
        "data_grad": t_fwd + b_fwd,                 # t's forward, b's data gradient (a's pruned)
        "filter_grad": a_fwd + b_fwd + t_fwd,
    }
    by_kind = {k: v["flops"] for k, v in counted["by_kind"].items()}
    assert counted["unknown"] == 0
    assert by_kind["forward"] == expected["forward"]
    assert by_kind["data_grad"] == expected["data_grad"]
    assert by_kind["filter_grad"] == expected["filter_grad"]
    assert counted["total"] == sum(expected.values()) == 400896
    assert counted["by_network"]["net"]["data_grad"]["count"] == 0
    assert counted["by_network"]["net"]["filter_grad"]["count"] == 1
    assert set(counted["by_network"]) == {"net", "b", "t"}


def test_cpu_flags_and_label_parsing(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Test CPU\nflags\t\t: fpu avx512f avx512_bf16\n")
    flags = step_flops.cpu_flags(str(cpuinfo))
    assert flags["avx512_bf16"] and not flags["amx_bf16"] and flags["model_name"] == "Test CPU"
    assert step_flops.parse_label("[mklcpu 2.5MB 2.5MB] a/Relu = _MklNativeFusedConv2D(a/x, "
                                  "a/w:1, ^a/c)") == ("a/Relu", "_MklNativeFusedConv2D",
                                                       ["a/x", "a/w:1"])
    assert step_flops.kind_of("_MklNativeConv2DBackpropFilterWithBias") == "filter_grad"
    assert step_flops.kind_of("_MklNativeConv2DBackpropInput") == "data_grad"
    assert step_flops.kind_of("_MklNativeFusedConv2D") == "forward"
    assert step_flops.kind_of("DepthwiseConv2dNative") is None


def test_bench_train_json_fields(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text("an earlier run")                    # replaced: --overwrite is given
    subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_train.py"),
                    "--configs", "tiny", "--models", "FRVSR", "--precision", "fp32,bf16",
                    "--steps", "1", "--device", "cpu", "--peak_size", "256", "--peak_reps", "1",
                    "--json", str(out), "--overwrite"], check=True, cwd=REPO, capture_output=True,
                   timeout=300)
    report = json.loads(out.read_text())
    assert set(report["cpu"]) >= {"avx512_bf16", "amx_bf16"}
    assert set(report["peak_gflop_per_s"]["/CPU:0"]["peak"]) == {"float32", "bfloat16"}
    assert [r["precision"] for r in report["results"]] == ["fp32", "bf16"]
    for r in report["results"]:
        for key in ("s_per_step", "executed_gflop_per_step", "fraction_of_peak",
                    "achieved_gflop_per_s", "executed_gflop_by_kind",
                    "executed_gflop_by_network", "speedup_over_fp32", "finite"):
            assert key in r
        assert r["finite"] and r["executed_kernels_unknown_shape"] == 0
        assert r["executed_gflop_per_step"] > 0
        assert set(r["executed_gflop_by_network"]) == {"generator", "fnet"}
    # the same executed work in both precisions
    fp32, bf16 = report["results"]
    assert fp32["executed_gflop_per_step"] == bf16["executed_gflop_per_step"]


def test_bench_train_unknown_config_is_refused_before_any_work():
    # a typo must not cost the minutes of peak measurement before a KeyError traceback
    for flag, value in (("--configs", "tiny,orignal"), ("--models", "TecoGAN,SRGAN")):
        done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_train.py"),
                               flag, value, "--peak_size", "4096", "--peak_reps", "50"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        bad = value.split(",")[1]
        assert f"unknown '{bad}'" in done.stderr and "Traceback" not in done.stderr
        assert "matmul peak" not in done.stdout


def test_bench_train_recipe_config_is_the_shipped_models_size():
    config = bench_train.config_for("TecoGAN", "recipe")
    assert (config.batch_size, config.RNN_N, config.crop_size, config.num_resblock) == (4, 5, 32, 10)
    assert config.pingpang and config.use_vgg


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps: must be at least 1, not 0"),       # was a NaN in the JSON
    (["--steps", "-3"], "--steps: must be at least 1, not -3"),
    (["--peak_reps", "0"], "--peak_reps: must be at least 1"),       # was a NaN peak
    (["--peak_size", "0"], "--peak_size: must be at least 1"),       # was a ZeroDivisionError
    (["--peak_size", "-5"], "--peak_size: must be at least 1"),
    (["--steps", "abc"], "--steps: expected a whole number"),
    (["--json", "{tmp}"], "--json '{tmp}' is a folder"),             # was lost results at the end
    (["--json", "{tmp}/no/such/x.json"], "the folder '{tmp}/no/such' does not exist"),
    (["--json", "{tmp}/old.json"], "exists already; nothing was written.*--overwrite"),
])
def test_bench_train_bad_values_are_refused_before_any_work(tmp_path, monkeypatch, args, message):
    (tmp_path / "old.json").write_text("the user's results")
    monkeypatch.setattr(step_flops, "matmul_peak", lambda *a, **k: pytest.fail("work started"))
    args = [a.format(tmp=tmp_path) for a in args]
    with pytest.raises(UserError, match=message.format(tmp=tmp_path)):
        bench_train.main(["--configs", "tiny", "--models", "FRVSR", "--device", "cpu",
                          "--peak_size", "64", "--peak_reps", "1", *args])
    assert (tmp_path / "old.json").read_text() == "the user's results"
