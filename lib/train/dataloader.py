"""The training data pipeline (``frvsr_gpu_data_loader`` of the original) with ``tf.data``.

Layout, as the original: ``<input_video_dir>/<input_video_pre>_%04d/col_high_%04d.png``, scenes
``str_dir`` .. ``end_dir`` for training and ``end_dir + 1`` .. ``end_dir_val`` for validation. A
scene is used only if it holds ``col_high_<max_frm>.png``; every start 0 .. max_frm - RNN_N gives
one sequence of ``RNN_N`` consecutive frames (110 per 120-frame scene).

Per sequence, with the original's probabilities (``loadHR``, reference 6.2):

* moving first frame (``--movingFirstFrame``): with probability 0.3 every frame is replaced by a
  crop of frame 0 that moves by floor(U[-3.5, 4.5)) HR pixels per frame in x and y (a synthetic
  camera pan over a still image);
* one random crop of ``crop_size * 4 + 8`` = 136 HR pixels (the same for all frames);
* one left-right flip with probability 0.5 (``--flip``).

Then the original's "GPU half" (:func:`prepare_batch`): LR = 9x9 Gaussian (sigma
1.5) stride-4 VALID conv of the 136 crop -> 32x32 in [0, 1]; target = the central 128x128 in
[-1, 1].

What differs, deliberately: the original's only shuffling was a 1024-sequence shuffle queue over a
cycling list; here each epoch is a full permutation of all sequences. Everything random is a
stateless function of (``--rand_seed``, sample index), so the stream is identical on every run
and a resumed run continues exactly where the checkpoint was taken (the position is the number of
samples consumed). Decoding runs in parallel (``--queue_thread`` calls) with order preserved.
"""
import os
import re

import numpy as np
import tensorflow as tf

from lib.errors import UserError
from lib.io.frame_io import png_header
from lib.models.networks import preprocess
from lib.ops.degradation import BORDER, gauss_down_by4
from lib.train.data_folder import frame_name, resolve_data_dir, scene_dir

MOVING_PROBABILITY_THRESHOLD = 0.7   # moving when U[0, 1) >= 0.7, i.e. probability 0.3
MOVING_OFFSET_RANGE = (-3.5, 4.5)    # floor(U) -> {-4 .. 4}, +-4 with probability 1/16
VALIDATION_SEED_OFFSET = 7919


def min_frame_side(crop_size, rnn_n, moving):
    """Smallest frame side the augmentation can crop from (moving shrinks by up to 4 px/frame)."""
    side = crop_size * 4 + 8
    return side + (4 * (rnn_n - 1) if moving else 0)


def find_scenes(root, prefix, first, last, max_frm, log=print):
    """Scene folders first .. last (inclusive) that hold ``col_high_<max_frm>.png``, with sizes.

    Returns a list of (folder, width, height). Incomplete or missing scenes are reported (as the
    original did) and skipped.
    """
    found, skipped = [], []
    for index in range(first, last + 1):
        folder = scene_dir(root, prefix, index)
        if not os.path.isdir(folder):
            skipped.append((folder, "missing"))
            continue
        if not os.path.isfile(os.path.join(folder, frame_name(max_frm))):
            have = len([n for n in os.listdir(folder) if n.startswith("col_high_")])
            skipped.append((folder, f"{have} frames, needs {frame_name(max_frm)}"))
            log(f"Skip {folder}: it does not hold {max_frm + 1} frames ({frame_name(max_frm)} "
                "missing)")
            continue
        width, height = check_scene_frames(folder, max_frm)
        found.append((folder, width, height))
    return found, skipped


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"    # the IEND chunk every complete PNG ends with


