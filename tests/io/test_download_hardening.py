"""runGan.py 0 against hostile archives, odd servers and the user's own files in the way.

Each test is one fault a probe found: two runs at once, archives whose entries cannot be unpacked
side by side or lie about their sizes, zip bombs, servers that send too much, the user's links,
files and folders at the names the downloader uses, damaged records and malformed mirrors. The
bar: one clear error (or an ArchiveRejected moved aside), nothing of the user's changed, the
archive all or nothing, and the next run not blamed for the previous one.
"""
import collections
import dataclasses
import io
import json
import os
import struct
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lib.errors import UserError
from lib.io import assets as assets_mod
from lib.io import download as download_mod
from lib.io.disk_full import NoSpaceError
from lib.io.download import (MANIFEST_NAME, ArchiveRejected, DownloadError, Manifest,
                             download_file, extract_archive, source_url)
from tests.local_http import clear_proxies, closed_port_url, make_zip, running_server

GOOD = {"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta",
        "TecoGAN.data-00000-of-00001": b"weights" * 100}
QUIET = dict(progress=False, log=lambda *a: None)


@pytest.fixture(autouse=True)
def no_proxy_no_mirror(monkeypatch):
    clear_proxies(monkeypatch)


def use_catalogue(monkeypatch, size):
    patched = dict(assets_mod.ASSETS)
    patched["model.zip"] = dataclasses.replace(patched["model.zip"], size=size)
    monkeypatch.setattr(assets_mod, "ASSETS", patched)


def mirror_with(tmp_path, data, name="model.zip"):
    folder = tmp_path / f"mirror_{len(os.listdir(tmp_path))}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    return str(folder)


def fetch(root, mirror, **kwargs):
    return assets_mod.fetch_test_data(str(root), parts="model", mirror=mirror, **QUIET, **kwargs)


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, n), root)
                  for d, _, names in os.walk(root) for n in names)


