"""Downloader, safe extraction and runGan mode 0, against a local HTTP server on 127.0.0.1."""
import dataclasses
import hashlib
import io
import json
import os
import tarfile
import zipfile

import numpy as np
import pytest

from lib.io import assets as assets_mod
from lib.io.download import (DownloadError, MANIFEST_NAME, download_file, extract_archive,
                          source_url)
from lib.errors import UserError
from lib.io.frame_io import list_frames, read_image_rgb8
from tests.local_http import clear_proxies, closed_port_url, make_zip, running_server


@pytest.fixture(autouse=True)
def no_proxy_no_mirror(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def server():
    with running_server() as srv:
        yield srv


def payload(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# ----------------------------------------------------------------------------- download_file

def test_download_resumes_after_cut_connection(server, tmp_path):
    data = payload(3_000_000)
    server.files["/f.bin"] = data
    server.cut["/f.bin"] = [1_000_000, 1]          # first GET dropped after 1 MB
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="run again to resume"):
        download_file(server.url("/f.bin"), str(dest), size=len(data), retries=0, progress=False)
    partial = tmp_path / "f.bin.partial"
    assert not dest.exists()
    assert partial.read_bytes() == data[:1_000_000]
    digest = download_file(server.url("/f.bin"), str(dest), size=len(data), progress=False)
    assert dest.read_bytes() == data and not partial.exists()
    assert digest == hashlib.sha256(data).hexdigest()
    assert server.requests[-1] == ("GET", "/f.bin", "bytes=1000000-")


def test_download_retries_within_one_call_and_restarts_without_range(server, tmp_path):
    data = payload(500_000, 1)
    server.files["/g.bin"] = data
    server.cut["/g.bin"] = [123_456, 1]
    dest = tmp_path / "g.bin"
    download_file(server.url("/g.bin"), str(dest), size=len(data), retries=2, progress=False)
    assert dest.read_bytes() == data
    assert [r[2] for r in server.requests] == [None, "bytes=123456-"]
    # a server without Range support: the partial file is restarted, not appended to
    server.files["/h.bin"] = data
    server.no_range.add("/h.bin")
    (tmp_path / "h.bin.partial").write_bytes(data[:1000])
    download_file(server.url("/h.bin"), str(tmp_path / "h.bin"), size=len(data), progress=False)
    assert (tmp_path / "h.bin").read_bytes() == data


def test_wrong_size_refused_and_moved_aside(server, tmp_path):
    data = payload(200_000, 2)
    server.files["/w.zip"] = data
    dest = tmp_path / "w.zip"
    with pytest.raises(DownloadError) as err:
        download_file(server.url("/w.zip"), str(dest), size=len(data) + 7, progress=False)
    assert "200,000 bytes" in str(err.value) and "200,007" in str(err.value)
    assert not dest.exists()
    # the server's Content-Length already says it is another file: refused before reading
    assert "nothing was downloaded" in str(err.value)
    assert sorted(os.listdir(tmp_path)) == []
    # g06r (a short file without Content-Length: moved aside): test_download_limits.py


def test_recorded_sha256_is_checked(server, tmp_path):
    data = payload(50_000, 3)
    server.files["/s.bin"] = data
    good = hashlib.sha256(data).hexdigest()
    with pytest.raises(DownloadError, match="SHA-256"):
        download_file(server.url("/s.bin"), str(tmp_path / "s.bin"), sha256="0" * 64,
                      progress=False)
    assert not (tmp_path / "s.bin").exists() and not (tmp_path / "s.bin.partial").exists()
    assert download_file(server.url("/s.bin"), str(tmp_path / "s.bin"), sha256=good,
                         progress=False) == good


def test_404_and_offline_are_reported_clearly(server, tmp_path):
    with pytest.raises(DownloadError) as err:
        download_file(server.url("/missing.zip"), str(tmp_path / "m.zip"), progress=False)
    assert "HTTP 404" in str(err.value) and "/missing.zip" in str(err.value)
    assert err.value.status == 404 and not err.value.offline
    dead = closed_port_url("/x.zip")
    with pytest.raises(DownloadError) as err:
        download_file(dead, str(tmp_path / "x.zip"), progress=False, retries=0)
    assert err.value.offline and dead in str(err.value)
    assert not os.path.exists(tmp_path / "x.zip")


def test_mirror_forms(tmp_path, monkeypatch):
    url = "https://ge.in.tum.de/download/data/TecoGAN/model.zip"
    assert source_url(url) == url
    assert source_url(url, "http://lab.example/mirror/") == "http://lab.example/mirror/model.zip"
    assert source_url(url, "file:///srv/m") == "file:///srv/m/model.zip"
    assert source_url(url, str(tmp_path)) == os.path.join(str(tmp_path), "model.zip")
    monkeypatch.setenv("TECOGAN_MIRROR", "http://env.example/base")
    assert source_url(url) == "http://env.example/base/model.zip"
    with pytest.raises(UserError, match="does not exist"):
        source_url(url, str(tmp_path / "nope"))


# ----------------------------------------------------------------------------- extraction

def unsafe_zip_symlink():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        link = zipfile.ZipInfo("link")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    return buf.getvalue()


def unsafe_tar(kind):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 4
        tf.addfile(ok, io.BytesIO(b"fine"))
        if kind == "symlink":
            bad = tarfile.TarInfo("link")
            bad.type, bad.linkname = tarfile.SYMTYPE, "../../outside"
            tf.addfile(bad)
        else:
            bad = tarfile.TarInfo("../escaped.txt")
            bad.size = 3
            tf.addfile(bad, io.BytesIO(b"bad"))
    return buf.getvalue()


@pytest.mark.parametrize("case", ["dotdot", "absolute", "zip_symlink", "tar_symlink", "tar_dotdot",
                                  "through_existing_link"])
def test_unsafe_archives_refused_nothing_written(tmp_path, case):
    target = tmp_path / "target"
    target.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    if case == "dotdot":
        archive, data = "a.zip", make_zip({"ok.txt": b"fine", "../escaped.txt": b"bad"})
    elif case == "absolute":
        archive, data = "a.zip", make_zip({"ok.txt": b"fine",
                                           str(outside / "abs.txt"): b"bad"})
    elif case == "zip_symlink":
        archive, data = "a.zip", unsafe_zip_symlink()
    elif case == "tar_symlink":
        archive, data = "a.tar.gz", unsafe_tar("symlink")
    elif case == "tar_dotdot":
        archive, data = "a.tar.gz", unsafe_tar("dotdot")
    else:
        os.symlink(outside, target / "sub")
        archive, data = "a.zip", make_zip({"ok.txt": b"fine", "sub/x.txt": b"bad"})
    path = tmp_path / archive
    path.write_bytes(data)
    with pytest.raises(UserError, match="refused"):
        extract_archive(str(path), str(target))
    assert sorted(os.listdir(outside)) == []
    assert not (tmp_path / "escaped.txt").exists()
    assert not (target / "ok.txt").exists()       # the whole archive is refused
    assert not (target / "link").exists()


def test_extract_never_overwrites_user_files_without_flag(tmp_path):
    target = tmp_path / "t"
    (target / "scene").mkdir(parents=True)
    (target / "scene" / "0001.png").write_bytes(b"mine")
    (target / "same.txt").write_bytes(b"same")
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"scene/0001.png": b"theirs", "scene/0002.png": b"new",
                                  "same.txt": b"same"}))
    with pytest.raises(UserError, match="--overwrite") as err:
        extract_archive(str(archive), str(target))
    assert "0001.png" in str(err.value)
    assert (target / "scene" / "0001.png").read_bytes() == b"mine"
    assert not (target / "scene" / "0002.png").exists()
    entries = extract_archive(str(archive), str(target), overwrite=True)
    assert (target / "scene" / "0001.png").read_bytes() == b"theirs"
    assert sorted(entries) == [("same.txt", 4), ("scene/0001.png", 6), ("scene/0002.png", 3)]
    # identical files are no conflict: a second extraction without the flag succeeds
    extract_archive(str(archive), str(target))


