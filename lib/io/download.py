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
import time
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
# A connection that delivers less than SLOW_BYTES_PER_S on average over SLOW_SECONDS counts as
# interrupted (retried, resumable), as one that sends nothing for the socket timeout does: a
# server trickling a byte every few seconds would otherwise hold the download forever.
SLOW_SECONDS = 120
SLOW_BYTES_PER_S = 1024


class ArchiveRejected(UserError):
    """An archive that must not be unpacked (unsafe entry, damaged or not an archive at all).

    Unlike a conflict with the user's files, the archive itself is bad: callers move it aside and
    never record its hash as trusted, so the next run fetches it afresh.
    """


class DownloadError(UserError):
    """A file could not be fetched. ``offline`` is True when no server could be reached."""

    def __init__(self, message, url=None, dest=None, offline=False, status=None):
        super().__init__(mask_password(message))   # a mirror's password never reaches a log
        self.url, self.dest, self.offline, self.status = url, dest, offline, status


# ----------------------------------------------------------------------------- sources

_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")


def mask_password(text):
    """``text`` with the password of any ``scheme://user:password@host`` URL in it as ``***``
    (URLs end up in error lines and logs; the user's password must not)."""
    return _PASSWORD.sub(r"\1***@", str(text))


def _is_remote(url):
    try:
        return urllib.parse.urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:   # e.g. 'http://[::1/': not a URL this module can fetch from
        return False


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
    try:
        # urlsplit refuses some malformed URLs (an unclosed IPv6 '[') with ValueError
        parts = urllib.parse.urlsplit(mirror)
        parts.port   # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as err:
        raise UserError(f"mirror '{mask_password(mirror)}' (from --mirror or ${MIRROR_ENV}) is "
                        f"not a valid URL ({err}); give an http(s):// base URL, a file:// URL "
                        "or an existing folder") from None
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
        # what has arrived, up to n bytes: a plain read(n) would wait for all n, so a server
        # trickling a byte now and then could never be seen to be too slow
        read1 = getattr(self.fileobj, "read1", None)
        return read1(n) if read1 is not None else self.fileobj.read(n)

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
    except ValueError as err:    # a URL urllib cannot use (no host, bad port, ...)
        raise DownloadError(f"cannot fetch {url}: {err}", url=url) from None
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


def _refuse_moved_aside(partial, url, dest, why, moved="The received data was"):
    """Move the refused ``partial`` aside (a later run, perhaps from another mirror, must start
    from nothing instead of resuming it) and raise the DownloadError saying so."""
    aside = move_aside(partial)
    raise DownloadError(
        f"{why}. {moved} moved to '{aside}' (never resumed; delete it when done); check the "
        "URL/mirror and run again to download afresh.", url=url, dest=dest)


def _verify(partial, url, dest, size, sha256):
    """The SHA-256 of the complete ``partial``; a refused one is moved aside (a later run,
    perhaps from another mirror, must start from nothing instead of resuming it)."""
    got = os.path.getsize(partial)
    if size is not None and got != size:
        _refuse_moved_aside(
            partial, url, dest, f"{url} gave {got:,} bytes but {os.path.basename(dest)} must "
            f"have {size:,} bytes: refused (wrong file, or a mirror with another version)")
    digest = sha256_file(partial)
    if sha256 and digest != sha256.lower():
        _refuse_moved_aside(
            partial, url, dest, f"{url}: SHA-256 {digest} differs from the recorded {sha256} "
            f"for {os.path.basename(dest)}: refused", moved="The data was")
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
    partial = dest + PARTIAL_SUFFIX
    # checked before any byte is fetched: a folder (or other non-file) of the user's at one of
    # the names this function writes would only fail after the whole download
    for path in (dest, partial):
        if os.path.lexists(path) and not os.path.isfile(path):
            kind = "a folder" if os.path.isdir(path) else "not a regular file"
            raise UserError(f"'{path}' is {kind}, but the download of {name} writes a file "
                            "there; nothing was fetched. Move it away and run again")
    if os.path.isfile(dest):
        if size is None or os.path.getsize(dest) == size:
            digest = sha256_file(dest)
            if not sha256 or digest == sha256.lower():
                return digest
        raise DownloadError(f"'{dest}' exists but is not the expected file (size or SHA-256 "
                            "differs); move it away and run again", url=url, dest=dest)
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
        if size is not None and expected_total is not None and expected_total != size:
            # the server announces another file (Content-Length / Content-Range): refused
            # before a byte is read, and what is kept of the right file stays
            stream.close()
            raise DownloadError(
                f"{url} serves {expected_total:,} bytes but {name} must have {size:,} bytes: "
                "refused, nothing was downloaded (wrong file, or a mirror with another "
                "version); check the URL/mirror and run again", url=url, dest=dest)
        # the most bytes the file may have: a server that sends more (no Content-Length, an
        # endless stream) is cut off there instead of filling the disk
        limit = size if size is not None else expected_total
        too_long, written = False, offset
        bar = _progress_bar(expected_total or size, offset, name, progress)
        interrupted = None
        window_start, window_bytes = time.monotonic(), 0
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
                    if limit is not None and written + len(block) > limit:
                        too_long = True
                        break
                    out.write(block)
                    written += len(block)
                    if bar is not None:
                        bar.update(len(block))
                    window_bytes += len(block)
                    elapsed = time.monotonic() - window_start
                    if elapsed >= SLOW_SECONDS:
                        if window_bytes < SLOW_BYTES_PER_S * elapsed:
                            interrupted = (f"{window_bytes:,} bytes in {elapsed:.0f} s, slower "
                                           f"than {SLOW_BYTES_PER_S:,} bytes/s")
                            break
                        window_start, window_bytes = time.monotonic(), 0
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
        if too_long:
            _refuse_moved_aside(
                partial, url, dest, f"{url} sent more than the {limit:,} bytes {name} must "
                "have: refused (wrong file, or a mirror with another version)",
                moved="The first bytes received were")
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

