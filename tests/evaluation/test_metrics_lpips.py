"""LPIPS and tLP of LPIPSmodels/ (TensorFlow and the torch adapter) against the lpips package.

Two sets of weights: the shipped AlexNet (what a fresh clone uses), and a torchvision-format
backbone file with random weights (fixed seed) written into a temporary TORCH_HOME, where both
torchvision (for lpips' own model) and our search look for it: that proves the search order and
that both implementations compute the package's function, not just the same numbers on one set
of weights. The classifier tensors, unused by LPIPS, are broadcast zeros to keep the file small.
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from LPIPSmodels.adapter import import_torch_stack

try:   # through the adapter: safe even when TensorFlow was imported first (see its docstring)
    torch, torchvision, lpips = import_torch_stack()
except ImportError as err:
    pytest.skip(f"needs torch, torchvision and lpips ({err})", allow_module_level=True)


def _write_sequence(folder, frames):
    os.makedirs(folder, exist_ok=True)
    for t, rgb in enumerate(frames):
        cv2.imwrite(os.path.join(folder, f"{t + 1:04d}.png"), np.ascontiguousarray(rgb[:, :, ::-1]))
    return folder


def _scene(seed, n=7, size=(96, 128), noise=0):
    """A moving smooth random texture; with noise, a perturbed copy (a fake 'result')."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (size[0] + 40, size[1] + 40, 3)), (0, 0), 2.0)
    frames = []
    for t in range(n):
        frame = base[2 * t % 20:2 * t % 20 + size[0], t:t + size[1]]
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    if noise:
        frames = [np.clip(f.astype(int) + rng.integers(-noise, noise + 1, f.shape), 0, 255)
                  .astype(np.uint8) for f in frames]
    return frames