def check_frame_file(path):
    """(width, height) of a training frame, checked cheaply: present, a PNG header, and the
    IEND chunk at the end (a file cut short, e.g. by a full disk, lacks it). Damage inside the
    image data is only found by decoding; the training loop then names the file."""
    width, height, _, _ = png_header(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(-len(PNG_END), os.SEEK_END)
            tail = handle.read()
    except OSError as err:
        raise UserError(f"training frame '{path}' cannot be read: {err.strerror}") from None
    if tail != PNG_END:
        raise UserError(f"training frame '{path}' is truncated (no PNG end marker after "
                        f"{os.path.getsize(path):,} bytes); replace it or remove its scene")
    return width, height


def check_scene_frames(folder, max_frm):
    """Every frame 0..max_frm of a scene exists, passes :func:`check_frame_file` and has the
    size of frame 0 (a sequence is stacked into one tensor). Returns (width, height)."""
    size = None
    for index in range(max_frm + 1):
        path = os.path.join(folder, frame_name(index))
        if not os.path.isfile(path):
            raise UserError(f"training frame '{path}' is missing (the scene holds "
                            f"{frame_name(max_frm)}, so it should have frames 0..{max_frm})")
        try:
            this = check_frame_file(path)
        except UserError as err:
            text = str(err)
            raise UserError(text if text.startswith("training frame") else
                            f"training data: {text}; replace the file or remove its scene") \
                from None
        if size is None:
            size = this
        elif this != size:
            raise UserError(f"training frame '{path}' is {this[0]}x{this[1]} but "
                            f"{frame_name(0)} of its scene is {size[0]}x{size[1]}; all frames of "
                            "a scene must have one size")
    return size


def undecodable_frames(scene_set, config, rand_seed, first, count):
    """[(path, reason)] for the frames of samples ``first`` .. ``first + count - 1`` that
    TensorFlow's PNG decoder rejects: which file broke a batch, found after the fact."""
    sampler = SequenceSampler(scene_set, config, rand_seed)
    bad, seen = [], set()
    for index in range(first, first + count):
        scene, start = scene_set.sequences[int(sampler.sequence_id(index).numpy())]
        for path in scene_set.paths[scene][start:start + config.RNN_N]:
            path = str(path)
            if path in seen:
                continue
            seen.add(path)
            try:
                tf.io.decode_png(tf.io.read_file(path), channels=3)
            except tf.errors.OpError as err:
                bad.append((path, op_error_text(err)))
    return bad


def op_error_text(err):
    """The readable part of a TensorFlow error: first line, without the function/op wrappers."""
    text = (getattr(err, "message", None) or str(err) or type(err).__name__).strip()
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text.splitlines()[0] if text else "")
    return re.sub(r"\s*\[Op:[^\]]*\].*$", "", text).strip()[:300] or type(err).__name__


class SceneSet:
    """Scenes and their sequences: a frame-path table and (scene, start) per sequence."""

    def __init__(self, scenes, max_frm, rnn_n):
        self.scenes = [s[0] for s in scenes]
        self.sizes = [(s[1], s[2]) for s in scenes]
        starts = max_frm - rnn_n + 1
        self.paths = np.array([[os.path.join(folder, frame_name(f)) for f in range(max_frm + 1)]
                               for folder in self.scenes])
        self.sequences = np.array([(s, t) for s in range(len(self.scenes)) for t in range(starts)],
                                  dtype=np.int64).reshape(-1, 2)

    def __len__(self):
        return len(self.sequences)