def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_record(record):
    """True when ``record`` has the types this module writes (every field optional)."""
    if not isinstance(record, dict):
        return False
    if not isinstance(record.get("url", ""), str):
        return False
    if record.get("size") is not None and not _is_count(record["size"]):
        return False
    sha = record.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha)):
        return False
    entries = record.get("entries")
    if entries is None:
        return True
    if not isinstance(entries, list):
        return False
    for entry in entries:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2
                and isinstance(entry[0], str) and entry[0] and _is_count(entry[1])):
            return False
        rel = entry[0].replace("\\", "/")
        if rel.startswith("/") or ".." in rel.split("/") or "\x00" in rel:
            return False   # a recorded entry never points outside its folder
    return True


class Manifest:
    """Per-folder record of fetched files: ``{name: {url, size, sha256, entries}}``."""

    def __init__(self, folder):
        self.path = os.path.join(folder, MANIFEST_NAME)
        self.data = {}
        if os.path.lexists(self.path) and not os.path.isfile(self.path):
            # it could never be rewritten: say so now, before anything is downloaded
            raise UserError(f"'{self.path}' is not a file (this project keeps its record of "
                            "downloads there); move it away and run again")
        if os.path.isfile(self.path):
            try:
                with open(self.path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError):
                data = {}   # a damaged record only costs a re-check
            if isinstance(data, dict):
                # a damaged record (edited by hand, written by something else) is dropped: it
                # only costs a re-check, never a traceback
                self.data = {name: record for name, record in data.items()
                             if _valid_record(record)}

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


class _Capped:
    """Reads at most ``limit`` bytes of ``src``, counting them: an entry that holds more (or
    fewer) bytes than the archive declares is noticed without unpacking more than one byte
    too many."""

    def __init__(self, src, limit):
        self.src, self.left, self.count = src, limit, 0

    def read(self, n=-1):
        if n is None or n < 0 or n > self.left:
            n = self.left
        block = self.src.read(n) if n else b""
        self.left -= len(block)
        self.count += len(block)
        return block


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
                    # never more than declared (+1 to see a lie): the declared sizes are what
                    # the space check, the manifest and later reruns rely on
                    capped = _Capped(src, entry.size + 1)
                    shutil.copyfileobj(capped, out, CHUNK)
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as err:
                if is_disk_full(err):
                    raise NoSpaceError(no_space_message(
                        f"'{dest}' (unpacking '{archive}')", "the same command unpacks the "
                        "archive again; nothing of it was moved into place")) from None
                raise ArchiveRejected(f"archive '{archive}' is damaged at '{entry.name}' "
                                      f"({err}): refused, nothing was extracted") from None
            if capped.count != entry.size:
                held = f"{capped.count:,}" if capped.count <= entry.size else "more"
                raise ArchiveRejected(f"archive '{archive}' says '{entry.name}' has "
                                      f"{entry.size:,} bytes but it holds {held}: refused, "
                                      "nothing was extracted")
            staged.files.append(tmp)
    except BaseException:
        staged.remove()
        raise
    return staged


def _limit(folder, name, usual):
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):   # not on this system: the usual limit
        return usual


