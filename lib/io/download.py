"""Downloading and unpacking, portable and checked (the original shelled out to wget/unzip/tar).

* :func:`download_file` - one URL (http/https, ``file://`` or a local path) into a file:
  progress bar, resume of an interrupted download from ``<file>.partial`` (HTTP Range),
  size check, SHA-256 check when a digest is known, atomic rename into place.
* :func:`extract_archive` - zip / tar(.gz) into a folder. Every entry is checked before anything is
  written: absolute paths, ``..``, drive letters, links and device entries are refused, as is any
  entry that would land outside the folder (also through an existing symlink). Existing files that
  differ from the archive's are never replaced unless ``overwrite=True``; identical ones are kept.
* :func:`source_url` - where a file name is fetched from, honouring a mirror (``--mirror`` or the
  ``TECOGAN_MIRROR`` environment variable): a base URL, a ``file://`` URL or a local folder that
  holds the same file names.
* :class:`Manifest` - ``.tecogan_downloads.json`` in a target folder: size, SHA-256 and the extracted
  entries of each archive; the SHA-256 recorded after the first verified download is checked on
  every later download of that file, and the entry list lets a rerun skip complete archives.

Errors the user can act on are :class:`DownloadError` (a :class:`UserError`) naming the URL, the
destination and what to do.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib

from lib.errors import UserError
from lib.io.disk_full import NoSpaceError, is_disk_full, no_space_message

MIRROR_ENV = "TECOGAN_MIRROR"
MANIFEST_NAME = ".tecogan_downloads.json"
PARTIAL_SUFFIX = ".partial"
REJECTED_SUFFIX = ".rejected"
USER_AGENT = "TecoGAN-TF2-downloader/1.0 (+urllib)"
CHUNK = 1 << 20


class ArchiveRejected(UserError):
    """An archive that must not be unpacked (unsafe entry, damaged or not an archive at all).

    Unlike a conflict with the user's files, the archive itself is bad: callers move it aside and
    never record its hash as trusted, so the next run fetches it afresh.
    """


class DownloadError(UserError):
    """A file could not be fetched. ``offline`` is True when no server could be reached."""

    def __init__(self, message, url=None, dest=None, offline=False, status=None):
        super().__init__(message)
        self.url, self.dest, self.offline, self.status = url, dest, offline, status


# ----------------------------------------------------------------------------- sources

def _is_remote(url):
    return urllib.parse.urlsplit(url).scheme.lower() in ("http", "https")


def _local_path(url):
    """Local file path for a ``file://`` URL or a plain path; None for http(s)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() == "file":
        return urllib.request.url2pathname(parts.path)
    if parts.scheme.lower() in ("http", "https"):
        return None
    return url   # a plain path (a Windows "C:\\..." path parses as scheme "c": still a path)


def mirror_from_env(mirror=None):
    """The mirror to use: the argument if given, else ``$TECOGAN_MIRROR``, else None."""
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
    return mirror or None


def source_url(url, mirror=None):
    """``url`` itself, or the same file name under ``mirror`` (base URL, file:// URL or folder)."""
    mirror = mirror_from_env(mirror)
    if not mirror:
        return url
    name = os.path.basename(urllib.parse.urlsplit(url).path)
    if _is_remote(mirror) or mirror.lower().startswith("file:"):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(name)
    if not os.path.isdir(mirror):
        raise UserError(f"mirror folder '{mirror}' does not exist (from --mirror or ${MIRROR_ENV}); "
                        "give an http(s):// base URL, a file:// URL or an existing folder")
    return os.path.join(mirror, name)


class _Stream:
    """An open source positioned at ``start``; ``total`` is the full size when known."""

    def __init__(self, fileobj, start, total):
        self.fileobj, self.start, self.total = fileobj, start, total

    def read(self, n):
        return self.fileobj.read(n)

    def close(self):
        self.fileobj.close()


def _open_source(url, offset, timeout):
    """Open ``url`` at byte ``offset`` (HTTP Range). The returned start may be 0 if unsupported."""
    local = _local_path(url)
    if local is not None:
        if not os.path.isfile(local):
            raise DownloadError(f"'{local}' not found (mirror folder or file:// URL)", url=url,
                                status=404)
        total = os.path.getsize(local)
        handle = open(local, "rb")
        start = min(offset, total)
        handle.seek(start)
        return _Stream(handle, start, total)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                                   "Accept-Encoding": "identity"})
    if offset > 0:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset > 0:
            err.close()
            return _Stream(_Empty(), offset, None)   # nothing after offset: complete or too long
        err.close()
        raise DownloadError(f"HTTP {err.code} {err.reason} for {url}", url=url,
                            status=err.code) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"cannot reach {url}: {reason}", url=url, offline=True) from None
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            response.close()
            return _open_source_fresh(url, timeout)
        total = int(match.group(3)) if match.group(3) != "*" else None
        return _Stream(response, offset, total)
    return _Stream(response, 0, length)


