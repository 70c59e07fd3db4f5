"""The training data pipeline: scene layout, sequences, augmentation, determinism, bad input."""
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tensorflow as tf

from lib.train.data_folder import TRAIN_DATA_ENV, resolve_data_dir
from lib.train.dataloader import SequenceSampler, load_scenes, make_dataset
from lib.ops.degradation import gauss_down_by4
from lib.errors import UserError
from lib.flags import config_from_flags
from lib.train.config import DataConfig, TrainConfig

RNN_N, CROP = 3, 8          # HR crop 40, moving margin 8 -> frames of at least 48 px


def _configs(root, **kw):
    """(DataConfig, TrainConfig) of the test scenes: ``load_scenes(*_configs(root))``."""
    base = dict(input_video_dir=str(root), input_video_pre="scene", str_dir=2000, end_dir=2002,
                end_dir_val=2003, max_frm=5, RNN_N=RNN_N, crop_size=CROP, movingFirstFrame=True,
                flip=True)
    base.update(kw)
    values = SimpleNamespace(**base)
    return config_from_flags(DataConfig, values), config_from_flags(TrainConfig, values)


def _write_scene(root, index, frames, size=(52, 56), seed=0):
    rng = np.random.default_rng(seed + index)
    folder = os.path.join(root, f"scene_{index:04d}")
    os.makedirs(folder, exist_ok=True)
    images = []
    for f in range(frames):
        image = rng.integers(0, 256, size=(size[0], size[1], 3), dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, f"col_high_{f:04d}.png"), image[:, :, ::-1])
        images.append(image)
    return images


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    data = {i: _write_scene(str(root), i, 6) for i in (2000, 2001)}
    _write_scene(str(root), 2002, 4)            # too short for max_frm 5: skipped
    data[2003] = _write_scene(str(root), 2003, 6)  # validation
    return root, data


def test_scene_discovery_and_sequences(scenes):
    root, _ = scenes
    messages = []
    train = load_scenes(*_configs(root), log=messages.append)
    assert [os.path.basename(s) for s in train.scenes] == ["scene_2000", "scene_2001"]
    assert any("scene_2002" in m for m in messages)          # the short scene is reported
    # every start 0 .. max_frm - RNN_N: 3 per scene
    assert train.sequences.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    val = load_scenes(*_configs(root), validation=True)
    assert [os.path.basename(s) for s in val.scenes] == ["scene_2003"]


def test_no_scenes_or_too_short_scenes_are_clear_errors(scenes, tmp_path):
    root, _ = scenes
    with pytest.raises(UserError, match="no training scenes found"):
        load_scenes(*_configs(tmp_path))
    with pytest.raises(UserError, match="too short"):
        load_scenes(*_configs(root, max_frm=9))
    with pytest.raises(UserError, match="leaves no sequence"):
        load_scenes(*_configs(root, max_frm=2, RNN_N=3))
    with pytest.raises(UserError, match="needs at least"):
        load_scenes(*_configs(root, crop_size=16))


def test_data_dir_from_flag_or_environment(scenes, monkeypatch):
    root, _ = scenes
    monkeypatch.delenv(TRAIN_DATA_ENV, raising=False)
    with pytest.raises(UserError, match=TRAIN_DATA_ENV):
        resolve_data_dir("")
    monkeypatch.setenv(TRAIN_DATA_ENV, str(root))
    assert resolve_data_dir("") == str(root)
    with pytest.raises(UserError, match="does not exist"):
        resolve_data_dir(str(root) + "_missing")


def _config(batch=2):
    return TrainConfig(batch_size=batch, RNN_N=RNN_N, crop_size=CROP)


def test_augmentation_probabilities_and_offsets(scenes):
    root, _ = scenes
    sampler = SequenceSampler(load_scenes(*_configs(root)), _config(), rand_seed=1)
    decide = tf.function(lambda i: sampler.decisions(i))
    moving, flips, offsets = [], [], []
    for i in range(1200):
        m, o, c, f = decide(tf.constant(i, tf.int64))
        moving.append(bool(m))
        flips.append(bool(f))
        offsets.append(o.numpy())
        assert 0 <= float(c[0]) < 1 and 0 <= float(c[1]) < 1
    offsets = np.concatenate(offsets).ravel()
    assert abs(np.mean(moving) - 0.3) < 0.05
    assert abs(np.mean(flips) - 0.5) < 0.05
    assert offsets.min() == -4 and offsets.max() == 4
    assert abs(np.mean(np.abs(offsets) == 4) - 1 / 8) < 0.02     # +-4 each 1/16
    assert abs(np.mean(offsets == 0) - 1 / 8) < 0.02


