"""Downloads are all-or-nothing (issue 19: ng01, ng01r, ng06, ng08, g06r).

* A refused archive (damaged inside, an entry that cannot be unpacked) leaves none of its files,
  and the next run downloads it afresh instead of trusting leftovers.
* A refused ``.partial`` is moved aside, never resumed from another mirror.
* A full disk (simulated: the writer raises ENOSPC) is one error line; unpacking leaves nothing.
"""
import errno
import json
import os

import pytest

from lib.errors import UserError
from lib.io import assets as assets_mod
from lib.io import download as download_mod
from lib.io.download import MANIFEST_NAME, download_file
from tests.local_http import clear_proxies, make_zip, running_server

GOOD = {"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta",
        "TecoGAN.data-00000-of-00001": b"weights" * 100}


@pytest.fixture(autouse=True)
def no_proxy_no_mirror(monkeypatch):
    clear_proxies(monkeypatch)


def damaged_at_the_end():
    """The expected files first, then an entry whose stored bytes fail their CRC."""
    data = bytearray(make_zip(dict(GOOD, **{"zz_last.bin": b"A" * 64})))
    at = bytes(data).index(b"A" * 64)
    data[at] ^= 0xFF
    return bytes(data)


def file_and_folder_of_one_name():
    """``TecoGAN.meta`` as a file, then ``TecoGAN.meta/x`` below it."""
    return make_zip(dict(GOOD, **{"TecoGAN.meta/x": b"x"}))


def mirror_with(tmp_path, name, data):
    folder = tmp_path / f"mirror_{len(os.listdir(tmp_path))}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    return str(folder)


def use_catalogue(monkeypatch, size):
    import dataclasses
    patched = dict(assets_mod.ASSETS)
    patched["model.zip"] = dataclasses.replace(patched["model.zip"], size=size)
    monkeypatch.setattr(assets_mod, "ASSETS", patched)


def fetch(root, mirror):
    return assets_mod.fetch_test_data(str(root), parts="model", mirror=mirror, progress=False,
                                      log=lambda *a: None)


def user_files(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, _, names in os.walk(root) for n in names)


@pytest.mark.parametrize("bad", [damaged_at_the_end, file_and_folder_of_one_name])
def test_refused_archive_leaves_nothing_and_the_next_run_fetches_afresh(tmp_path, monkeypatch,
                                                                        bad):
    """ng01 / ng01r / ng08."""
    hostile, clean = bad(), make_zip(GOOD)
    use_catalogue(monkeypatch, None)
    root = tmp_path / "proj"
    with pytest.raises(UserError, match="refused, nothing was extracted"):
        fetch(root, mirror_with(tmp_path, "model.zip", hostile))
    model = root / "model"
    assert user_files(model) in (["model.zip.rejected"],
                                 [MANIFEST_NAME, "model.zip.rejected"])
    manifest = model / MANIFEST_NAME
    assert not manifest.exists() or "model.zip" not in json.loads(manifest.read_text())
    # the next run, from a good mirror: downloaded and unpacked, not skipped
    fetch(root, mirror_with(tmp_path, "model.zip", clean))
    assert (model / "TecoGAN.data-00000-of-00001").read_bytes() == GOOD[
        "TecoGAN.data-00000-of-00001"]
    assert json.loads(manifest.read_text())["model.zip"]["entries"]


def test_leftovers_of_an_unfinished_unpacking_are_not_trusted(tmp_path, monkeypatch):
    """Files in place with a record that has no entry list (an unpacking cut short) are not
    taken for a complete archive: the archive is fetched and unpacked again."""
    clean = make_zip(GOOD)
    use_catalogue(monkeypatch, len(clean))
    model = tmp_path / "proj" / "model"
    model.mkdir(parents=True)
    for name in GOOD:
        (model / name).write_bytes(b"leftover")
    (model / MANIFEST_NAME).write_text(json.dumps({"model.zip": {"entries": None, "url": "x"}}))
    with pytest.raises(UserError, match="would replace 3 existing file"):
        fetch(tmp_path / "proj", mirror_with(tmp_path, "model.zip", clean))   # not skipped
    # unpacked by hand, without any record: trusted, as before
    (model / MANIFEST_NAME).unlink()
    os.remove(model / "model.zip")
    messages = []
    assets_mod.fetch_test_data(str(tmp_path / "proj"), parts="model",
                               mirror=mirror_with(tmp_path, "model.zip", clean), progress=False,
                               log=messages.append)
    assert any("already in" in m and "skipped" in m for m in messages)