def _open_source_fresh(url, timeout):
    return _open_source(url, 0, timeout)


class _Empty:
    def read(self, n):
        return b""

    def close(self):
        pass


# ----------------------------------------------------------------------------- download

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _progress_bar(total, initial, name, progress):
    try:
        from tqdm import tqdm   # optional here: downloads work without a progress bar
    except ImportError:  # pragma: no cover
        return None
    # disable=None: shown on a terminal, silent in logs and tests
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=name, disable=None if progress else True, leave=True, file=sys.stderr)


def move_aside(path):
    """Rename a refused file to ``<path>.rejected`` (``.rejected-2`` ... if taken): kept for
    inspection, and never resumed or unpacked by a later run."""
    candidate, n = path + REJECTED_SUFFIX, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = f"{path}{REJECTED_SUFFIX}-{n}"
    os.replace(path, candidate)
    return candidate


def _verify(partial, url, dest, size, sha256):
    """The SHA-256 of the complete ``partial``; a refused one is moved aside (a later run,
    perhaps from another mirror, must start from nothing instead of resuming it)."""
    got = os.path.getsize(partial)
    if size is not None and got != size:
        aside = move_aside(partial)
        raise DownloadError(
            f"{url} gave {got:,} bytes but {os.path.basename(dest)} must have {size:,} bytes: "
            f"refused (wrong file, or a mirror with another version). The received data was "
            f"moved to '{aside}' (never resumed; delete it when done); check the URL/mirror and "
            "run again to download afresh.", url=url, dest=dest)
    digest = sha256_file(partial)
    if sha256 and digest != sha256.lower():
        aside = move_aside(partial)
        raise DownloadError(
            f"{url}: SHA-256 {digest} differs from the recorded {sha256} for "
            f"{os.path.basename(dest)}: refused. The data was moved to '{aside}' (never "
            "resumed; delete it when done); check the URL/mirror and run again to download "
            "afresh.", url=url, dest=dest)
    return digest


