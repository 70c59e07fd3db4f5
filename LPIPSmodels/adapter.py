"""LPIPS through the pip ``lpips`` package (PyTorch): the cross-check of the TensorFlow metric.

The default metric is :mod:`LPIPSmodels.lpips_tf` (no PyTorch). This path (``--lpips torch``)
builds the package's own ``lpips.LPIPS(net='alex', version='0.1')``, the network the original
vendored (``DistModel.initialize(model='net-lin', net='alex')``) with the wheel's v0.1 linear
layers, and loads into its trunk the same AlexNet weights as the TF metric
(:func:`LPIPSmodels.weights.load_alexnet_lpips`), so both are computed from one set of weights and
their values can be compared (tests: agreement to 1e-5 on Vid4 frames).

Inputs follow the original: RGB uint8 crops mapped to [-1, 1] by ``x / 127.5 - 1`` (float64, then
float32 NCHW, as ``util.im2tensor``), distance(target, output). Features of each frame are computed
once and reused for LPIPS and both tLP distances; the distance repeats ``lpips.LPIPS.forward``
operation for operation. CPU by default; CUDA when available.
"""
import re
import sys
import warnings

import numpy as np

from LPIPSmodels.weights import (ALEXNET_FILES, ALEXNET_URL, LPIPSMODELS_DIR,  # noqa: F401
                                 find_alexnet_weights, search_dirs, torch_hub_checkpoints_dir)


def import_torch_stack():
    """Import and return (torch, torchvision, lpips); ImportError when one is missing.

    Known crash: once TensorFlow is loaded, torch's optional import of ``triton`` (pulled in by
    torchvision through torch._dynamo) segfaults the process (both bundle LLVM). triton only serves
    ``torch.compile``, which LPIPS does not use, so in that case it is hidden from the importer.
    Importing torch first and TensorFlow afterwards is fine and untouched.
    """
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None
    import torch
    import torchvision
    import lpips
    return torch, torchvision, lpips


_DEVICE = re.compile(r"cpu|cuda(:[0-9]+)?")


def check_device(torch, device):
    """The ``torch.device`` for ``--device``; UserError for anything but 'cpu', 'cuda' or
    'cuda:N' with that GPU visible. torch itself accepts names it cannot run LPIPS on ('meta'
    makes empty tensors, 'mps'/'xpu' need their own builds) and fails on them only when the model
    is moved or run, with a traceback."""
    from lib.errors import UserError
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise UserError(f"--device '{device}' is not a device for LPIPS: give 'cpu', 'cuda' or "
                        "'cuda:N' (the N-th CUDA GPU)")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: PyTorch sees no CUDA GPU (no GPU, no CUDA build "
                            "of torch, or CUDA_VISIBLE_DEVICES hides it); use --device cpu")
        index, count = int(device.partition(":")[2] or 0), torch.cuda.device_count()
        if index >= count:
            raise UserError(f"--device {device}: PyTorch sees {count} CUDA GPU"
                            f"{'' if count == 1 else 's'} (cuda:0 to cuda:{count - 1})")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise UserError(f"--device {device}: {str(err).splitlines()[0]}") from None


class LpipsAlex:
    """LPIPS v0.1 AlexNet on RGB uint8 images; features can be cached per frame."""

    def __init__(self, weights, source="shipped", device=None):
        """``weights``: arrays from :func:`LPIPSmodels.weights.load_alexnet_lpips`."""
        torch, _, lpips = import_torch_stack()

        self.torch = torch
        self.lpips = lpips
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = check_device(torch, device)       # before any work
        self.source = source
        # pnet_rand=True: torchvision builds a random AlexNet and downloads nothing; the linear
        # layers (pretrained=True) are the package's own v0.1 weights.
        with warnings.catch_warnings():     # torchvision's "pretrained is deprecated" notes
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True,
                                verbose=False)
        trunk = {}
        for name in model.net.state_dict():                    # e.g. slice2.3.weight
            _, index, kind = name.split(".")
            trunk[name] = torch.from_numpy(np.asarray(weights[f"features.{index}.{kind}"]))
        model.net.load_state_dict(trunk, strict=True)
        try:
            self.model = model.eval().to(self.device)
        except RuntimeError as err:         # e.g. a GPU that is out of memory or unusable
            from lib.errors import UserError
            raise UserError(f"cannot run LPIPS on --device {device}: "
                            f"{str(err).strip().splitlines()[0]}") from None

    def describe(self):
        version = getattr(self.lpips, "__version__", None) or _package_version("lpips")
        return (f"LPIPS AlexNet v0.1 (PyTorch lpips {version}), weights: {self.source}, "
                f"device {self.device}")

    def to_tensor(self, rgb_uint8):
        """The original ``im2tensor``: x / 127.5 - 1 (float64), then float32 NCHW."""
        arr = np.asarray(rgb_uint8) / (255.0 / 2.0) - 1.0
        tensor = self.torch.Tensor(arr[:, :, :, np.newaxis].transpose((3, 2, 0, 1)))
        return tensor.to(self.device)

    def features(self, rgb_uint8):
        """Channel-normalised trunk features of one image (as inside ``LPIPS.forward``)."""
        with self.torch.no_grad():
            x = self.model.scaling_layer(self.to_tensor(rgb_uint8))
            outs = self.model.net.forward(x)
            return [self.lpips.normalize_tensor(outs[k]) for k in range(self.model.L)]

    def distance_features(self, feats0, feats1):
        """LPIPS between two images given their :meth:`features` (a float32 scalar)."""
        with self.torch.no_grad():
            val = 0
            for k in range(self.model.L):
                diff = (feats0[k] - feats1[k]) ** 2
                val += self.lpips.spatial_average(self.model.lins[k](diff), keepdim=True)
            return val.detach().cpu().numpy().flatten()[0]

    def distance(self, img0, img1):
        return self.distance_features(self.features(img0), self.features(img1))


def _package_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"