def lying_zip(name, data, declared):
    """A deflated zip whose central directory says ``name`` has ``declared`` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    raw = bytearray(buf.getvalue())
    at = raw.index(b"PK\x01\x02")
    raw[at + 24:at + 28] = struct.pack("<I", declared)
    return bytes(raw)


# ----------------------------------------------------------------------------- F1: two runs

def test_a_second_run_on_the_same_folder_stops_with_one_error(tmp_path, monkeypatch):
    from lock_helpers import hold_folder_lock
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    root = tmp_path / "proj"
    (root / "model").mkdir(parents=True)
    (root / "model" / "model.zip.partial").write_bytes(data[:100])   # the first run's download
    holder = hold_folder_lock(str(root / "model"))
    try:
        with pytest.raises(UserError, match="another run .* is using the download folder"):
            fetch(root, mirror_with(tmp_path, data))
        # the first run's files are untouched: nothing removed, resumed or moved aside
        assert files_under(root / "model") == [".tecogan.lock", "model.zip.partial"]
        assert (root / "model" / "model.zip.partial").read_bytes() == data[:100]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    fetch(root, mirror_with(tmp_path, data))
    assert (root / "model" / "TecoGAN.meta").read_bytes() == b"meta"
    assert not (root / "model" / ".tecogan.lock").exists()


def test_rungan0_refuses_a_root_another_run_uses(tmp_path, monkeypatch, capsys):
    from lib.errors import run_cli
    from lock_helpers import hold_folder_lock
    root = tmp_path / "proj"
    root.mkdir()
    holder = hold_folder_lock(str(root))
    try:
        with pytest.raises(SystemExit) as exc:
            run_cli(assets_mod.main, ["--parts", "model", "--root", str(root),
                                      "--mirror", mirror_with(tmp_path, make_zip(GOOD))])
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "--root folder" in err
    assert os.listdir(root) == []


# ----------------------------------------------------------------------------- F2, F3, F4: names and sizes

def test_file_and_folder_of_one_name_refused(tmp_path):
    target = tmp_path / "t"
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"ok.txt": b"fine", "sub": b"file", "sub/": b""}))
    with pytest.raises(ArchiveRejected, match="'sub' both as a file and as a folder"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == []


def test_user_file_where_the_archive_needs_a_folder(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    (target / "sub").write_bytes(b"the user's file")
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"a.txt": b"a", "sub/x.txt": b"x"}))
    with pytest.raises(UserError) as err:
        extract_archive(str(archive), str(target))
    assert not isinstance(err.value, ArchiveRejected)
    assert "would replace 1 existing file(s)" in str(err.value)
    assert f"{target / 'sub'} (a file where the archive has a folder)" in str(err.value)
    assert files_under(target) == ["sub"] and (target / "sub").read_bytes() == b"the user's file"
    # a rerun still names the user's file, not the archive's own (nothing was moved in)
    with pytest.raises(UserError, match="would replace 1 existing"):
        extract_archive(str(archive), str(target))
    extract_archive(str(archive), str(target), overwrite=True)
    assert (target / "sub" / "x.txt").read_bytes() == b"x" and (target / "a.txt").exists()


def test_user_file_where_the_archive_has_a_folder_entry(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    (target / "empty").write_bytes(b"mine")
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"a.txt": b"a", "empty/": b""}))
    with pytest.raises(UserError, match="would replace 1 existing"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == ["empty"]
    extract_archive(str(archive), str(target), overwrite=True)
    assert (target / "empty").is_dir() and (target / "a.txt").exists()


def test_a_failed_move_in_is_one_error(tmp_path, monkeypatch):
    target = tmp_path / "t"
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"a.txt": b"a"}))

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(download_mod.os, "replace", refuse)
    with pytest.raises(UserError, match=r"stopped at .*a\.txt.* \(Permission denied\) after 0 of 1"):
        extract_archive(str(archive), str(target))
    monkeypatch.undo()
    assert files_under(target) == []          # the staging folder is gone too


def test_a_name_too_long_for_the_file_system_is_refused(tmp_path):
    target = tmp_path / "t"
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"ok.txt": b"fine", "d/" + "n" * 300: b"x"}))
    with pytest.raises(ArchiveRejected, match="longer than the 255 bytes"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == []


def test_a_path_too_long_for_the_file_system_is_refused(tmp_path):
    target = tmp_path / "t"
    archive = tmp_path / "a.zip"
    deep = "/".join(["d" * 200] * 25) + "/x.txt"            # 5000 bytes: over PATH_MAX
    archive.write_bytes(make_zip({"ok.txt": b"fine", deep: b"x"}))
    with pytest.raises(ArchiveRejected, match="path is too long"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == []


@pytest.mark.parametrize("declared", [5, 2])
def test_an_entry_that_lies_about_its_size_is_refused(tmp_path, declared):
    target = tmp_path / "t"
    archive = tmp_path / "a.zip"
    archive.write_bytes(lying_zip("a.txt", b"abc", declared))
    with pytest.raises(ArchiveRejected, match="refused, nothing was extracted"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == []


def test_a_lying_model_zip_is_moved_aside_not_recorded(tmp_path, monkeypatch):
    """Accepted before, its wrong size recorded: the next run blamed the user's file."""
    use_catalogue(monkeypatch, None)
    lying = bytearray(make_zip(GOOD))
    at = lying.index(b"PK\x01\x02")        # the first entry (TecoGAN.index) says 5 bytes, holds 3
    lying[at + 24:at + 28] = struct.pack("<I", 5)
    root = tmp_path / "proj"
    with pytest.raises(UserError, match="has 5 bytes but it holds 3"):
        fetch(root, mirror_with(tmp_path, bytes(lying)))
    assert files_under(root / "model") in (["model.zip.rejected"],
                                           [MANIFEST_NAME, "model.zip.rejected"])


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_the_same_name_twice_is_refused(tmp_path, kind):
    target = tmp_path / "t"
    if kind == "zip":
        archive = tmp_path / "a.zip"
        buf = io.BytesIO()
        with pytest.warns(UserWarning), zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("a.txt", b"first")
            zf.writestr("a.txt", b"second")
    else:
        archive = tmp_path / "a.tar"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for data in (b"first", b"second"):
                info = tarfile.TarInfo("a.txt")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    archive.write_bytes(buf.getvalue())
    with pytest.raises(ArchiveRejected, match="holds 'a.txt' twice"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == []


# ----------------------------------------------------------------------------- F5: contents

def test_a_model_zip_without_the_checkpoint_is_refused(tmp_path, monkeypatch):
    nested = make_zip({f"model/{name}": data for name, data in GOOD.items()})
    use_catalogue(monkeypatch, len(nested))
    root = tmp_path / "proj"
    with pytest.raises(UserError) as err:
        fetch(root, mirror_with(tmp_path, nested))
    assert ("does not hold TecoGAN.data-00000-of-00001, TecoGAN.index, TecoGAN.meta (what it "
            "must contain)") in str(err.value)
    assert "the next run downloads model.zip afresh" in str(err.value)
    assert files_under(root / "model") in (["model.zip.rejected"],
                                           [MANIFEST_NAME, "model.zip.rejected"])
    good = make_zip(GOOD)
    use_catalogue(monkeypatch, len(good))
    fetch(root, mirror_with(tmp_path, good))     # not "already there": fetched and unpacked
    assert (root / "model" / "TecoGAN.meta").read_bytes() == b"meta"


# ----------------------------------------------------------------------------- F6: space

def test_a_zip_bomb_is_refused_before_unpacking(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("bomb.bin", "w", force_zip64=True) as out:
            block = bytes(1 << 20)
            for _ in range(100):                 # 100 MiB of zeros, about 100 KB deflated
                out.write(block)
    archive = tmp_path / "a.zip"
    archive.write_bytes(buf.getvalue())
    target = tmp_path / "t"
    copied = []
    monkeypatch.setattr(download_mod.shutil, "copyfileobj", lambda *a, **k: copied.append(1))
    with pytest.raises(ArchiveRejected, match="zip bomb"):
        extract_archive(str(archive), str(target))
    assert not copied and files_under(target) == [] and os.listdir(target) == []


def test_not_enough_space_is_said_before_unpacking(tmp_path, monkeypatch):
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(download_mod.shutil, "disk_usage", lambda path: usage(100, 90, 10))
    root = tmp_path / "proj"
    with pytest.raises(NoSpaceError) as err:
        fetch(root, mirror_with(tmp_path, data))
    need = sum(len(v) for v in GOOD.values())
    assert f"needs {need:,} bytes but '{root / 'model'}' has only 10 bytes free" in str(err.value)
    assert "model.zip" in files_under(root / "model")         # kept: it is a good archive
    assert not any(n.startswith("TecoGAN") for n in files_under(root / "model"))


# ----------------------------------------------------------------------------- F7: servers

class _RawServer:
    """HTTP/1.0 without Content-Length: ``body`` bytes, or an endless stream when None."""

    def __init__(self, body):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    outer.respond(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.body = body
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/zip")
        handler.end_headers()
        if self.body is not None:
            handler.wfile.write(self.body)
            return
        for _ in range(10_000):                   # 10 GB, were it all read
            handler.wfile.write(b"z" * (1 << 20))

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/f.zip"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("body", [b"x" * 300_000, None], ids=["too_long", "endless"])
def test_a_server_sending_more_than_the_file_is_cut_off(tmp_path, body):
    dest = tmp_path / "f.zip"
    with _RawServer(body) as url:
        with pytest.raises(DownloadError, match="sent more than the 200,000 bytes") as err:
            download_file(url, str(dest), size=200_000, progress=False)
    aside = tmp_path / "f.zip.partial.rejected"
    assert f"moved to '{aside}'" in str(err.value)
    assert aside.stat().st_size <= 200_000 and files_under(tmp_path) == ["f.zip.partial.rejected"]


def test_content_length_of_another_file_is_refused_before_reading(tmp_path):
    with running_server() as server:
        server.files["/f.zip"] = b"y" * 50_000
        with pytest.raises(DownloadError, match="serves 50,000 bytes .* 40,000 bytes"):
            download_file(server.url("/f.zip"), str(tmp_path / "f.zip"), size=40_000,
                          progress=False)
        # a resume whose Content-Range announces another total: the kept bytes stay
        (tmp_path / "f.zip.partial").write_bytes(b"y" * 1000)
        with pytest.raises(DownloadError, match="serves 50,000 bytes"):
            download_file(server.url("/f.zip"), str(tmp_path / "f.zip"), size=60_000,
                          progress=False)
    assert files_under(tmp_path) == ["f.zip.partial"]


def test_a_short_file_without_content_length_is_moved_aside(tmp_path):
    """g06r: refused after the download and moved aside, never resumed."""
    data = b"q" * 200_000
    dest = tmp_path / "w.zip"
    with _RawServer(data) as url:
        with pytest.raises(DownloadError) as err:
            download_file(url, str(dest), size=len(data) + 7, progress=False)
    assert "200,000 bytes" in str(err.value) and "200,007" in str(err.value)
    assert (tmp_path / "w.zip.partial.rejected").read_bytes() == data
    assert not (tmp_path / "w.zip.partial").exists()


class _TrickleServer(_RawServer):
    """Announces ``size`` bytes, then sends one every ``pause`` seconds."""

    def __init__(self, size, pause):
        super().__init__(None)
        self.size, self.pause, self.stop = size, pause, threading.Event()

    def respond(self, handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(self.size))
        handler.end_headers()
        for _ in range(self.size):
            if self.stop.wait(self.pause):
                return
            handler.wfile.write(b"t")
            handler.wfile.flush()

    def __exit__(self, *exc):
        self.stop.set()
        super().__exit__(*exc)


def test_a_trickling_server_counts_as_an_interruption_and_the_bytes_are_kept(tmp_path,
                                                                             monkeypatch):
    """A byte now and then never trips the socket timeout: an average below SLOW_BYTES_PER_S
    over SLOW_SECONDS does (scaled down here), retried and then resumable, not endless."""
    monkeypatch.setattr(download_mod, "SLOW_SECONDS", 0.4)
    monkeypatch.setattr(download_mod, "SLOW_BYTES_PER_S", 200)
    dest = tmp_path / "f.zip"
    with _TrickleServer(10_000, 0.02) as url:
        with pytest.raises(DownloadError, match="slower than 200 bytes/s") as err:
            download_file(url, str(dest), size=10_000, progress=False, retries=1)
    kept = (tmp_path / "f.zip.partial").read_bytes()
    assert 0 < len(kept) < 10_000 and set(kept) == {ord("t")}
    assert "run again to resume" in str(err.value) and not dest.exists()


# ----------------------------------------------------------------------------- F8: links

def test_a_users_dangling_link_is_a_conflict_not_a_bad_archive(tmp_path, monkeypatch):
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    root = tmp_path / "proj"
    (root / "model").mkdir(parents=True)
    link = root / "model" / "TecoGAN.index"
    os.symlink("/nowhere/at/all", link)
    mirror = mirror_with(tmp_path, data)
    for _ in range(2):                     # the same answer on every rerun, no copies piling up
        with pytest.raises(UserError) as err:
            fetch(root, mirror)
        assert f"{link} (a link)" in str(err.value) and "--overwrite" in str(err.value)
        assert "rejected" not in str(err.value)
        assert not list((root / "model").glob("*.rejected*"))
        assert os.readlink(link) == "/nowhere/at/all"
    fetch(root, mirror, overwrite=True)
    assert not link.is_symlink() and link.read_bytes() == b"idx"


def test_a_users_link_among_the_parents_is_never_written_through(tmp_path):
    target, outside = tmp_path / "t", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(outside, target / "sub")
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"ok.txt": b"fine", "sub/x.txt": b"x"}))
    for overwrite in (False, True):
        with pytest.raises(UserError) as err:
            extract_archive(str(archive), str(target), overwrite=overwrite)
        assert not isinstance(err.value, ArchiveRejected)
        assert f"{target / 'sub'} (a link" in str(err.value)
        assert os.listdir(outside) == [] and not (target / "ok.txt").exists()


