"""Tiled generator = untiled generator (max |difference| <= 1e-5), tiles cutting through detail."""
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SHARED
from lib.infer import fastpath
from lib.models.checkpoint import load_official
from lib.io.frame_io import read_image_rgb8
from lib.models.networks import FNet, Generator
from lib.infer.recurrent import RecurrentUpscaler
from lib.infer.tiling import (TilePlan, axis_windows, choose_tile, generator_bytes, generator_halo,
                        run_tiled)

TOL = 1e-5
FIXTURE_CKPT = os.path.join(SHARED, "fixtures", "tf1-inference", "model", "TecoGAN-random")


def _models(num_resblock, seed=1):
    generator, fnet = Generator(num_resblock, seed=seed), FNet(seed=seed)
    if num_resblock == 16 and os.path.exists(FIXTURE_CKPT + ".index"):
        # the original graph's random weights (textured, realistic output range)
        load_official({**generator.official_variables(), **fnet.official_variables()},
                      FIXTURE_CKPT)
    else:
        generator.output_conv.kernel.assign(generator.output_conv.kernel * 0.1)
    return generator, fnet


def _detail_frame(height, width, seed=0):
    """LR frame and warped previous output: real calendar frames when ../shared is there."""
    lr_path = os.path.join(SHARED, "data", "Vid4", "LR", "calendar", "0001.png")
    hr_path = os.path.join(SHARED, "data", "Vid4", "GT", "calendar", "0002.png")
    if os.path.exists(lr_path) and os.path.exists(hr_path):
        lr = read_image_rgb8(lr_path)[:height, :width].astype(np.float32) / 255.0
        hr = read_image_rgb8(hr_path)[:4 * height, :4 * width].astype(np.float32) / 255.0
    else:   # sharp random texture: blocks of random colours
        rng = np.random.default_rng(seed)
        lr = np.kron(rng.random((height // 2 + 1, width // 2 + 1, 3)), np.ones((2, 2, 1)))
        lr = lr[:height, :width].astype(np.float32)
        hr = rng.random((4 * height, 4 * width, 3)).astype(np.float32)
    return tf.constant(lr[None]), tf.constant(hr[None])


@pytest.mark.parametrize("size,tile,halo", [(144, 60, 34), (144, 72, 34), (61, 8, 6), (61, 23, 6),
                                            (100, 99, 0), (40, 10, 15), (17, 5, 2)])
def test_windows_partition_the_axis_and_keep_the_halo(size, tile, halo):
    windows, length = axis_windows(size, tile, halo)
    assert windows[0][0] == 0 and windows[-1][1] == size
    for (c0, c1, w0), nxt in zip(windows, windows[1:] + [None]):
        assert 0 <= w0 <= c0 < c1 <= w0 + length <= size
        assert w0 == 0 or c0 - w0 >= halo
        assert w0 + length == size or w0 + length - c1 >= halo
        assert c1 - c0 <= max(tile, 1) or len(windows) == 1
        if nxt is not None:
            assert nxt[0] == c1


def test_tiled_16_block_generator_equals_untiled_on_calendar():
    generator, fnet = _models(16)
    lr, warped = _detail_frame(144, 180)
    whole = RecurrentUpscaler(generator, fnet, 144, 180, tile=-1)
    tiled = RecurrentUpscaler(generator, fnet, 144, 180, tile=72)
    assert whole.tiles.trivial and tiled.tiles.count == 6      # 2 rows x 3 columns of tiles
    assert tiled.tiles.halo == generator_halo(16) == 34
    # the seams run through detail: strong LR gradients along every cut
    lr_np = lr.numpy()[0].mean(-1)
    for r0, _, _ in tiled.tiles.rows[1:]:
        assert np.abs(lr_np[r0] - lr_np[r0 - 1]).mean() > 0.02
    for c0, _, _ in tiled.tiles.cols[1:]:
        assert np.abs(lr_np[:, c0] - lr_np[:, c0 - 1]).mean() > 0.02
    expected = tf.function(whole.generate)(lr, warped).numpy()
    got = tf.function(tiled.generate)(lr, warped).numpy()
    assert np.abs(expected).max() > 0.5
    assert np.abs(got - expected).max() <= TOL


@pytest.mark.parametrize("fast", [True, False])
def test_halo_is_exactly_the_receptive_field(fast):
    """With the derived halo the tiles are exact; one pixel less and the seams show."""
    generator, _ = _models(2)
    lr, warped = _detail_frame(61, 77)
    gen_input = tf.concat([lr, tf.nn.space_to_depth(warped[:, :244, :308], 4)], axis=-1)
    run = (lambda x: fastpath.generator_output(generator, x)) if fast else generator
    expected = run(gen_input).numpy()
    for tile in (8, 23):
        for halo in (generator_halo(2), generator_halo(2) - 1):
            plan = TilePlan(61, 77, tile, halo)
            got = tf.function(lambda x: run_tiled(run, x, plan))(gen_input).numpy()
            diff = np.abs(got - expected).max()
            if halo == generator_halo(2):
                assert diff <= TOL, (tile, diff)
            else:
                assert diff > 100 * TOL, (tile, diff)


def test_tiled_recurrence_equals_untiled():
    generator, fnet = _models(2, seed=4)
    height, width = 44, 60
    rng = np.random.default_rng(1)
    base = rng.random((height + 8, width + 8, 3)).astype(np.float32)
    frames = [tf.constant(np.roll(base, i, axis=1)[None, :height, :width]) for i in range(5)]
    outs = {}
    for tile in (-1, 12):
        up = RecurrentUpscaler(generator, fnet, height, width, tile=tile)
        prev = out = None
        seq = []
        for step, frame in enumerate(frames):
            out = up.first(frame) if step == 0 else up.next(prev, frame, out)
            prev = frame
            seq.append(out.numpy())
        outs[tile] = np.stack(seq)
    assert RecurrentUpscaler(generator, fnet, height, width, tile=12).tiles.count == 4 * 5
    assert np.abs(outs[12] - outs[-1]).max() <= TOL


def test_automatic_tile_fits_the_budget():
    assert choose_tile(144, 180, 16, budget_bytes=8 << 30) == 0       # calendar: untiled
    budget = 1 << 30
    tile = choose_tile(1080, 1920, 16, budget_bytes=budget)              # 1080p input
    assert 16 <= tile < 1080
    plan = TilePlan(1080, 1920, tile, generator_halo(16))
    assert generator_bytes(plan.window_h, plan.window_w) <= budget
    assert not plan.trivial
    assert choose_tile(1080, 1920, 16) >= 0                              # from free memory


def test_a_costly_tile_size_is_warned_with_one_that_is_not():
    """--tile 1 on 10 blocks computes 45x45 LR pixels per output pixel: a warning names a size
    whose recomputation stays under 2x; sizes near that get no warning."""
    from lib.infer.tiling import costly_tile_warning
    halo = generator_halo(10)
    warning = costly_tile_warning(TilePlan(144, 180, 1, halo))
    assert warning.startswith("warning: --tile 1 computes ") and "22-pixel halo" in warning
    suggested = int(warning.split("; --tile ")[1].split()[0])
    assert suggested % 16 == 0 and ((suggested + 2 * halo) / suggested) ** 2 <= 2
    assert ((suggested - 16 + 2 * halo) / (suggested - 16)) ** 2 > 2      # the smallest such
    assert costly_tile_warning(TilePlan(1080, 1920, suggested, halo)) is None
    assert costly_tile_warning(TilePlan(144, 180, 0, halo)) is None          # untiled
    assert costly_tile_warning(TilePlan(10, 10, 1, halo)) is None            # one tile covers it
