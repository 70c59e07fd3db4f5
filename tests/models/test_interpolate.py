"""``python3 -m lib.models.interpolate``: alpha * A + (1 - alpha) * B of every generator and FNet
tensor, the ends equal to the models, and bad input one error line with nothing overwritten."""
import os

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from inference_helpers import save_random_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("interpolate")
    return {name: save_random_model(str(root / name / "model"), num_resblock=blocks, seed=seed)
            for name, blocks, seed in (("a", 2, 3), ("b", 2, 5), ("three", 3, 7))}


def tensors(prefix):
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_weights_are_the_weighted_sum_and_the_ends_are_the_models(models, tmp_path):
    from lib.models.interpolate import interpolate_inference_weights
    a, b = tensors(models["a"]), tensors(models["b"])
    assert set(a) == set(b) and any(not np.array_equal(a[n], b[n]) for n in a)
    for alpha in (0.0, 0.25, 1.0):
        prefix, blocks = interpolate_inference_weights(models["a"], models["b"], alpha,
                                                       str(tmp_path / f"mix{alpha}" / "model"))
        mixed = tensors(prefix)
        assert blocks == 2 and set(mixed) == set(a)     # generator and FNet, nothing else
        for name in a:
            assert mixed[name].dtype == np.float32
            expected = (alpha * a[name].astype(np.float64)
                        + (1 - alpha) * b[name].astype(np.float64)).astype(np.float32)
            np.testing.assert_array_equal(mixed[name], expected, err_msg=name)
            if alpha in (0.0, 1.0):                     # the ends are the models, bit for bit
                np.testing.assert_array_equal(mixed[name], (a if alpha else b)[name])


def test_the_cli_writes_a_model_that_inference_loads(models, tmp_path):
    from lib.models.checkpoint import load_official
    from lib.models.networks import FNet, Generator
    out = str(tmp_path / "cli" / "model")
    status, stdout, stderr = run_cli(["-m", "lib.models.interpolate", "--checkpoint_a",
                                      models["a"], "--checkpoint_b", models["b"] + ".index",
                                      "--alpha", "0.5", "--output", out])
    assert status == 0, stderr[-2000:]
    assert "wrote" in stdout and "2 residual blocks" in stdout
    variables = {**Generator(2).official_variables(), **FNet().official_variables()}
    assert load_official(variables, out) == []          # every tensor inference restores


def test_bad_inputs_are_one_error_line_and_nothing_is_overwritten(models, tmp_path):
    def interpolate(a, b, alpha, out):
        return run_cli(["-m", "lib.models.interpolate", "--checkpoint_a", a, "--checkpoint_b", b,
                        "--alpha", alpha, "--output", out])
    out = str(tmp_path / "out" / "model")
    for alpha in ("1.5", "-0.1", "nan"):
        assert_one_error(*interpolate(models["a"], models["b"], alpha, out), "--alpha")
    assert_one_error(*interpolate(models["a"], models["three"], "0.5", out),
                     "2 residual blocks", "3 in")
    assert_one_error(*interpolate(models["a"], str(tmp_path / "absent"), "0.5", out),
                     "not found")
    (tmp_path / "a_file").write_text("not a folder")
    assert_one_error(*interpolate(models["a"], models["b"], "0.5",
                                  str(tmp_path / "a_file" / "model")), "--output")
    existing = models["b"]                      # the output would replace model B itself
    before = open(existing + ".index", "rb").read()
    assert_one_error(*interpolate(models["a"], models["b"], "0.5", existing), "exists")
    assert open(existing + ".index", "rb").read() == before
    assert not os.path.exists(out + ".index")