def test_sample_matches_a_numpy_rederivation(scenes):
    """Moving first frame, one crop, one flip, the 9x9 stride-4 blur and the [-1,1] target."""
    root, data = scenes
    scene_set = load_scenes(*_configs(root))
    config = _config()
    sampler = SequenceSampler(scene_set, config, rand_seed=3)
    seen_moving = seen_still = False
    for index in range(40):
        index_t = tf.constant(index, tf.int64)
        hr = sampler(index_t).numpy()
        moving, offsets, crop, flip = [x.numpy() for x in sampler.decisions(index_t)]
        scene, start = scene_set.sequences[int(sampler.sequence_id(index_t))]
        frames = data[2000 + scene][start:start + RNN_N]
        if moving:
            pos = np.concatenate([[[0, 0]], np.cumsum(offsets, axis=0)[:-1]])
            corner, span = pos - pos.min(0), pos.max(0) - pos.min(0)
            h, w = frames[0].shape[0] - span[0], frames[0].shape[1] - span[1]
            frames = [frames[0][y:y + h, x:x + w] for y, x in corner]
        stack = np.stack(frames).astype(np.float32) / 255.0
        size = config.hr_crop
        oy = int(np.floor(crop[0] * np.float32(stack.shape[1] - size)))
        ox = int(np.floor(crop[1] * np.float32(stack.shape[2] - size)))
        expected = stack[:, oy:oy + size, ox:ox + size]
        if flip:
            expected = expected[:, :, ::-1]
        np.testing.assert_allclose(hr, expected, atol=1e-6, err_msg=f"sample {index}")
        seen_moving |= bool(moving)
        seen_still |= not moving
    assert seen_moving and seen_still

    lr, targets = next(iter(make_dataset(scene_set, config, rand_seed=3)))
    hr0 = sampler(tf.constant(0, tf.int64))
    np.testing.assert_allclose(lr[0].numpy(), gauss_down_by4(hr0).numpy(), atol=1e-6)
    np.testing.assert_array_equal(targets[0].numpy(), hr0[:, 4:-4, 4:-4].numpy() * 2.0 - 1.0)
    assert lr.shape == (2, RNN_N, CROP, CROP, 3) and targets.shape == (2, RNN_N, 32, 32, 3)


def _batches(dataset, count):
    return [(a.numpy(), b.numpy()) for (a, b), _ in zip(dataset, range(count))]


def test_stream_is_deterministic_resumable_and_splits_exactly(scenes):
    root, _ = scenes
    scene_set = load_scenes(*_configs(root))
    config = _config(batch=2)
    first = _batches(make_dataset(scene_set, config, rand_seed=5), 5)
    again = _batches(make_dataset(scene_set, config, rand_seed=5), 5)
    other = _batches(make_dataset(scene_set, config, rand_seed=6), 5)
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert any(not np.array_equal(a, c) for (a, _), (c, _) in zip(first, other))
    # resuming at sample 6 (= step 3) continues the same stream
    resumed = _batches(make_dataset(scene_set, config, rand_seed=5, start=6), 2)
    for (a, _), (c, _) in zip(first[3:], resumed):
        np.testing.assert_array_equal(a, c)
    # two input pipelines with per-replica batch 1 give exactly the single-device batches
    parts = [_batches(make_dataset(scene_set, config, rand_seed=5, batch_size=1, pipeline_id=p,
                                   num_pipelines=2), 3) for p in (0, 1)]
    for k in range(3):
        np.testing.assert_array_equal(np.concatenate([parts[0][k][0], parts[1][k][0]]),
                                      first[k][0])
    # every sequence appears once per epoch (6 sequences = 3 batches)
    sampler = SequenceSampler(scene_set, config, rand_seed=5)
    assert sorted(int(sampler.sequence_id(tf.constant(i, tf.int64))) for i in range(6)) == \
        list(range(6))