def test_refused_partial_is_not_resumed_from_another_mirror(tmp_path):
    """g06r: a wrong-size download from one mirror is moved aside; the next try (another
    mirror) starts from byte 0 and succeeds."""
    good = bytes(range(256)) * 400
    with running_server() as server:
        server.files["/a/f.bin"] = good[:5000] + b"x" * 7         # a mirror with another file
        server.files["/b/f.bin"] = good
        dest = tmp_path / "f.bin"
        with pytest.raises(UserError, match="refused"):
            download_file(server.url("/a/f.bin"), str(dest), size=len(good), progress=False)
        assert not (tmp_path / "f.bin.partial").exists()
        download_file(server.url("/b/f.bin"), str(dest), size=len(good), progress=False)
        ranges = [r for m, p, r in server.requests if p == "/b/f.bin"]
    assert dest.read_bytes() == good and ranges == [None]


class FullDiskFile:
    """A file object whose writes fail with ENOSPC after ``room`` bytes (the rest is lost)."""

    def __init__(self, real, room):
        self.real, self.room = real, room

    def write(self, data):
        if len(data) > self.room:
            self.real.write(data[:self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def test_full_disk_while_downloading_is_one_error_and_the_rerun_resumes(tmp_path, monkeypatch):
    """ng06 (the download): one error line; the bytes on disk are a correct beginning, so after
    freeing space the rerun resumes and gets the same file."""
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return FullDiskFile(handle, 300) if str(path).endswith(".partial") else handle
    monkeypatch.setattr(download_mod, "open", full_open, raising=False)
    root, mirror = tmp_path / "proj", mirror_with(tmp_path, "model.zip", data)
    partial = root / "model" / "model.zip.partial"
    with pytest.raises(UserError) as err:
        fetch(root, mirror)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"no space left on device while writing '{partial}'")
    assert "free space and rerun: the same command resumes the download from the 300 bytes" \
        in message
    assert partial.read_bytes() == data[:300]
    monkeypatch.undo()                                  # space freed
    use_catalogue(monkeypatch, len(data))
    fetch(root, mirror)
    assert (root / "model" / "TecoGAN.meta").read_bytes() == b"meta"


def test_full_disk_while_unpacking_leaves_nothing(tmp_path, monkeypatch):
    """ng06 (the unpacking): one error line naming the file; nothing of the archive is left
    in place, the archive itself stays for the rerun."""
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    real_copy = download_mod.shutil.copyfileobj
    calls = []

    def full_copy(src, dst, length=0):
        calls.append(1)
        if len(calls) == 2:
            dst.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(src, dst, length)
    monkeypatch.setattr(download_mod.shutil, "copyfileobj", full_copy)
    root = tmp_path / "proj"
    with pytest.raises(UserError) as err:
        fetch(root, mirror_with(tmp_path, "model.zip", data))
    assert str(err.value).startswith("no space left on device while writing "
                                     f"'{root / 'model' / 'TecoGAN.meta'}' (unpacking")
    assert user_files(root / "model") == [MANIFEST_NAME, "model.zip"]
    assert "model.zip" not in json.loads((root / "model" / MANIFEST_NAME).read_text())


def test_rungan0_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    """Through runGan.py 0's entry point: exit status 2 and one ``error:`` line."""
    from lib.errors import run_cli
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    monkeypatch.setattr(download_mod.shutil, "copyfileobj", lambda *a, **k: (_ for _ in ()).throw(
        OSError(errno.EDQUOT, "Disk quota exceeded")))
    with pytest.raises(SystemExit) as exc:
        run_cli(assets_mod.main, ["--parts", "model", "--root", str(tmp_path / "proj"),
                                  "--mirror", mirror_with(tmp_path, "model.zip", data)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith("error: no space left on device while writing")