def _check_names(archive, entries, target):
    """Entries that cannot all be unpacked side by side are refused before anything is written:
    the same file name twice (which one would win?), a file and a folder of one name, an entry
    below a file (``a`` and ``a/b``), a name or path longer than the file system allows (it
    would fail while moving in, after other files had landed)."""
    name_max = _limit(target, "PC_NAME_MAX", 255)
    path_max = _limit(target, "PC_PATH_MAX", 4096)
    room = path_max - 1 - len(os.fsencode(os.path.abspath(target))) - 1
    files, folders = set(), set()
    for entry in entries:
        if len(os.fsencode(entry.name)) > room:
            raise ArchiveRejected(f"archive '{archive}' has an entry whose path is too long to "
                                  f"unpack in '{target}' ('{entry.name[:80]}...'): refused, "
                                  "nothing was extracted")
        for part in entry.name.split("/"):
            if len(os.fsencode(part)) > name_max:
                raise ArchiveRejected(f"archive '{archive}' has an entry whose name is longer "
                                      f"than the {name_max} bytes this file system allows "
                                      f"('{entry.name[:80]}...'): refused, nothing was extracted")
        if entry.is_dir:
            folders.add(entry.name)              # a folder listed twice is harmless
        elif entry.name in files:
            raise ArchiveRejected(f"archive '{archive}' holds '{entry.name}' twice: refused, "
                                  "nothing was extracted")
        else:
            files.add(entry.name)
    for name in sorted(files & folders):
        raise ArchiveRejected(f"archive '{archive}' has '{name}' both as a file and as a "
                              "folder: refused, nothing was extracted")
    for entry in entries:
        parts = entry.name.split("/")
        for n in range(1, len(parts)):
            if "/".join(parts[:n]) in files:
                raise ArchiveRejected(f"archive '{archive}' has '{entry.name}' below the file "
                                      f"'{'/'.join(parts[:n])}': refused, nothing was extracted")


def _check_reserved(archive, entries, target):
    """Entries that would land on this project's own files are refused: a lock file (an archive
    could block the folder, or unlock one that a run holds), the download record of ``target``,
    or the archive being unpacked."""
    from lib.io.folder_lock import LOCK_NAME
    own = {MANIFEST_NAME: "this project's record of downloads"}
    inside = os.path.relpath(os.path.abspath(archive), os.path.abspath(target))
    if not inside.startswith(".."):
        own[inside.replace(os.sep, "/")] = "the archive being unpacked"
    for entry in entries:
        if LOCK_NAME in entry.name.split("/"):
            why = "this project's lock file name"
        else:
            why = own.get(entry.name.rstrip("/"))
        if why:
            raise ArchiveRejected(f"archive '{archive}' has an entry '{entry.name}', {why}: "
                                  "refused, nothing was extracted")


def _check_required(archive, entries, required):
    """Every ``(relative path, is_folder)`` in ``required`` must be in the archive: one of the
    right size but with other contents (e.g. everything one folder down) would otherwise be
    "ready" while the files the project needs are missing."""
    files = {e.name for e in entries if not e.is_dir}
    folders = {e.name for e in entries if e.is_dir}
    for e in entries:
        parts = e.name.split("/")
        folders.update("/".join(parts[:n]) for n in range(1, len(parts)))
    missing = [rel + ("/" if is_folder else "") for rel, is_folder in required
               if rel not in (folders if is_folder else files)]
    if missing:
        raise ArchiveRejected(f"archive '{archive}' does not hold {', '.join(missing)} (what it "
                              "must contain): refused, nothing was extracted")


def _obstacles(target, entry):
    """What stands in the way of ``entry`` below ``target``: ``(refused, replaceable)``, lists
    of ``(path, why)``. A link of the user's is never written through: one among the parents
    is refused even with --overwrite (it is not the archive's to replace), as is a folder that
    holds files where the archive has a file; the rest is replaced only with --overwrite."""
    parts = entry.name.split("/")
    for n in range(1, len(parts)):
        path = os.path.join(target, *parts[:n])
        if os.path.islink(path):
            return [(path, "a link: the archive's files would be written through it")], []
        if not os.path.lexists(path):
            break
        if not os.path.isdir(path):
            return [], [(path, "a file where the archive has a folder")]
    dest = os.path.join(target, *parts)
    if os.path.islink(dest):
        return [], [(dest, "a link")]
    if entry.is_dir:
        if os.path.lexists(dest) and not os.path.isdir(dest):
            return [], [(dest, "a file where the archive has a folder")]
        return [], []
    if os.path.isdir(dest):
        if os.listdir(dest):
            return [(dest, "a folder with files where the archive has a file")], []
        return [], [(dest, "an empty folder")]
    if os.path.lexists(dest) and not _same_content(dest, entry):
        return [], [(dest, None)]
    return [], []


def _listing(items):
    shown = [f"{path} ({why})" if why else path for path, why in items[:10]]
    more = f"\n  ... and {len(items) - 10} more" if len(items) > 10 else ""
    return "\n  ".join(shown) + more