def download_file(url, dest, size=None, sha256=None, progress=True, retries=3, timeout=60):
    """Fetch ``url`` into ``dest`` and return its SHA-256 (hex).

    * An existing ``dest`` of the expected size (and digest, when given) is kept as it is.
    * Data goes to ``dest + '.partial'``; an existing partial file is resumed with an HTTP Range
      request (or restarted when the server ignores ranges). A dropped connection is resumed up to
      ``retries`` times; after that the partial file stays for the next run to resume.
    * The result must have ``size`` bytes (when given) and the ``sha256`` digest (when given),
      else it is refused and left as ``.partial``; only then it is renamed to ``dest``.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(dest)
    if os.path.isfile(dest):
        if size is None or os.path.getsize(dest) == size:
            digest = sha256_file(dest)
            if not sha256 or digest == sha256.lower():
                return digest
        raise DownloadError(f"'{dest}' exists but is not the expected file (size or SHA-256 "
                            "differs); move it away and run again", url=url, dest=dest)
    partial = dest + PARTIAL_SUFFIX
    attempt = 0
    while True:
        offset = os.path.getsize(partial) if os.path.isfile(partial) else 0
        if size is not None and offset > size:
            os.remove(partial)   # longer than the file can be: start again
            offset = 0
        if size is not None and offset == size:
            break   # complete already (e.g. an earlier run stopped before the rename)
        stream = _open_source(url, offset, timeout)
        if stream.start == offset and stream.total is None and isinstance(stream.fileobj, _Empty):
            if size is None:
                break   # the server says there is nothing after what we have
            os.remove(partial)   # 416 but too short: the server has another file
            continue
        if stream.start != offset:   # server ignored the Range request: start over
            offset = 0
        expected_total = stream.total
        bar = _progress_bar(expected_total or size, offset, name, progress)
        interrupted = None
        try:
            with open(partial, "ab" if offset else "wb") as out:
                out.truncate(offset)
                while True:
                    try:
                        block = stream.read(CHUNK)
                    except (OSError, http.client.HTTPException, socket.timeout) as err:
                        interrupted = err
                        break
                    if not block:
                        break
                    out.write(block)
                    if bar is not None:
                        bar.update(len(block))
        except OSError as err:
            if not is_disk_full(err):
                raise
            # what is on disk is a correct beginning of the file: the rerun resumes from it
            kept = os.path.getsize(partial) if os.path.isfile(partial) else 0
            raise NoSpaceError(no_space_message(
                f"'{partial}' (download of {url})", f"the same command resumes the download "
                f"from the {kept:,} bytes kept in '{partial}'")) from None
        finally:
            stream.close()
            if bar is not None:
                bar.close()
        got = os.path.getsize(partial)
        if interrupted is None and expected_total is not None and got < expected_total:
            interrupted = f"connection closed after {got:,} of {expected_total:,} bytes"
        if interrupted is None:
            break
        attempt += 1
        if attempt > retries:
            raise DownloadError(
                f"download of {url} interrupted ({interrupted}); {got:,} bytes kept in "
                f"'{partial}': run again to resume", url=url, dest=dest)
    digest = _verify(partial, url, dest, size, sha256)
    os.replace(partial, dest)
    return digest


# ----------------------------------------------------------------------------- manifest

class Manifest:
    """Per-folder record of fetched files: ``{name: {url, size, sha256, entries}}``."""

    def __init__(self, folder):
        self.path = os.path.join(folder, MANIFEST_NAME)
        self.data = {}
        if os.path.isfile(self.path):
            try:
                with open(self.path, encoding="utf-8") as handle:
                    self.data = json.load(handle)
            except (OSError, ValueError):
                self.data = {}   # a damaged record only costs a re-check
            if not isinstance(self.data, dict) or not all(
                    isinstance(v, dict) for v in self.data.values()):
                self.data = {}

    def get(self, name):
        return self.data.get(name, {})

    def update(self, name, **fields):
        self.data.setdefault(name, {}).update(fields)
        self.update_all()

    def update_all(self):
        """Write the record as it is in ``data`` (whole, or not at all)."""
        from lib.io.atomic import atomic_file
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            with atomic_file(self.path, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True)
        except OSError as err:
            if not is_disk_full(err):
                raise
            raise NoSpaceError(no_space_message(f"'{self.path}'", "the same command checks "
                                                "and records the files again")) from None

    def entries_complete(self, name, folder):
        """True when every recorded entry of ``name`` is in ``folder`` with its recorded size."""
        entries = self.get(name).get("entries")
        if not entries:
            return False
        for rel, length in entries:
            path = os.path.join(folder, rel)
            if not os.path.isfile(path) or os.path.getsize(path) != length:
                return False
        return True


# ----------------------------------------------------------------------------- extraction

def archive_kind(path):
    lower = path.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    raise UserError(f"'{path}' is not a .zip or .tar(.gz) archive")


def _safe_name(raw, archive):
    """Normalised relative name of an entry, or raise when it could escape the target."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise ArchiveRejected(f"archive '{archive}' has an entry with an absolute path "
                              f"('{raw}'): refused, nothing was extracted")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveRejected(f"archive '{archive}' has an entry that points outside its "
                              f"folder ('{raw}'): refused, nothing was extracted")
    return "/".join(parts)


def _inside(base_real, path):
    real = os.path.realpath(path)
    return real == base_real or real.startswith(base_real + os.sep)


class _Entry:
    def __init__(self, name, is_dir, size, opener, crc=None):
        self.name, self.is_dir, self.size, self.opener, self.crc = name, is_dir, size, opener, crc


def _zip_entries(archive, handle):
    entries = []
    for info in handle.infolist():
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode) or (mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR)):
            raise ArchiveRejected(f"archive '{archive}' has a link or special entry "
                                  f"('{info.filename}'): refused, nothing was extracted")
        name = _safe_name(info.filename, archive)
        if not name:
            continue
        entries.append(_Entry(name, info.is_dir(), info.file_size,
                              (lambda i=info: handle.open(i)), crc=info.CRC))
    return entries


def _tar_entries(archive, handle):
    entries = []
    for info in handle.getmembers():
        if not (info.isfile() or info.isdir()):
            raise ArchiveRejected(f"archive '{archive}' has a link or special entry "
                                  f"('{info.name}'): refused, nothing was extracted")
        name = _safe_name(info.name, archive)
        if not name:
            continue
        entries.append(_Entry(name, info.isdir(), info.size,
                              (lambda i=info: handle.extractfile(i))))
    return entries


def _same_content(path, entry):
    """True when the file at ``path`` already holds exactly the entry's bytes."""
    if os.path.getsize(path) != entry.size:
        return False
    if entry.crc is not None:
        crc = 0
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                crc = zlib.crc32(block, crc)
        if crc != entry.crc:
            return False
    with open(path, "rb") as mine, entry.opener() as theirs:
        while True:
            a, b = mine.read(CHUNK), theirs.read(CHUNK)
            if a != b:
                return False
            if not a:
                return True