def test_overwrite_never_removes_a_folder_with_files(tmp_path):
    target = tmp_path / "t"
    (target / "a.txt").mkdir(parents=True)
    (target / "a.txt" / "mine.txt").write_bytes(b"mine")
    (target / "b.txt").mkdir()                 # an empty one is replaced with --overwrite
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"a.txt": b"a", "b.txt": b"b"}))
    with pytest.raises(UserError, match="a folder with files where the archive has a file"):
        extract_archive(str(archive), str(target), overwrite=True)
    assert (target / "a.txt" / "mine.txt").read_bytes() == b"mine"
    archive.write_bytes(make_zip({"b.txt": b"b"}))
    with pytest.raises(UserError, match=r"b\.txt \(an empty folder\)"):
        extract_archive(str(archive), str(target))
    extract_archive(str(archive), str(target), overwrite=True)
    assert (target / "b.txt").read_bytes() == b"b"


# ----------------------------------------------------------------------------- F9, F10: files in the way

def test_lr_calendar_that_is_a_file(tmp_path):
    from lib.io.frame_io import write_image_rgb8_atomic
    (tmp_path / "HR" / "calendar").mkdir(parents=True)
    write_image_rgb8_atomic(str(tmp_path / "HR" / "calendar" / "0001.png"),
                            np.zeros((16, 16, 3), np.uint8))
    (tmp_path / "LR").mkdir()
    (tmp_path / "LR" / "calendar").write_bytes(b"mine")
    with pytest.raises(UserError, match="LR/calendar' is a file"):
        assets_mod.derive_lr_calendar(str(tmp_path), log=lambda *a: None)
    assert (tmp_path / "LR" / "calendar").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["model.zip", "model.zip.partial", MANIFEST_NAME])
