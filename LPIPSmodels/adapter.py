"""LPIPS (AlexNet, v0.1, linear-calibrated) for the metrics, through the pip ``lpips`` package.

The original vendored richzhang/PerceptualSimilarity and called
``DistModel.initialize(model='net-lin', net='alex', use_gpu=True)``; the pip package's
``lpips.LPIPS(net='alex', version='0.1')`` is the same network and ships the same v0.1 linear
weights (``lpips/weights/v0.1/alex.pth``).

The AlexNet backbone is torchvision's ImageNet file. torchvision would download it on first use;
this machine may have no internet, so we never let it try: the model is built with a random trunk
(``pnet_rand=True``, no download) and the trunk's five convolutions are then loaded from the
weight file found by :func:`find_alexnet_weights`:

1. ``$TORCH_HOME/hub/checkpoints/`` (TORCH_HOME defaults to ``$XDG_CACHE_HOME/torch`` or
   ``~/.cache/torch``), where torchvision itself caches it;
2. this folder, ``LPIPSmodels/``.

Accepted names: ``alexnet-owt-7be5be79.pth`` (current torchvision) and ``alexnet-owt-4df8aa71.pth``
(the file the original downloaded). When none is found, :func:`load_lpips` returns ``None`` and a
one-line notice saying which file to put where; callers leave LPIPS and tLP empty.

Inputs follow the original: RGB uint8 crops mapped to [-1, 1] by ``x / 127.5 - 1`` (float64, then
float32 NCHW, as ``util.im2tensor``), distance(target, output). Features of each frame are computed
once and reused for LPIPS and both tLP distances; the distance itself repeats
``lpips.LPIPS.forward`` operation for operation (tests check equality with the package).
torch and lpips are imported only when LPIPS is requested. CPU by default; CUDA when available.
"""
import os
import sys
import warnings

import numpy as np

from lib.errors import UserError

ALEXNET_FILES = ("alexnet-owt-7be5be79.pth", "alexnet-owt-4df8aa71.pth")
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
LPIPSMODELS_DIR = os.path.dirname(os.path.abspath(__file__))


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


def torch_hub_checkpoints_dir():
    """Where torchvision caches downloaded weights (the rule of ``torch.hub.get_dir()``)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch")
    return os.path.join(os.path.expanduser(torch_home), "hub", "checkpoints")


def search_dirs():
    return [torch_hub_checkpoints_dir(), LPIPSMODELS_DIR]


def find_alexnet_weights(dirs=None):
    """Path of the first AlexNet backbone file found, or None."""
    for folder in (dirs if dirs is not None else search_dirs()):
        for name in ALEXNET_FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def missing_backbone_notice(dirs=None):
    dirs = dirs if dirs is not None else search_dirs()
    return (f"LPIPS and tLP100 not computed: AlexNet backbone '{ALEXNET_FILES[0]}' not found; "
            f"download {ALEXNET_URL} and put it in {dirs[0]}/ (or in {dirs[-1]}/), then rerun")


def _backbone_state(path, lpips_net):
    """The lpips trunk's state dict (``sliceK.i.weight``) from a torchvision AlexNet file."""
    torch = import_torch_stack()[0]

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt/truncated file, wrong format
        raise UserError(f"cannot load the AlexNet weights '{path}' (not a valid PyTorch weight "
                        f"file: {type(err).__name__}); replace it with {ALEXNET_URL}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"'{path}' is not a torchvision AlexNet state dict; replace it with "
                        f"{ALEXNET_URL}")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    wanted = {}
    for name, param in lpips_net.state_dict().items():      # e.g. slice2.3.weight
        _, index, kind = name.split(".")
        key = f"features.{index}.{kind}"
        if key not in state or tuple(state[key].shape) != tuple(param.shape):
            raise UserError(f"'{path}' is not a torchvision AlexNet state dict ({key} missing "
                            f"or of the wrong shape); replace it with {ALEXNET_URL}")
        wanted[name] = state[key]
    return wanted


class LpipsAlex:
    """LPIPS v0.1 AlexNet on RGB uint8 images; features can be cached per frame."""

    def __init__(self, backbone_path, device=None):
        torch, _, lpips = import_torch_stack()

        self.torch = torch
        self.lpips = lpips
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.backbone_path = backbone_path
        # pnet_rand=True: torchvision builds a random AlexNet and downloads nothing; the linear
        # layers (pretrained=True) are the package's v0.1 weights.
        with warnings.catch_warnings():     # torchvision's "pretrained is deprecated" notes
            warnings.simplefilter("ignore", UserWarning)
            model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True,
                                verbose=False)
        model.net.load_state_dict(_backbone_state(backbone_path, model.net), strict=True)
        self.model = model.eval().to(self.device)

    def describe(self):
        version = getattr(self.lpips, "__version__", None) or _package_version("lpips")
        return (f"LPIPS AlexNet v0.1 (lpips {version}), backbone {self.backbone_path}, "
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


def load_lpips(mode="auto", device=None, dirs=None):
    """(LpipsAlex or None, message). mode: 'auto' (compute when possible) or 'off'."""
    if mode == "off":
        return None, "LPIPS and tLP100 not computed (switched off by --lpips off)"
    try:
        import_torch_stack()
    except ImportError as err:
        return None, (f"LPIPS and tLP100 not computed: {err.name or err} is not installed "
                      "(pip install torch torchvision lpips)")
    path = find_alexnet_weights(dirs)
    if path is None:
        return None, missing_backbone_notice(dirs)
    metric = LpipsAlex(path, device=device)
    return metric, metric.describe()