class _Staged:
    """The entries of an archive unpacked into a hidden temporary folder inside the target."""

    def __init__(self, folder):
        self.folder, self.files = folder, []

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def _stage_entries(archive, target, todo):
    """Unpack the ``todo`` entries into a temporary folder next to where they go (same file
    system: moving them in is one rename each). A damaged entry or a full disk removes that
    folder again, so a refused archive leaves nothing behind."""
    staged = _Staged(tempfile.mkdtemp(prefix=f".{os.path.basename(archive)}.",
                                      suffix=PARTIAL_SUFFIX, dir=target))
    try:
        for i, (entry, dest) in enumerate(todo):
            tmp = os.path.join(staged.folder, str(i))
            try:
                with entry.opener() as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as err:
                if is_disk_full(err):
                    raise NoSpaceError(no_space_message(
                        f"'{dest}' (unpacking '{archive}')", "the same command unpacks the "
                        "archive again; nothing of it was moved into place")) from None
                raise ArchiveRejected(f"archive '{archive}' is damaged at '{entry.name}' "
                                      f"({err}): refused, nothing was extracted") from None
            staged.files.append(tmp)
    except BaseException:
        staged.remove()
        raise
    return staged


def _check_no_file_is_a_parent(archive, entries):
    """An entry below another entry that is a file (``a`` and ``a/b``) cannot be unpacked."""
    files = {e.name for e in entries if not e.is_dir}
    for entry in entries:
        parts = entry.name.split("/")
        for n in range(1, len(parts)):
            if "/".join(parts[:n]) in files:
                raise ArchiveRejected(f"archive '{archive}' has '{entry.name}' below the file "
                                      f"'{'/'.join(parts[:n])}': refused, nothing was extracted")


def extract_archive(archive, target, overwrite=False):
    """Unpack ``archive`` (zip/tar/tar.gz) into ``target``; return ``[(relative name, size)]``.

    All entries are checked first; one unsafe entry refuses the whole archive. Files that exist
    with other content are conflicts: without ``overwrite`` nothing is written and a UserError
    lists them. Every file is unpacked into a temporary folder first and moved into place only
    when the whole archive unpacked (all or nothing).
    """
    kind = archive_kind(archive)
    os.makedirs(target, exist_ok=True)
    base_real = os.path.realpath(target)
    try:
        handle = zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as err:
        raise ArchiveRejected(f"cannot open archive '{archive}' ({err}): refused, nothing was "
                              "extracted") from None
    with handle:
        try:
            entries = _zip_entries(archive, handle) if kind == "zip" else _tar_entries(archive, handle)
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise ArchiveRejected(f"archive '{archive}' is damaged ({err}): refused, nothing was "
                                  "extracted") from None
        _check_no_file_is_a_parent(archive, entries)
        conflicts, todo = [], []
        for entry in entries:
            dest = os.path.join(target, *entry.name.split("/"))
            if not _inside(base_real, dest):
                raise ArchiveRejected(f"archive '{archive}' entry '{entry.name}' would be written "
                                      f"outside '{target}' (through a link there): refused, "
                                      "nothing was extracted")
            if entry.is_dir:
                if os.path.exists(dest) and not os.path.isdir(dest):
                    conflicts.append(dest)
                continue
            if os.path.isdir(dest) or os.path.islink(dest):
                conflicts.append(dest)
            elif os.path.exists(dest):
                if _same_content(dest, entry):
                    continue
                conflicts.append(dest)
            todo.append((entry, dest))
        if conflicts and not overwrite:
            shown = "\n  ".join(conflicts[:10]) + (f"\n  ... and {len(conflicts) - 10} more"
                                                    if len(conflicts) > 10 else "")
            raise UserError(f"extracting '{archive}' would replace {len(conflicts)} existing "
                            f"file(s) with different content:\n  {shown}\nnothing was changed; "
                            "move them away or run again with --overwrite")
        staged = _stage_entries(archive, target, todo)
        try:
            # every entry read back whole (zip: CRC-checked): only now is anything moved in
            for (entry, dest), tmp in zip(todo, staged.files):
                if os.path.lexists(dest) and (os.path.isdir(dest) or os.path.islink(dest)):
                    if os.path.isdir(dest) and not os.path.islink(dest):
                        shutil.rmtree(dest)
                    else:
                        os.remove(dest)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                os.replace(tmp, dest)
            for entry in entries:
                if entry.is_dir:
                    os.makedirs(os.path.join(target, *entry.name.split("/")), exist_ok=True)
        finally:
            staged.remove()
    return [(e.name, e.size) for e in entries if not e.is_dir]