@pytest.fixture(scope="module")
def random_backbone(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch_home")
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(1234)
    state = torchvision.models.alexnet(weights=None).state_dict()
    state = {k: v if k.startswith("features.") else torch.zeros((), dtype=v.dtype).expand(v.shape)
             for k, v in state.items()}
    path = folder / "alexnet-owt-7be5be79.pth"
    torch.save(state, str(path))
    return str(torch_home), str(path)


@pytest.fixture
def with_backbone(random_backbone, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", random_backbone[0])
    return random_backbone[1]


def _ref_model():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lpips.LPIPS(net="alex", version="0.1", verbose=False)   # loads from TORCH_HOME


@pytest.mark.parametrize("mode, tolerance", [("torch", 1e-6), ("tf", 1e-5)])
def test_user_backbone_is_found_first_and_both_paths_equal_lpips(with_backbone, mode, tolerance):
    from LPIPSmodels import find_alexnet_weights, load_lpips

    assert find_alexnet_weights() == with_backbone
    ours, message = load_lpips(mode, device="cpu")
    assert ours is not None and with_backbone in message
    ref = _ref_model()
    a, b = _scene(1)[0], _scene(1, noise=25)[0]
    with torch.no_grad():
        expected = ref(lpips.im2tensor(a), lpips.im2tensor(b)).item()
    assert expected > 0
    assert float(ours.distance(a, b)) == pytest.approx(expected, rel=tolerance, abs=1e-9)


def test_tf_and_torch_agree_on_real_vid4_frames_with_shipped_weights(tmp_path, monkeypatch):
    """The default metric (TF) and the lpips package on the shipped weights: 1e-5 on Vid4."""
    from conftest import shared_path
    from LPIPSmodels import load_lpips
    from metrics.image_metrics import crop_8x8
    from lib.ops.resize import bicubic_four

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    gt_dir = shared_path("data", "Vid4", "GT", "walk")
    lr_dir = shared_path("data", "Vid4", "LR", "walk")
    tf_metric, tf_msg = load_lpips("tf")
    torch_metric, torch_msg = load_lpips("torch", device="cpu")
    assert "alex_lpips_v0.1.npz" in tf_msg and "alex_lpips_v0.1.npz" in torch_msg
    names = sorted(os.listdir(gt_dir))[10:13]
    values = []
    for name in names:
        gt = cv2.imread(os.path.join(gt_dir, name))[:, :, ::-1]
        lr = cv2.imread(os.path.join(lr_dir, name))[:, :, ::-1]
        up = np.asarray(bicubic_four(lr[np.newaxis].astype(np.float32) / 255.0))[0]
        up = np.clip(up * 255, 0, 255).astype(np.uint8)
        a, b = crop_8x8(gt)[0], crop_8x8(up)[0]
        ours, ref = tf_metric.distance(a, b), torch_metric.distance(a, b)
        assert ours == pytest.approx(ref, abs=1e-5), name
        values.append(ref)
    assert min(values) > 0.05                      # a real distance, not a trivial zero


def test_evaluation_lpips_and_tlp_equal_lpips_package(with_backbone, tmp_path):
    from metrics.evaluate import evaluate
    from metrics.image_metrics import crop_8x8

    targets, outputs = _scene(2), _scene(2, noise=30)
    tdir = _write_sequence(str(tmp_path / "gt" / "scene"), targets)
    odir = _write_sequence(str(tmp_path / "out" / "scene"), outputs)
    ev = evaluate([odir], [tdir], str(tmp_path / "log"), lpips="torch", device="cpu",
                  progress=False)
    assert ev.lpips_computed
    res = dict(ev.groups)["results"][0]
    assert res.frames == [2, 3, 4]

    ref = _ref_model()

    def dist(x, y):
        with torch.no_grad():
            return ref(lpips.im2tensor(crop_8x8(x)[0]), lpips.im2tensor(crop_8x8(y)[0])).item()

    for j, i in enumerate(res.frames):
        assert res.values["LPIPS"][j] == pytest.approx(dist(targets[i], outputs[i]), rel=1e-6)
        if j:
            tlp = abs(dist(targets[i - 1], targets[i]) - dist(outputs[i - 1], outputs[i])) * 100
            assert res.values["tLP100"][j - 1] == pytest.approx(tlp, rel=1e-5, abs=1e-7)
    csv = open(str(tmp_path / "log" / "metrics.csv")).read().splitlines()
    assert csv[1].split(",")[3] != ""                       # LPIPS_00 of frame 2 written


def test_fresh_clone_uses_the_shipped_weights_and_off_leaves_lpips_empty(tmp_path, monkeypatch,
                                                                         capsys):
    import LPIPSmodels.weights as weights
    from metrics.__main__ import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.setattr(weights, "LPIPSMODELS_DIR", str(tmp_path / "empty_lpipsmodels"))
    tdir = _write_sequence(str(tmp_path / "gt" / "s"), _scene(3, n=6))
    odir = _write_sequence(str(tmp_path / "out" / "s"), _scene(3, n=6, noise=10))
    ev = main(["--output", str(tmp_path / "log"), "--results", odir, "--targets", tdir,
               "--no_progress"])
    printed = capsys.readouterr().out
    assert "alex_lpips_v0.1.npz" in printed and "n/a" not in printed
    assert ev.lpips_computed
    res = dict(ev.groups)["results"][0]
    assert not np.isnan(res.values["LPIPS"]).any() and not np.isnan(res.values["tLP100"]).any()

    out = str(tmp_path / "log_off")
    ev = main(["--output", out, "--results", odir, "--targets", tdir, "--no_progress",
               "--lpips", "off"])
    printed = capsys.readouterr().out
    notices = [line for line in printed.splitlines() if line.startswith("LPIPS and tLP100 not")]
    assert len(notices) == 1 and "--lpips off" in notices[0]        # one clear line
    assert not ev.lpips_computed
    res = dict(ev.groups)["results"][0]
    assert np.isnan(res.values["LPIPS"]).all() and np.isnan(res.values["tLP100"]).all()
    assert not np.isnan(res.values["PSNR"]).any() and not np.isnan(res.values["tOF"]).any()
    lines = open(os.path.join(out, "metrics.csv")).read().splitlines()
    header = lines[0].split(",")
    for line in lines[1:3]:
        row = dict(zip(header, line.split(",")))
        assert row["LPIPS_00"] == "" and row["tLP100_00"] == "" and row["PSNR_00"] != ""
    tidy = open(os.path.join(out, "metrics_per_frame.csv")).read().splitlines()
    assert all(line.split(",")[6] == "" for line in tidy[1:])      # LPIPS column empty
    assert "n/a" in printed                                         # summary table
    assert notices[0] in open(os.path.join(out, "metricsfile.txt")).read()


def test_lpips_after_tensorflow_in_the_same_process(with_backbone, tmp_path):
    """TensorFlow first, then torch: the adapter avoids the known segfault; equal values."""
    from conftest import REPO_ROOT

    a, b = _scene(4)[0], _scene(4, noise=20)[0]
    np.save(str(tmp_path / "a.npy"), a)
    np.save(str(tmp_path / "b.npy"), b)
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        "tf.constant(1.0).numpy()\n"
        "from LPIPSmodels import load_lpips\n"
        "m, _ = load_lpips('torch', device='cpu')\n"
        f"print('VALUE', float(m.distance(np.load({str(tmp_path / 'a.npy')!r}), "
        f"np.load({str(tmp_path / 'b.npy')!r}))))\n")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    value = float(proc.stdout.split("VALUE")[1])
    with torch.no_grad():
        expected = _ref_model()(lpips.im2tensor(a), lpips.im2tensor(b)).item()
    assert value == pytest.approx(expected, rel=1e-6)


def test_backbone_search_order_and_names(tmp_path, monkeypatch):
    import LPIPSmodels.weights as adapter

    home, local = tmp_path / "home", tmp_path / "lpipsmodels"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    local.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(adapter, "LPIPSMODELS_DIR", str(local))
    assert adapter.find_alexnet_weights() is None
    (local / "alexnet-owt-4df8aa71.pth").write_bytes(b"x")          # the original's file name
    assert adapter.find_alexnet_weights() == str(local / "alexnet-owt-4df8aa71.pth")
    (home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth").write_bytes(b"x")
    assert adapter.find_alexnet_weights() == str(home / "hub" / "checkpoints" /
                                                 "alexnet-owt-7be5be79.pth")


def test_corrupt_backbone_file_is_a_clear_error(tmp_path, monkeypatch):
    from LPIPSmodels import load_lpips
    from lib.errors import UserError

    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "alexnet-owt-7be5be79.pth").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserError, match="alexnet-owt-7be5be79.pth.*download.pytorch.org"):
        load_lpips("auto", device="cpu")
