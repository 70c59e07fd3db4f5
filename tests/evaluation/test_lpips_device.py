"""``--device`` of ``python3 -m metrics --lpips torch``: only cpu / cuda[:N] with that GPU, one
error line before any work otherwise (torch itself accepts 'meta' and fails later with a
traceback); with another --lpips the flag is ignored with a notice."""
import os

import pytest

from LPIPSmodels.adapter import check_device, import_torch_stack
from test_metrics_errors import _argv, _fails, pair  # noqa: F401 (fixture)

try:
    torch = import_torch_stack()[0]
except ImportError as err:
    pytest.skip(f"needs torch, torchvision and lpips ({err})", allow_module_level=True)


@pytest.mark.parametrize("device", ["bogus", "meta", "mps", "cuda:x", "", "cpu,cuda", " cpu"])
def test_a_device_lpips_cannot_run_on_is_refused(device):
    from lib.errors import UserError
    with pytest.raises(UserError, match="is not a device for LPIPS: give 'cpu', 'cuda' or"):
        check_device(torch, device)


def test_cuda_is_refused_when_torch_sees_no_gpu(monkeypatch):
    from lib.errors import UserError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0"):
        with pytest.raises(UserError, match=f"--device {device}: PyTorch sees no CUDA GPU"):
            check_device(torch, device)
    assert check_device(torch, "cpu") == torch.device("cpu")


def test_a_gpu_index_beyond_the_visible_gpus_is_refused(monkeypatch):
    from lib.errors import UserError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError, match=r"sees 1 CUDA GPU \(cuda:0 to cuda:0\)"):
        check_device(torch, "cuda:1")
    assert check_device(torch, "cuda:0") == torch.device("cuda:0")


def test_the_cli_refuses_a_bad_device_before_any_work(pair, capsys):
    root, out, gt = pair
    for device in ("meta", "bogus"):
        argv = [a if a != "off" else "torch" for a in _argv(root, out, gt, "--device", device)]
        err = _fails(argv, capsys)
        assert f"--device '{device}' is not a device for LPIPS" in err
        assert not os.path.exists(os.path.join(root, "log"))


def test_device_without_lpips_torch_is_ignored_with_a_notice(pair, capsys):
    from lib.errors import run_cli
    from metrics.__main__ import main
    root, out, gt = pair
    run_cli(main, _argv(root, out, gt, "--device", "cuda"))
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == ("note: --device cuda is ignored: it picks the torch device "
                                       "of --lpips torch, and this run uses --lpips off")
