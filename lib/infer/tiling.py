"""Tiled generator: the generator on overlapping LR tiles, stitched at HR, equal to the untiled one.

Why it is exact. Every layer of the generator is local, so an HR pixel depends only on a small LR
neighbourhood; a tile computes its core correctly if its halo covers that neighbourhood, except
where the tile ends at the image border, where the tile sees the same zero padding (convolutions)
or clamping (bicubic) as the full frame. Worked out per layer, in LR pixels (rows; columns alike):

* input conv + 2 convs per residual block: ``1 + 2 * num_resblock`` 3x3 SAME convolutions, so the
  features are exact ``1 + 2 * num_resblock`` pixels inside a tile edge;
* ``conv_tran1`` (3x3, stride 2, SAME): TF pads the adjoint stride-2 convolution by 0 before and 1
  after, so HR2 row ``2m`` = taps on LR rows ``m - 1`` and ``m``, row ``2m + 1`` = LR row ``m``;
  ``conv_tran2`` does the same from HR2 to HR4, and the output conv reads HR4 rows +-1. The HR4
  rows ``[4 r0, 4 r1)`` of a core ``[r0, r1)`` read HR4 ``[4 r0 - 1, 4 r1 + 1)``, i.e. HR2
  ``[2 r0 - 1, 2 r1 + 1)`` (the even row 4 r1 also reads 2 r1 - 1, the padding's extra tap before),
  i.e. the features of LR rows ``[r0 - 1, r1 + 1)``: one LR row on each side;
* the bicubic skip reads LR rows ``i - 1 .. i + 2`` for HR row ``4 i + k``: 1 row above, 2 below.

Halo of the whole generator: ``(1 + 2 * num_resblock) + 1 = 2 * num_resblock + 2`` LR pixels (34 for
16 blocks), which also covers the bicubic. The HR part alone (``Generator.upsample`` on features of
the full frame) needs a halo of 1 LR pixel (:data:`UPSAMPLE_HALO`), 2 with the bicubic skip.

All tiles of a frame have the same window size, so one traced graph serves every tile: a window
that would cross the border is shifted inwards (its core keeps at least a halo on every side that
is not an image border). Tiles run one after the other in a ``tf.while_loop``, so only one tile's
activations are alive at a time and the graph does not grow with the number of tiles.
"""
import math
import os
import resource
import subprocess

import tensorflow as tf

UPSAMPLE_HALO = 2          # features -> HR (1) and the bicubic skip (2 below), in LR pixels
HR_CHANNELS = 64           # width of the generator's HR activations
BYTES = 4                  # float32


def generator_halo(num_resblock):
    """LR halo that makes the tiled generator equal to the untiled one (see the module doc)."""
    return 2 * int(num_resblock) + 2


def axis_windows(size, tile, halo):
    """Split ``[0, size)`` into cores of at most ``tile`` pixels with equal windows.

    Returns ``(windows, length)``: ``windows`` is a list of ``(core_start, core_end, window_start)``
    and every window is ``[window_start, window_start + length)``. One window (the whole axis)
    when ``tile <= 0`` or when a tile with its halos would cover the axis anyway.
    """
    size, tile, halo = int(size), int(tile), int(halo)
    if tile <= 0 or tile + 2 * halo >= size:
        return [(0, size, 0)], size
    count = math.ceil(size / tile)
    core = math.ceil(size / count)
    length = min(size, core + 2 * halo)
    windows = []
    for start in range(0, size, core):
        end = min(size, start + core)
        windows.append((start, end, min(max(start - halo, 0), size - length)))
    return windows, length


class TilePlan:
    """Where the tiles of an ``height x width`` LR frame lie (LR pixels)."""

    def __init__(self, height, width, tile, halo):
        self.height, self.width = int(height), int(width)
        self.tile, self.halo = int(tile), int(halo)
        self.rows, self.window_h = axis_windows(height, tile, halo)
        self.cols, self.window_w = axis_windows(width, tile, halo)

    @property
    def count(self):
        return len(self.rows) * len(self.cols)

    @property
    def trivial(self):
        return self.count == 1

    def overhead(self):
        """Computed LR area over the frame area (1.0 = no recomputation)."""
        return self.count * self.window_h * self.window_w / (self.height * self.width)

    def describe(self):
        if self.trivial:
            return "untiled"
        return (f"{len(self.rows)}x{len(self.cols)} tiles of {self.window_h}x{self.window_w} LR px "
                f"(core <= {self.tile}, halo {self.halo}, {self.overhead():.2f}x the frame's area)")


def costly_tile_warning(plan, limit=4.0):
    """A warning when a tile size the user gave recomputes more than ``limit`` times the frame's
    area (each tile carries its halo: ``--tile 1`` on 10 blocks computes 45x45 pixels for one),
    naming the smallest multiple of 16 that keeps it under 2x; None when the cost is fine."""
    if plan.trivial or plan.overhead() <= limit:
        return None
    suggest = 16
    while ((suggest + 2 * plan.halo) / suggest) ** 2 > 2:
        suggest += 16
    return (f"warning: --tile {plan.tile} computes {plan.overhead():.0f}x the frame's area (each "
            f"tile carries a {plan.halo}-pixel halo); --tile {suggest} or more keeps it under 2x, "
            "--tile 0 chooses the largest that fits in memory")