# ----------------------------------------------------------------------------- mode 0

CAL_FRAMES = ("0001.png", "0002.png", "0003.png")


def fake_catalogue(monkeypatch, files):
    """Replace the catalogue's sizes with those of the small test archives."""
    patched = {name: dataclasses.replace(a, size=len(files[name]) if name in files else a.size)
               for name, a in assets_mod.ASSETS.items()}
    monkeypatch.setattr(assets_mod, "ASSETS", patched)


def mode0_archives(shared):
    gt = shared("data", "Vid4", "GT", "calendar")
    cal = {f"calendar/{n}": open(os.path.join(gt, n), "rb").read() for n in CAL_FRAMES}
    tiny = b"\x89PNG-not-really"
    return {
        "model.zip": make_zip({"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta",
                               "TecoGAN.data-00000-of-00001": payload(1000, 9)}),
        "vid3_LR.zip": make_zip({"city/0001.png": tiny, "foliage/0001.png": tiny,
                                 "walk/0001.png": tiny}),
        # every folder the real archive holds (an archive without one is refused), one frame each
        "vid4_HR.zip": make_zip(dict(cal, **{"city/0001.png": tiny, "foliage/0001.png": tiny,
                                             "walk/0001.png": tiny})),
        "tos_LR.zip": make_zip({"bridge/13880.png": tiny, "face/9886.png": tiny,
                                "room/4399.png": tiny}),
        "tos_HR.zip": make_zip({"bridge/13880.png": tiny, "face/9886.png": tiny,
                                "room/4399.png": tiny}),
    }