def load_scenes(data, config, validation=False, log=print):
    """The training (or validation) :class:`SceneSet` of a :class:`DataConfig` for the sequences
    of a :class:`TrainConfig` (``RNN_N``, ``crop_size``); UserError when unusable."""
    root = resolve_data_dir(data.input_video_dir)
    first, last = (data.end_dir + 1, data.end_dir_val) if validation else \
        (data.str_dir, data.end_dir)
    pattern = os.path.join(root, f"{data.input_video_pre}_%04d", "col_high_%04d.png")
    if data.max_frm - config.RNN_N + 1 < 1:
        raise UserError(f"--max_frm {data.max_frm} leaves no sequence of --RNN_N {config.RNN_N} "
                        f"frames (starts 0 .. max_frm - RNN_N); scenes need more frames")
    if last < first:
        if validation:
            return None
        raise UserError(f"--end_dir {data.end_dir} is before --str_dir {data.str_dir}")
    scenes, skipped = find_scenes(root, data.input_video_pre, first, last, data.max_frm,
                                  log=log if not validation else (lambda *_: None))
    if not scenes:
        if validation:
            log(f"no validation scenes ({first}..{last}) in '{root}': validation skipped")
            return None
        short = [f"{os.path.basename(f)} ({why})" for f, why in skipped if why != "missing"]
        detail = (f"; too short: {', '.join(short[:3])}" + (" ..." if len(short) > 3 else "")) \
            if short else ""
        raise UserError(f"no training scenes found: expected {pattern} for scenes {first}..{last} "
                        f"with frames 0..{data.max_frm} (--max_frm){detail}")
    need = min_frame_side(config.crop_size, config.RNN_N, data.movingFirstFrame)
    for folder, width, height in scenes:
        if min(width, height) < need:
            raise UserError(f"scene '{folder}' has {width}x{height} frames; --crop_size "
                            f"{config.crop_size} needs at least {need}x{need} (HR crop "
                            f"{config.crop_size * 4 + 8}"
                            + (", plus the moving-first-frame margin)" if data.movingFirstFrame
                               else ")"))
    return SceneSet(scenes, data.max_frm, config.RNN_N)


def _decode(path):
    image = tf.io.decode_png(tf.io.read_file(path), channels=3)
    return tf.image.convert_image_dtype(image, tf.float32)


