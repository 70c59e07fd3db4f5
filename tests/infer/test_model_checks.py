"""Checks of the flags and the checkpoint before the work they would spoil: --video_crf before
TensorFlow, the checkpoint's block count before the model is built, weights that are not finite
floats, a SavedModel path TensorFlow could not load, --precision with export."""
import os

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from conftest import REPO_ROOT
from inference_helpers import inference_config, save_random_model, write_random_clip
from lib.errors import UserError
from lib.infer.config import ExportConfig
from lib.infer.prepare import check_export_config, prepare_inference

SHIPPED = os.path.join(REPO_ROOT, "model", "shipped", "TecoGAN_ours")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("model") / "model"))


def test_video_crf_is_checked_before_anything(tmp_path):
    clip = str(tmp_path / "clip")
    write_random_clip(clip, n=3)
    out = str(tmp_path / "out")
    with pytest.raises(UserError, match=r"--video_crf must be 0..51 .*not 99"):
        prepare_inference(inference_config(input_dir_LR=clip, output_dir=out, checkpoint=SHIPPED,
                                           num_resblock=10, output_ext="mp4", video_crf=99))
    prepare_inference(inference_config(input_dir_LR=clip, output_dir=out, checkpoint=SHIPPED,
                                       num_resblock=10, output_ext="png", video_crf=99))
    assert not os.path.exists(out)


def test_block_count_is_compared_before_the_model_is_built(model, monkeypatch):
    from lib.infer import driver
    built = []
    monkeypatch.setattr(driver, "Generator", lambda blocks: built.append(blocks))
    with pytest.raises(UserError, match=r"2 residual blocks, not --num_resblock 1000000; use "
                                        r"--num_resblock 2"):
        driver.build_models(1000000, model)
    assert built == []


def _altered(model, prefix, change):
    """A copy of ``model`` at ``prefix`` with ``change(name, array)`` applied to its tensors."""
    import tensorflow as tf
    from lib.models.checkpoint import save_official
    reader = tf.train.load_checkpoint(model)
    tensors = {name: change(name, reader.get_tensor(name))
               for name in reader.get_variable_to_shape_map()}
    save_official({n: tf.constant(v) for n, v in tensors.items()}, prefix)
    return prefix


def test_weights_that_are_not_finite_floats_are_refused(model, tmp_path):
    from lib.infer.driver import build_models
    target = "generator/generator_unit/resblock_2/conv_1/Conv/weights"

    def nan(name, value):
        if name == target:
            value = value.copy()
            value.flat[3] = np.nan
        return value
    diverged = _altered(model, str(tmp_path / "nan" / "model"), nan)
    with pytest.raises(UserError, match=rf"tensor '{target}' holds 1 non-finite value.*diverged"):
        build_models(2, diverged)
    ints = _altered(model, str(tmp_path / "int" / "model"),
                    lambda name, v: v.astype(np.int32) if name == target else v)
    with pytest.raises(UserError, match=rf"tensor '{target}' is int32, not a floating-point"):
        build_models(2, ints)
    wide = _altered(model, str(tmp_path / "f64" / "model"),       # float64: loads, as before
                    lambda name, v: v.astype(np.float64) if name == target else v)
    build_models(2, wide)


def test_savedmodel_path_with_pattern_characters(tmp_path):
    for name in ("e[x]", "a*", "q?"):
        with pytest.raises(UserError, match=r"--output_dir .* holds .*SavedModel's variables by "
                                            r"file pattern"):
            check_export_config(ExportConfig(checkpoint=SHIPPED, num_resblock=10,
                                             output_dir=str(tmp_path / name)))
    check_export_config(ExportConfig(checkpoint=SHIPPED, num_resblock=10, format="tflite",
                                     output_dir=str(tmp_path / "e[x]")))


def test_export_says_it_ignores_precision(tmp_path):
    status, stdout, stderr = run_cli([os.path.join(REPO_ROOT, "main.py"), "--mode", "export",
                                      "--precision", "bf16", "--checkpoint", SHIPPED,
                                      "--num_resblock", "3", "--output_dir",
                                      str(tmp_path / "e")], cwd=tmp_path)
    assert "note: --precision bf16 does not apply to --mode export" in stdout
    assert_one_error(status, stdout, stderr, "10 residual blocks, not --num_resblock 3")
    assert not (tmp_path / "e").exists()