def test_a_folder_at_one_of_the_downloaders_names(tmp_path, monkeypatch, name):
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    root = tmp_path / "proj"
    (root / "model" / name).mkdir(parents=True)
    (root / "model" / name / "keep.txt").write_bytes(b"mine")
    with pytest.raises(UserError) as err:
        fetch(root, mirror_with(tmp_path, data))
    assert f"'{root / 'model' / name}' is" in str(err.value)
    assert "move it away" in str(err.value).lower()
    assert files_under(root / "model") == [f"{name}/keep.txt"]


# ----------------------------------------------------------------------------- F11: damaged record

@pytest.mark.parametrize("record", [{"entries": 5}, {"entries": [["a"]]}, {"entries": [[1, 2]]},
                                    {"sha256": 5}, {"size": "big"}, {"url": 3},
                                    {"entries": [["../x", 1]]}, "text"])
def test_a_damaged_record_only_costs_a_recheck(tmp_path, monkeypatch, record):
    data = make_zip(GOOD)
    use_catalogue(monkeypatch, len(data))
    root = tmp_path / "proj"
    (root / "model").mkdir(parents=True)
    (root / "model" / MANIFEST_NAME).write_text(json.dumps({"model.zip": record,
                                                            "other.zip": {"size": 3}}))
    assert Manifest(str(root / "model")).data == {"other.zip": {"size": 3}}
    fetch(root, mirror_with(tmp_path, data))
    assert (root / "model" / "TecoGAN.meta").read_bytes() == b"meta"
    saved = json.loads((root / "model" / MANIFEST_NAME).read_text())
    assert saved["model.zip"]["entries"] and saved["other.zip"] == {"size": 3}