def run_tiled(fn, inputs, plan, scale=4):
    """Stitch ``fn`` (LR window [1, h, w, C] -> [1, scale h, scale w, c]) over ``plan``'s tiles.

    Inside a ``tf.function``: the tiles run one after the other in a ``tf.while_loop`` whose body
    holds ``fn`` once, so the graph does not grow with the number of tiles and only one tile's
    activations are alive at a time. Every iteration keeps a core-sized HR crop (the last core
    of an axis is widened backwards to that size; the overlap is exact in both tiles), and the
    crops are stitched at the end. ``inputs`` must have the static shape
    ``[1, plan.height, plan.width, C]``.
    """
    if plan.trivial:
        return fn(inputs)
    core_h, core_w = plan.rows[0][1] - plan.rows[0][0], plan.cols[0][1] - plan.cols[0][0]
    table = []
    for r0, _, wr in plan.rows:
        for c0, _, wc in plan.cols:
            cr, cc = min(r0, plan.height - core_h), min(c0, plan.width - core_w)
            table.append((wr, wc, scale * (cr - wr), scale * (cc - wc)))
    table = tf.constant(table, tf.int32)
    channels = inputs.shape[-1]

    def body(i, crops):
        wr, wc, cr, cc = tf.unstack(table[i])
        window = tf.slice(inputs, tf.stack([0, wr, wc, 0]),
                          [1, plan.window_h, plan.window_w, channels])
        out = fn(window)
        crop = tf.slice(out, tf.stack([0, cr, cc, 0]),
                        [1, scale * core_h, scale * core_w, out.shape[-1]])
        return i + 1, crops.write(i, crop)

    crops = tf.TensorArray(inputs.dtype, size=plan.count, infer_shape=False)
    _, crops = tf.while_loop(lambda i, _: i < plan.count, body, (tf.constant(0), crops),
                             parallel_iterations=1)
    rows_out = []
    for i, (r0, r1, _) in enumerate(plan.rows):
        pieces = []
        for j, (c0, c1, _) in enumerate(plan.cols):
            crop = crops.read(i * len(plan.cols) + j)
            top = scale * (r0 - min(r0, plan.height - core_h))
            left = scale * (c0 - min(c0, plan.width - core_w))
            pieces.append(crop[:, top:top + scale * (r1 - r0), left:left + scale * (c1 - c0)])
        rows_out.append(tf.concat(pieces, axis=2) if len(pieces) > 1 else pieces[0])
    return tf.concat(rows_out, axis=1) if len(rows_out) > 1 else rows_out[0]


# ------------------------------------------------------------------------------------------------
# Memory: estimates for the automatic tile size, and measurements.

def generator_bytes(height, width, fast=True):
    """Peak bytes of the untiled generator on an ``height x width`` LR window (an upper bound).

    Dominated by the 64-channel HR activations, counted in units of one 64 x 4h x 4w float
    tensor (measured peaks, CPU: 540x960 LR, 16 blocks: 1.5 units with the frame's state for the
    fast graph, 1.9 for the literal one): the fast graph holds at most the four 64-channel phase
    tensors (one unit), the literal graph the transposed conv's output and its ReLU (two units).
    The LR residual stack adds a few 64 x h x w tensors.
    """
    hr4 = HR_CHANNELS * 16 * height * width * BYTES
    return int((1.0 if fast else 2.0) * hr4 + 8 * HR_CHANNELS * height * width * BYTES)


def frame_state_bytes(height, width):
    """Per-frame tensors outside the generator: HR frames and flow, warp temporaries, queues."""
    hr_frame = 3 * 16 * height * width * BYTES
    return int(10 * hr_frame)


def available_memory_bytes():
    """MemAvailable from /proc/meminfo, limited by the cgroup's memory limit when there is one."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit():
            limit = int(text)
            if limit < 1 << 60:
                used = _cgroup_usage()
                free = max(0, limit - used) if used is not None else limit
                available = free if available is None else min(available, free)
    return available


def _cgroup_usage():
    for path in ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes"):
        try:
            with open(path) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            continue
    return None


def gpu_free_bytes():
    """Free memory of the first visible GPU (None on CPU or when TF cannot tell)."""
    try:
        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            return None
        info = tf.config.experimental.get_memory_info(gpus[0].name)
        total = _gpu_total_bytes()
        return None if total is None else max(0, total - info["current"])
    except (ValueError, RuntimeError, AttributeError):
        return None


def _gpu_total_bytes():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,"
                              "nounits", "-i", os.environ.get("CUDA_VISIBLE_DEVICES", "0")
                              .split(",")[0]], capture_output=True, text=True, timeout=10)
        return int(out.stdout.split()[0]) * 1024 * 1024
    except Exception:  # no nvidia-smi: no estimate
        return None


def choose_tile(height, width, num_resblock, budget_bytes=None, fast=True, fraction=0.5,
                max_budget=3 << 30):
    """Automatic tile size (LR pixels) for an ``height x width`` frame; 0 means untiled.

    The budget for the generator's activations is ``fraction`` of the free memory (the GPU's when
    TensorFlow runs on one, else the host's, less the per-frame state), at most ``max_budget``.
    Untiled when the whole frame fits; otherwise the largest tile (a multiple of 16) that fits.
    """
    if budget_bytes is None:
        free = gpu_free_bytes()
        if free is None:
            free = available_memory_bytes()
            if free is None:
                return 0
            free -= frame_state_bytes(height, width)
        budget_bytes = min(max_budget, fraction * free)
    if generator_bytes(height, width, fast) <= budget_bytes:
        return 0
    halo = generator_halo(num_resblock)
    tile = 16
    for candidate in range(16, max(height, width) + 16, 16):
        h, w = min(height, candidate + 2 * halo), min(width, candidate + 2 * halo)
        if generator_bytes(h, w, fast) > budget_bytes:
            break
        tile = candidate
    return tile


def peak_rss_bytes(children=False):
    """Peak resident set size of this process (or of its waited-for children), in bytes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss * 1024