class SequenceSampler:
    """Maps a global sample index to an augmented HR sequence [RNN_N, S, S, 3] (S = 136)."""

    def __init__(self, scene_set, config, rand_seed, flip=True, moving=True):
        self.config = config
        self.rand_seed = int(rand_seed)
        self.flip, self.moving = bool(flip), bool(moving)
        self.paths = tf.constant(scene_set.paths)
        self.sequences = tf.constant(scene_set.sequences)
        self.count = len(scene_set)

    def _seed(self, index, tag):
        base = tf.stack([tf.constant(self.rand_seed, tf.int64), tf.cast(index, tf.int64)])
        return tf.random.experimental.stateless_fold_in(base, tag)

    def sequence_id(self, index):
        """Epoch-wise permutation: the position of sample ``index`` in its epoch's shuffle."""
        index = tf.cast(index, tf.int64)
        epoch, position = index // self.count, index % self.count
        seed = tf.stack([tf.constant(self.rand_seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(self.count, dtype=tf.int64),
                                                        seed=seed)
        return order[position]

    def decisions(self, index):
        """The random choices for sample ``index``: (moving, per-frame offsets [T, 2] (y, x),
        crop fractions [2] in [0, 1), flip), each a stateless function of (rand_seed, index)."""
        moving = tf.random.stateless_uniform([], self._seed(index, 0)) >= \
            MOVING_PROBABILITY_THRESHOLD
        moving = tf.logical_and(tf.constant(self.moving), moving)
        offsets = tf.cast(tf.floor(tf.random.stateless_uniform(
            [self.config.RNN_N, 2], self._seed(index, 1), *MOVING_OFFSET_RANGE)), tf.int32)
        crop = tf.random.stateless_uniform([2], self._seed(index, 2))
        flip = tf.logical_and(tf.constant(self.flip),
                              tf.random.stateless_uniform([], self._seed(index, 3)) < 0.5)
        return moving, offsets, crop, flip

    def __call__(self, index):
        rnn_n, size = self.config.RNN_N, self.config.hr_crop
        seq = self.sequences[self.sequence_id(index)]
        paths = self.paths[seq[0]][seq[1]:seq[1] + rnn_n]
        moving, offsets, crop, flip = self.decisions(index)

        def still():
            return tf.stack([_decode(paths[t]) for t in range(rnn_n)])

        def moving_frames():
            # Every frame is a crop of frame 0 (the original also replaced the names by frame 0's).
            first = _decode(paths[0])
            pos = tf.cumsum(offsets, axis=0, exclusive=True)
            low = tf.reduce_min(pos, axis=0)
            span = tf.reduce_max(pos, axis=0) - low
            corner = pos - low
            h, w = tf.shape(first)[0] - span[0], tf.shape(first)[1] - span[1]
            return tf.stack([first[corner[t, 0]:corner[t, 0] + h, corner[t, 1]:corner[t, 1] + w]
                             for t in range(rnn_n)])

        frames = tf.cond(moving, moving_frames, still) if self.moving else still()
        shape = tf.shape(frames)
        oy = tf.cast(tf.floor(crop[0] * tf.cast(shape[1] - size, tf.float32)), tf.int32)
        ox = tf.cast(tf.floor(crop[1] * tf.cast(shape[2] - size, tf.float32)), tf.int32)
        frames = frames[:, oy:oy + size, ox:ox + size, :]
        frames = tf.cond(flip, lambda: tf.reverse(frames, axis=[2]), lambda: frames)
        return tf.ensure_shape(frames, [rnn_n, size, size, 3])


def sample_indices(start, global_batch, pipeline_id=0, num_pipelines=1):
    """Global sample indices of one input pipeline, from global position ``start`` (a batch edge).

    Pipeline p of P takes positions [p * B / P, (p + 1) * B / P) of every global batch, so the
    per-replica batches of all pipelines put together are exactly the single-device batch.
    """
    share = global_batch // num_pipelines
    first_step = start // global_batch

    def to_global(local):
        step = local // share + first_step
        return step * global_batch + pipeline_id * share + local % share

    return tf.data.Dataset.range(0, 2 ** 62).map(to_global)


def prepare_batch(hr_crops, config):
    """The original's GPU half of the loader: [B, T, 136, 136, 3] in [0, 1] -> (LR, targets).

    LR = 9x9 Gaussian (sigma 1.5) stride-4 VALID conv, in [0, 1]; targets = central crop at
    offset 4, mapped to [-1, 1].
    """
    shape = tf.shape(hr_crops)
    b, t = shape[0], shape[1]
    size, c = config.hr_crop, config.crop_size
    flat = tf.reshape(hr_crops, [-1, size, size, 3])
    lr = tf.reshape(gauss_down_by4(flat), [b, t, c, c, 3])
    targets = preprocess(hr_crops[:, :, BORDER:BORDER + 4 * c, BORDER:BORDER + 4 * c, :])
    return lr, targets


def make_dataset(scene_set, config, rand_seed, start=0, batch_size=None, pipeline_id=0,
                 num_pipelines=1, flip=True, moving=True, threads=None):
    """Batches (LR [b, RNN_N, c, c, 3] in [0,1], targets [b, RNN_N, 4c, 4c, 3] in [-1,1])."""
    global_batch = config.batch_size
    batch_size = batch_size or global_batch // num_pipelines
    sampler = SequenceSampler(scene_set, config, rand_seed, flip=flip, moving=moving)

    def load(index):
        hr = sampler(index)
        lr, targets = prepare_batch(hr[None], config)
        return lr[0], targets[0]

    parallel = threads if threads and threads > 0 else tf.data.AUTOTUNE
    ds = sample_indices(start, global_batch, pipeline_id, num_pipelines)
    ds = ds.map(load, num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def distributed_dataset(strategy, scene_set, config, rand_seed, start=0, flip=True, moving=True,
                        threads=None):
    """``make_dataset`` split over the replicas of ``strategy`` (one pipeline per worker)."""
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise UserError(f"--batch_size {config.batch_size} must be a multiple of the "
                        f"{replicas} replicas")
    if replicas == 1:
        return make_dataset(scene_set, config, rand_seed, start, flip=flip, moving=moving,
                            threads=threads)

    def fn(ctx):
        return make_dataset(scene_set, config, rand_seed, start,
                            batch_size=ctx.get_per_replica_batch_size(config.batch_size),
                            pipeline_id=ctx.input_pipeline_id,
                            num_pipelines=ctx.num_input_pipelines, flip=flip, moving=moving,
                            threads=threads)

    return strategy.distribute_datasets_from_function(fn)