def test_mode0_full_run_through_mirror(server, tmp_path, monkeypatch, shared):
    files = mode0_archives(shared)
    fake_catalogue(monkeypatch, files)
    for name, data in files.items():
        server.files["/mirror/" + name] = data
    root = tmp_path / "proj"
    # what runGan.py 0 runs, with the flags it forwards
    assert assets_mod.main(["--root", str(root), "--mirror", server.url("/mirror/")]) == 0
    assert sorted(os.listdir(root)) == ["HR", "LR", "model"]
    assert sorted(n for n in os.listdir(root / "model") if not n.startswith(".")) == [
        "TecoGAN.data-00000-of-00001", "TecoGAN.index", "TecoGAN.meta"]
    assert (root / "model" / "TecoGAN.data-00000-of-00001").read_bytes() == payload(1000, 9)
    assert sorted(os.listdir(root / "LR")) == [".tecogan_downloads.json", "bridge", "calendar",
                                               "city", "face", "foliage", "room", "walk"]
    assert sorted(os.listdir(root / "HR")) == [".tecogan_downloads.json", "bridge", "calendar",
                                               "city", "face", "foliage", "room", "walk"]
    assert not list(root.glob("*/*.zip")) and not list(root.glob("*/*.partial"))
    # LR/calendar derived from HR/calendar equals the official LR frames
    lr_ref = shared("data", "Vid4", "LR", "calendar")
    for name in CAL_FRAMES:
        np.testing.assert_array_equal(read_image_rgb8(str(root / "LR" / "calendar" / name)),
                                      read_image_rgb8(os.path.join(lr_ref, name)))
    record = json.loads((root / "HR" / MANIFEST_NAME).read_text())
    assert record["vid4_HR.zip"]["sha256"] == hashlib.sha256(files["vid4_HR.zip"]).hexdigest()
    # a rerun is complete already: no request at all
    count = len(server.requests)
    monkeypatch.setenv("TECOGAN_MIRROR", server.url("/mirror/"))   # the env variable form
    assets_mod.fetch_test_data(str(root), progress=False, log=lambda *a: None)
    assert len(server.requests) == count
    assert server.requests and all(r[1].startswith("/mirror/") for r in server.requests)


