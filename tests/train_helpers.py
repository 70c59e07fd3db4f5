"""Helpers for the training tests: the tf1-training fixture and tiny training scenes."""
import hashlib
import json
import os

import numpy as np

from conftest import shared_path

FIXTURE = ("fixtures", "tf1-training")


def fixture_root():
    return shared_path(*FIXTURE)


def fixture_losses():
    with open(os.path.join(fixture_root(), "losses.json")) as handle:
        return json.load(handle)


def fixture_manifest():
    with open(os.path.join(fixture_root(), "manifest.json")) as handle:
        return json.load(handle)


def fixture_config(variant):
    """TrainConfig of a fixture variant, from the flags the original graph ran with."""
    from lib.flags import config_from_flags
    from lib.train.config import TrainConfig

    class _Flags:
        pass

    flags = _Flags()
    for key, value in fixture_losses()[variant]["flags"].items():
        setattr(flags, key, value)
    return config_from_flags(TrainConfig, flags)


def fixture_vgg_weights(check=True):
    """The fixture's VGG19 rule: RandomState(19), per layer weights then biases (float64 -> f32)."""
    from lib.models.vgg19 import layer_names
    rs = np.random.RandomState(19)
    out = {}
    for name, cin, cout in layer_names():
        limit = np.sqrt(6.0 / (3 * 3 * cin))
        out[f"vgg_19/{name}/weights"] = rs.uniform(-limit, limit, size=(3, 3, cin, cout)).astype(
            np.float32)
        out[f"vgg_19/{name}/biases"] = rs.uniform(-0.05, 0.05, size=(cout,)).astype(np.float32)
    if check:
        sums = fixture_manifest()["weights"]["vgg_19_procedure"]["checksums"]
        for key, info in sums.items():
            digest = hashlib.sha256(out[key].astype("<f4").tobytes()).hexdigest()
            assert digest == info["sha256_f32_le"], key
    return out


def load_fixture_weights(model):
    """Fixture checkpoint into G, FNet, D (all 120 tensors) and the VGG rule into VGG19."""
    from lib.models.checkpoint import load_official
    prefix = os.path.join(fixture_root(), "model", "TecoGAN-train-random")
    load_official(model.official_variables(), prefix)
    if model.vgg is not None:
        for name, value in fixture_vgg_weights().items():
            model.vgg.official_variables()[name].assign(value)


def fixture_batch():
    root = fixture_root()
    return (np.load(os.path.join(root, "batch_s_inputs.npy")),
            np.load(os.path.join(root, "batch_s_targets.npy")))


def make_scenes(out_dir, video, count=2, frames=6, size=(176, 176), start=2000, step=3,
                prefix="scene"):
    """Training scenes ``<out>/<prefix>_%04d/col_high_%04d.png`` cut from a shared video."""
    import cv2
    import imageio_ffmpeg
    path = shared_path("data", "videos", video)
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    width, height = meta["size"]
    needed = count * frames * step
    decoded = []
    for raw in reader:
        decoded.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
        if len(decoded) >= needed:
            break
    reader.close()
    for s in range(count):
        scene = os.path.join(out_dir, f"{prefix}_{start + s:04d}")
        os.makedirs(scene, exist_ok=True)
        for f in range(frames):
            image = decoded[(s * frames + f) * step % len(decoded)]
            # a centre crop resized so that motion stays visible at this small size
            side = min(height, width)
            y0, x0 = (height - side) // 2, (width - side) // 2
            crop = cv2.resize(image[y0:y0 + side, x0:x0 + side], size, interpolation=cv2.INTER_AREA)
            cv2.imwrite(os.path.join(scene, f"col_high_{f:04d}.png"), crop[:, :, ::-1])
    return out_dir


def train_flags(**overrides):
    """A namespace with every main.py flag at its default, then ``overrides`` (no absl parsing)."""
    from types import SimpleNamespace

    from absl import flags

    import lib.flags  # noqa: F401
    values = {name: flags.FLAGS[name].default for name in flags.FLAGS
              if name in _teco_flag_names()}
    values.update(overrides)
    return SimpleNamespace(**values)


def _teco_flag_names():
    from absl import flags

    import lib.flags as module
    return {f.name for f in flags.FLAGS.get_flags_for_module(module)}


def train_configs(values):
    """(TrainConfig, DataConfig, RunConfig) from a flag namespace, as main.py builds them."""
    from lib.flags import config_from_flags
    from lib.train.config import DataConfig, RunConfig, TrainConfig
    return tuple(config_from_flags(c, values) for c in (TrainConfig, DataConfig, RunConfig))


def tiny_configs(data_dir, output_dir, **overrides):
    """The training configs (TrainConfig, DataConfig, RunConfig) of tiny runs on the test scenes
    (HR crop 40, LR 8x8): ``train(*tiny_configs(...))``."""
    base = dict(mode="train", output_dir=output_dir, summary_dir=None, input_video_dir=data_dir,
                str_dir=2000, end_dir=2001, end_dir_val=2002, max_frm=5, RNN_N=3, crop_size=8,
                batch_size=2, num_resblock=1, ratio=-0.01, learning_rate=5e-4, decay_rate=1.0,
                stair=True, max_iter=4, display_freq=2, summary_freq=1000, save_freq=1000,
                test_inference=False, gif_summaries=False, queue_thread=2, keep_checkpoints=5)
    base.update(overrides)
    return train_configs(train_flags(**base))


def straight_and_resumed(data_dir, root, stop_at, **settings):
    """Tiny deterministic runs for resume tests: ``root/straight`` to ``max_iter`` in one go, and
    ``root/split`` stopped after ``stop_at`` steps and resumed to ``max_iter``. Returns the resumed
    run's log lines."""
    from tensorflow.python.framework import config as tf_config

    from lib.train.trainer import train
    settings = dict(settings, deterministic=True)
    try:
        train(*tiny_configs(data_dir, os.path.join(root, "straight"), **settings),
              log=lambda *a: None)
        train(*tiny_configs(data_dir, os.path.join(root, "split"),
                            **dict(settings, max_iter=stop_at)), log=lambda *a: None)
        messages = []
        train(*tiny_configs(data_dir, os.path.join(root, "split"), **settings),
              log=messages.append)
    finally:
        tf_config.disable_op_determinism()
    return messages