def _clear_way(target, name, is_dir):
    """Remove what the conflict check found in the way of ``name`` (only reached when there was
    nothing or the user chose --overwrite): files at its parents' places, a link or an empty
    folder at its own place. Never a folder with files (os.rmdir refuses those)."""
    parts = name.split("/")
    for n in range(1, len(parts)):
        path = os.path.join(target, *parts[:n])
        if os.path.lexists(path) and not os.path.isdir(path):
            os.remove(path)
    dest = os.path.join(target, *parts)
    if os.path.islink(dest) or (is_dir and os.path.lexists(dest) and not os.path.isdir(dest)):
        os.remove(dest)
    elif not is_dir and os.path.isdir(dest):
        os.rmdir(dest)
    return dest


# an archive that declares more than this many times its own size (or this floor, for small
# ones) is a "zip bomb", not data: refused before a byte is unpacked
MAX_EXPANSION = 100
EXPANSION_FLOOR = 64 << 20


def _check_space(archive, target, todo):
    need = sum(entry.size for entry, _ in todo)
    have = os.path.getsize(archive)
    if need > max(MAX_EXPANSION * have, EXPANSION_FLOOR):
        raise ArchiveRejected(f"archive '{archive}' ({have:,} bytes) says it unpacks to "
                              f"{need:,} bytes, more than {MAX_EXPANSION} times its size (a "
                              "\"zip bomb\"): refused, nothing was extracted")
    free = shutil.disk_usage(target).free
    if need > free:
        raise NoSpaceError(f"unpacking '{archive}' needs {need:,} bytes but '{target}' has "
                           f"only {free:,} bytes free; nothing was unpacked. Free space and "
                           "rerun: the same command unpacks the archive again")


def extract_archive(archive, target, overwrite=False, required=()):
    """Unpack ``archive`` (zip/tar/tar.gz) into ``target``; return ``[(relative name, size)]``.

    All entries are checked first; one unsafe entry refuses the whole archive (ArchiveRejected),
    as does one that lacks a ``(relative path, is_folder)`` of ``required``, declares sizes it
    does not hold or could not fit on the disk. Files that exist with other content are
    conflicts: without ``overwrite`` nothing is written and a UserError lists them; links and
    folders with files of the user's are never replaced. Every file is unpacked into a temporary
    folder first and moved into place only when the whole archive unpacked (all or nothing).
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
        _check_names(archive, entries, target)
        _check_reserved(archive, entries, target)
        _check_required(archive, entries, required)
        refused, conflicts, todo = [], [], []
        for entry in entries:
            hard, replaceable = _obstacles(target, entry)
            refused += hard
            conflicts += replaceable
            dest = os.path.join(target, *entry.name.split("/"))
            if not hard and not replaceable and os.path.lexists(dest):
                continue   # a folder that is there, or a file with the archive's bytes
            if not hard and not _inside(base_real, os.path.dirname(dest)):
                # names are checked and links refused above: a last guard, should that change
                raise ArchiveRejected(f"archive '{archive}' entry '{entry.name}' would be written "
                                      f"outside '{target}': refused, nothing was extracted")
            if not entry.is_dir:
                todo.append((entry, dest))
        if refused:
            raise UserError(f"extracting '{archive}' is refused: {len(refused)} path(s) of yours "
                            f"stand in the way, which --overwrite never replaces:\n  "
                            f"{_listing(refused)}\nnothing was changed; move them away and "
                            "run again")
        if conflicts and not overwrite:
            raise UserError(f"extracting '{archive}' would replace {len(conflicts)} existing "
                            f"file(s) with different content:\n  {_listing(conflicts)}\n"
                            "nothing was changed; move them away or run again with --overwrite")
        _check_space(archive, target, todo)
        staged = _stage_entries(archive, target, todo)
        moved, dest = 0, target
        try:
            # every entry read back whole (zip: CRC-checked): only now is anything moved in
            for (entry, dest), tmp in zip(todo, staged.files):
                _clear_way(target, entry.name, False)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                os.replace(tmp, dest)
                moved += 1
            for entry in entries:
                if entry.is_dir:
                    dest = _clear_way(target, entry.name, True)
                    os.makedirs(dest, exist_ok=True)
        except OSError as err:
            # the checks above make this a race with another program or a permission problem
            raise UserError(f"unpacking '{archive}' stopped at '{dest}' ({err.strerror or err}) "
                            f"after {moved} of {len(todo)} file(s) were moved in; the archive "
                            "is kept: fix that and run the same command again") from None
        finally:
            staged.remove()
    return [(e.name, e.size) for e in entries if not e.is_dir]