def test_mode0_parts_local_mirror_and_user_files_kept(tmp_path, monkeypatch, shared):
    files = mode0_archives(shared)
    fake_catalogue(monkeypatch, files)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in files.items():
        (mirror / name).write_bytes(data)
    root = tmp_path / "proj"
    (root / "HR" / "calendar").mkdir(parents=True)
    (root / "HR" / "calendar" / "0002.png").write_bytes(b"user's own frame")
    with pytest.raises(UserError) as err:
        assets_mod.fetch_test_data(str(root), parts="model,vid4", mirror=str(mirror),
                                   progress=False, log=lambda *a: None)
    assert "--overwrite" in str(err.value) and "vid4_HR.zip" in str(err.value)
    assert (root / "HR" / "calendar" / "0002.png").read_bytes() == b"user's own frame"
    assert (root / "model" / "TecoGAN.index").read_bytes() == b"idx"   # other parts went on
    assert not (root / "HR" / "tos").exists() and not (root / "LR" / "bridge").exists()
    assert (root / "HR" / "vid4_HR.zip").exists()   # verified archive kept for the retry
    assets_mod.fetch_test_data(str(root), parts=["vid4"], mirror=str(mirror), overwrite=True,
                               progress=False, log=lambda *a: None)
    assert (root / "HR" / "calendar" / "0002.png").read_bytes() == files_member(
        files["vid4_HR.zip"], "calendar/0002.png")
    assert len(list_frames(str(root / "LR" / "calendar"))) == len(CAL_FRAMES)


def files_member(zip_bytes, name):
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return zf.read(name)


def test_mode0_404_and_offline_list_every_url_and_destination(server, tmp_path, monkeypatch,
                                                              shared):
    files = mode0_archives(shared)
    fake_catalogue(monkeypatch, files)
    server.files["/m/model.zip"] = files["model.zip"]          # the rest is missing (404)
    root = tmp_path / "p"
    with pytest.raises(UserError) as err:
        assets_mod.fetch_test_data(str(root), parts="model,tos", mirror=server.url("/m"),
                                   progress=False, log=lambda *a: None)
    text = str(err.value)
    assert "2 of 3 download(s) failed" in text and "HTTP 404" in text
    for name in ("tos_LR.zip", "tos_HR.zip"):
        assert server.url("/m/" + name) in text
    assert os.path.join(str(root), "HR", "tos_HR.zip") in text
    assert (root / "model" / "TecoGAN.meta").exists()
    # offline: nothing listens; one message lists all URLs and where each file goes
    with pytest.raises(UserError) as err:
        assets_mod.fetch_test_data(str(tmp_path / "q"), parts="all",
                                   mirror=closed_port_url("/base"), progress=False,
                                   log=lambda *a: None)
    text = str(err.value)
    assert "offline" in text
    for name in ("model.zip", "vid3_LR.zip", "vid4_HR.zip", "tos_LR.zip", "tos_HR.zip"):
        assert name in text
    assert os.path.join(str(tmp_path / "q"), "LR", "vid3_LR.zip") in text


def test_lr_calendar_bit_identical_to_official(tmp_path, shared):
    gt = shared("data", "Vid4", "GT", "calendar")
    lr_ref = shared("data", "Vid4", "LR", "calendar")
    (tmp_path / "HR").mkdir()
    os.symlink(gt, tmp_path / "HR" / "calendar")
    written = assets_mod.derive_lr_calendar(str(tmp_path), log=lambda *a: None)
    ours, ref = list_frames(str(tmp_path / "LR" / "calendar")), list_frames(lr_ref)
    assert written == 41 and [os.path.basename(p) for p in ours] == [os.path.basename(p) for p in ref]
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(read_image_rgb8(a), read_image_rgb8(b))
    assert assets_mod.derive_lr_calendar(str(tmp_path), log=lambda *a: None) == 0