# ----------------------------------------------------------------------------- F12, passwords

@pytest.mark.parametrize("mirror", ["http://[::1/", "http://host:port/"])
def test_a_malformed_mirror_is_one_error(tmp_path, monkeypatch, mirror):
    with pytest.raises(UserError, match="not a valid URL"):
        source_url("https://x/model.zip", mirror)
    monkeypatch.setenv("TECOGAN_MIRROR", mirror)
    with pytest.raises(UserError, match="TECOGAN_MIRROR"):
        assets_mod.fetch_test_data(str(tmp_path / "p"), parts="model", **QUIET)


def test_a_mirrors_password_is_not_shown(tmp_path):
    mirror = closed_port_url("/base").replace("http://", "http://me:s3cret@")
    messages = []
    with pytest.raises(UserError) as err:
        assets_mod.fetch_test_data(str(tmp_path / "p"), parts="all", mirror=mirror,
                                   progress=False, log=messages.append)
    assert "s3cret" not in str(err.value) and "s3cret" not in "\n".join(messages)
    assert "me:***@" in str(err.value)


@pytest.mark.parametrize("entry", [".tecogan.lock", "LR/calendar/.tecogan.lock", MANIFEST_NAME,
                                   "a.zip"])
def test_an_entry_on_the_projects_own_files_is_refused(tmp_path, entry):
    """A lock file from an archive would block (or unblock) a folder; the download record and
    the archive being unpacked are the project's own."""
    target = tmp_path / "t"
    target.mkdir()
    archive = target / "a.zip"
    archive.write_bytes(make_zip({"ok.txt": b"fine", entry: b"12345 otherhost 0"}))
    with pytest.raises(ArchiveRejected, match=f"entry '{entry}'"):
        extract_archive(str(archive), str(target))
    assert files_under(target) == ["a.zip"]