def test_catalogue_matches_reference():
    a = assets_mod.ASSETS
    assert {n: (x.folder, x.size) for n, x in a.items() if x.size} == {
        "model.zip": ("model", 11288778), "vid3_LR.zip": ("LR", 6651660),
        "tos_LR.zip": ("LR", 46823577), "vid4_HR.zip": ("HR", 119131308),
        "tos_HR.zip": ("HR", 520525105)}
    assert all(x.url.endswith("/" + n) for n, x in a.items())
    assert a["vgg_19_2016_08_28.tar.gz"].url == \
        "http://download.tensorflow.org/models/vgg_19_2016_08_28.tar.gz"
    assert a["FRVSR_Ours.zip"].url == "http://ge.in.tum.de/download/2019-TecoGAN/FRVSR_Ours.zip"
    with pytest.raises(UserError, match="unknown part"):
        assets_mod.parse_parts("model,vid5")


def test_vgg_and_frvsr_from_mirror_and_offline_instructions(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("vgg_19.ckpt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"vgg19"))
    (mirror / "vgg_19_2016_08_28.tar.gz").write_bytes(buf.getvalue())
    (mirror / "FRVSR_Ours.zip").write_bytes(make_zip({
        "ourFRVSR.data-00000-of-00001": b"d", "ourFRVSR.index": b"i", "ourFRVSR.meta": b"m"}))
    model = tmp_path / "proj" / "model"
    assert assets_mod.ensure_vgg19(str(model), mirror="file://" + str(mirror),
                                   progress=False, log=lambda *a: None) == str(model / "vgg_19.ckpt")
    assert (model / "vgg_19.ckpt").read_bytes() == b"vgg19"
    assert not (model / "vgg_19_2016_08_28.tar.gz").exists()
    assert assets_mod.ensure_frvsr_model(str(model), mirror=str(mirror), progress=False,
                                         log=lambda *a: None) == str(model / "ourFRVSR")
    with pytest.raises(UserError) as err:
        assets_mod.ensure_vgg19(str(tmp_path / "other"), mirror=closed_port_url("/b"),
                                progress=False, log=lambda *a: None)
    assert "vgg_19_2016_08_28.tar.gz" in str(err.value)
    assert os.path.join(str(tmp_path / "other"), "vgg_19_2016_08_28.tar.gz") in str(err.value)


# ----------------------------------------------------------------------------- refused archives

OFFICIAL_MODEL_SIZE = 11288778


def zip_of_size(entries, size, pad="TecoGAN.data-00000-of-00001", links=()):
    """A stored zip of exactly ``size`` bytes: the ``pad`` entry's length makes up the rest."""
    def build(n):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for name, data in entries.items():
                zf.writestr(name, data)
            for name, target in links:
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o120777 << 16
                zf.writestr(info, target)
            zf.writestr(pad, payload(n, 4))
        return buf.getvalue()
    data = build(size - len(build(0)))
    assert len(data) == size
    return data


def hostile_model_zip(kind, outside):
    good = {"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta"}
    if kind == "zip_slip":
        return zip_of_size(dict(good, **{"../escaped.txt": b"bad"}), OFFICIAL_MODEL_SIZE)
    if kind == "absolute":
        return zip_of_size(dict(good, **{str(outside / "abs.txt"): b"bad"}), OFFICIAL_MODEL_SIZE)
    if kind == "link":
        return zip_of_size(good, OFFICIAL_MODEL_SIZE, links=[("TecoGAN.link", "/etc/passwd")])
    return payload(OFFICIAL_MODEL_SIZE, 5)          # random bytes of the right size


def run_gan0(root, mirror, *extra):
    from cli_helpers import run_cli
    return run_cli(["runGan.py", "0", "--parts", "model", "--root", root, "--mirror", mirror,
                    *extra], env={"no_proxy": "127.0.0.1,localhost"})


@pytest.mark.parametrize("kind", ["zip_slip", "absolute", "link", "random"])
def test_refused_model_zip_does_not_block_the_next_run(server, tmp_path, kind):
    """runGan.py 0 refuses a hostile model.zip of the official size; the very next run with a
    good mirror fetches and unpacks the clean one, with nothing done by hand."""
    from cli_helpers import assert_one_error, tree_hashes
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "proj"
    (root / "model").mkdir(parents=True)
    (root / "model" / "notes.txt").write_bytes(b"the user's own file")
    hostile = hostile_model_zip(kind, outside)
    clean = zip_of_size({"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta"}, OFFICIAL_MODEL_SIZE)
    before = tree_hashes(tmp_path)
    server.files["/m/model.zip"] = hostile
    status, stdout, stderr = run_gan0(root, server.url("/m/"))
    assert_one_error(status, stdout, stderr, "download(s) failed")
    assert "refused" in stderr and "the next run downloads model.zip afresh" in stderr
    rejected = root / "model" / "model.zip.rejected"
    assert f"moved to '{rejected}'" in stderr
    assert rejected.read_bytes() == hostile and not (root / "model" / "model.zip").exists()
    manifest = root / "model" / MANIFEST_NAME
    assert not manifest.exists() or "model.zip" not in json.loads(manifest.read_text())
    assert not (root / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert os.listdir(outside) == [] and not (root / "model" / "TecoGAN.index").exists()
    assert {p: h for p, h in tree_hashes(tmp_path).items() if p in before} == before

    server.files["/m/model.zip"] = clean            # the mirror is fixed
    status, stdout, stderr = run_gan0(root, server.url("/m/"))
    assert status == 0, stdout + stderr
    assert (root / "model" / "TecoGAN.meta").read_bytes() == b"meta"
    record = json.loads(manifest.read_text())["model.zip"]
    assert record["sha256"] == hashlib.sha256(clean).hexdigest()
    assert rejected.read_bytes() == hostile         # kept for inspection, never reused
    assert {p: h for p, h in tree_hashes(tmp_path).items() if p in before} == before


def test_bad_archive_left_by_an_older_version_is_replaced_in_one_run(server, tmp_path):
    """An older version kept the refused model.zip and recorded its hash (no entries): that
    record is not trusted, the local file is refused, moved aside and fetched afresh."""
    root = tmp_path / "proj"
    (root / "model").mkdir(parents=True)
    hostile = hostile_model_zip("zip_slip", tmp_path)
    (root / "model" / "model.zip").write_bytes(hostile)
    (root / "model" / MANIFEST_NAME).write_text(json.dumps({"model.zip": {
        "size": len(hostile), "sha256": hashlib.sha256(hostile).hexdigest(), "url": "x"}}))
    clean = zip_of_size({"TecoGAN.index": b"idx", "TecoGAN.meta": b"meta"}, OFFICIAL_MODEL_SIZE)
    server.files["/m/model.zip"] = clean
    status, stdout, stderr = run_gan0(root, server.url("/m/"), "--overwrite")
    assert status == 0, stdout + stderr
    assert "the local file was refused and moved to" in stdout
    assert (root / "model" / "model.zip.rejected").read_bytes() == hostile
    assert (root / "model" / "TecoGAN.index").read_bytes() == b"idx"
    record = json.loads((root / "model" / MANIFEST_NAME).read_text())["model.zip"]
    assert record["sha256"] == hashlib.sha256(clean).hexdigest()


@pytest.mark.parametrize("case", ["file", "parent_file", "proc"])
def test_root_that_cannot_be_a_folder(tmp_path, case):
    from cli_helpers import assert_one_error, run_cli, tree_hashes
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"user data")
    root, reason = {"file": (blocker, "it is a file, not a folder"),
                    "parent_file": (blocker / "proj", f"'{blocker}' is a file, not a folder"),
                    "proc": ("/proc/x/proj", "No such file or directory")}[case]
    before = tree_hashes(tmp_path)
    status, stdout, stderr = run_cli(["runGan.py", "0", "--root", root,
                                      "--mirror", str(tmp_path)])
    assert_one_error(status, stdout, stderr, f"cannot create the --root folder '{root}'", reason)
    assert tree_hashes(tmp_path) == before
