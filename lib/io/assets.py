"""The original project's remote files, and fetching them (runGan mode 0, VGG19 and FRVSR for 3/4).

Each :class:`Asset` is one file of the original: its URL, its size when the reference knows it,
the folder it is unpacked into and what it must contain. The layout is exactly the original's:

=====================  ==========  ===================================================
file                   folder      contents
=====================  ==========  ===================================================
model.zip              model/      TecoGAN.{data-00000-of-00001,index,meta}
vid3_LR.zip            LR/         city (34 frames), foliage (49), walk (47)
tos_LR.zip             LR/         bridge (233), face (166), room (150)
vid4_HR.zip            HR/         calendar (41), city (34), foliage (49), walk (47)
tos_HR.zip             HR/         bridge (233), face (166), room (150)
vgg_19_2016_08_28...   model/      vgg_19.ckpt (TF-slim VGG19; mode 3)
FRVSR_Ours.zip         model/      ourFRVSR.* (the FRVSR start model; mode 3)
=====================  ==========  ===================================================

``LR/calendar`` was in the original's git repository; here it is derived from ``HR/calendar`` with
the BD degradation (:func:`lib.ops.degradation.bd_downsample_image`), which gives the official frames
bit for bit. Archives are removed after unpacking, as the original did; what they held is recorded
in ``<folder>/.tecogan_downloads.json`` (with the SHA-256 of the archive) so that a rerun skips it.
"""
import contextlib
import dataclasses
import os
import urllib.parse
from dataclasses import dataclass, field

from lib.errors import ArgumentParser, UserError
from lib.io.disk_full import NoSpaceError
from lib.io.download import (REJECTED_SUFFIX, ArchiveRejected, DownloadError, Manifest,  # noqa: F401
                             download_file, extract_archive, mask_password, mirror_from_env,
                             move_aside, source_url)
from lib.io.folder_lock import FolderLock
from lib.io.frame_io import list_frames, read_image_rgb8, write_image_rgb8_atomic
from lib.io.output_paths import prepare_output_dir, remove_if_empty

TUM = "https://ge.in.tum.de/download/data/TecoGAN/"


@dataclass(frozen=True)
class Asset:
    name: str                 # file name (also the name looked up on a mirror)
    url: str
    folder: str               # relative to the project root
    size: int = None          # bytes, when known from the reference; checked
    expect: tuple = field(default=())   # (relative path, number of .png frames or None for a file)
    # the archive must hold every ``expect`` path (else it is refused); False where the contents
    # are not documented (FRVSR_Ours.zip: its checkpoint may be named otherwise)
    contents_known: bool = True

    def required(self):
        """``(relative path, is_folder)`` the archive itself must hold (frame counts are checked
        by :meth:`present`, not here)."""
        if not self.contents_known:
            return ()
        return tuple((rel, frames is not None) for rel, frames in self.expect)

    def present(self, root):
        """True when everything the archive holds is already in place (e.g. unpacked by hand)."""
        if not self.expect:
            return False
        base = os.path.join(root, self.folder)
        for rel, frames in self.expect:
            path = os.path.join(base, rel)
            if frames is None:
                if not os.path.isfile(path):
                    return False
            elif not os.path.isdir(path) or sum(
                    1 for n in os.listdir(path) if n.endswith(".png")) < frames:
                return False
        return True


ASSETS = {a.name: a for a in (
    Asset("model.zip", TUM + "model.zip", "model", 11288778,
          (("TecoGAN.data-00000-of-00001", None), ("TecoGAN.index", None), ("TecoGAN.meta", None))),
    Asset("vid3_LR.zip", TUM + "vid3_LR.zip", "LR", 6651660,
          (("city", 34), ("foliage", 49), ("walk", 47))),
    Asset("tos_LR.zip", TUM + "tos_LR.zip", "LR", 46823577,
          (("bridge", 233), ("face", 166), ("room", 150))),
    Asset("vid4_HR.zip", TUM + "vid4_HR.zip", "HR", 119131308,
          (("calendar", 41), ("city", 34), ("foliage", 49), ("walk", 47))),
    Asset("tos_HR.zip", TUM + "tos_HR.zip", "HR", 520525105,
          (("bridge", 233), ("face", 166), ("room", 150))),
    # Sizes of these two are not in the reference: checked against the server's Content-Length,
    # and against the SHA-256 recorded after the first download.
    Asset("vgg_19_2016_08_28.tar.gz", "http://download.tensorflow.org/models/vgg_19_2016_08_28.tar.gz",
          "model", None, (("vgg_19.ckpt", None),)),
    Asset("FRVSR_Ours.zip", "http://ge.in.tum.de/download/2019-TecoGAN/FRVSR_Ours.zip",
          "model", None, (("ourFRVSR.data-00000-of-00001", None),), contents_known=False),
)}

PARTS = {
    "model": ("model.zip",),
    "vid4": ("vid3_LR.zip", "vid4_HR.zip"),
    "tos": ("tos_LR.zip", "tos_HR.zip"),
}
CALENDAR = "calendar"


def parse_parts(parts):
    """``('model','vid4')``, ``'model,vid4'`` or ``'all'`` -> validated tuple of part names."""
    if isinstance(parts, str):
        parts = [p.strip() for p in parts.split(",") if p.strip()]
    parts = tuple(parts)
    if "all" in parts:
        parts = tuple(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise UserError(f"unknown part(s) {', '.join(unknown) or '(none)'}; choose from "
                        f"{', '.join(PARTS)} (comma-separated) or 'all'")
    return tuple(dict.fromkeys(parts))


def manual_instructions(assets, root, mirror=None):
    """Text telling where each file comes from and where it goes, to fetch it by hand."""
    lines = []
    for asset in assets:
        try:
            url = source_url(asset.url, mirror)
        except UserError:
            url = asset.url
        size = f" ({asset.size:,} bytes)" if asset.size else ""
        dest = os.path.join(root, asset.folder, asset.name)
        also = f"\n      (original: {asset.url})" if url != asset.url else ""
        lines.append(f"  {mask_password(url)}{size}{also}\n      -> save as {dest}")
    return ("\n".join(lines) + "\nthen run the same command again: the files are checked and "
            "unpacked where they belong (or use --mirror URL_OR_FOLDER / $TECOGAN_MIRROR).")


def fetch_asset(asset, root=".", mirror=None, overwrite=False, progress=True, log=print):
    """Download (or reuse) one asset, check it, unpack it into its folder, remove the archive.

    Returns ``'skipped'`` when it was complete already, else ``'fetched'``. The folder is locked
    meanwhile: a second run on it stops with one error line instead of removing or resuming the
    files this one is writing.
    """
    folder = os.path.join(root, asset.folder)
    prepare_output_dir(folder, f"download folder of {asset.name}")
    with FolderLock(folder, f"download folder of {asset.name}", log=log):
        return _fetch_locked(asset, root, folder, mirror, overwrite, progress, log)


def _fetch_locked(asset, root, folder, mirror, overwrite, progress, log):
    manifest = Manifest(folder)
    # Files found in place are trusted as unpacked by hand only when this project never started
    # on that archive: a record without its entry list is an unpacking that did not finish.
    by_hand = asset.name not in manifest.data and asset.present(root)
    if not overwrite and (manifest.entries_complete(asset.name, folder) or by_hand):
        log(f"{asset.name}: already in {folder}, skipped")
        return "skipped"
    url = source_url(asset.url, mirror)
    archive = os.path.join(folder, asset.name)
    record = manifest.get(asset.name)
    # Only an archive that was unpacked is trusted: a size or hash recorded for anything else
    # (e.g. by an older version, before it refused that archive) would block a good download.
    trusted = record if record.get("entries") else {}
    log(f"{asset.name}: {mask_password(url)} -> {archive}")
    reused = os.path.isfile(archive)    # left by an earlier run, or put there by hand
    digest = download_file(url, archive, size=asset.size or trusted.get("size"),
                           sha256=trusted.get("sha256"), progress=progress)
    size = os.path.getsize(archive)
    log(f"{asset.name}: {size:,} bytes, sha256 {digest}; unpacking into {folder}")
    # recorded as started (no entries) before anything moves in: should the move be cut short,
    # no later run mistakes what landed for a complete archive
    manifest.update(asset.name, url=asset.url, size=size, sha256=digest, entries=None)
    try:
        entries = extract_archive(archive, folder, overwrite=overwrite, required=asset.required())
    except UserError as err:
        # raised before anything moved in (a refused archive, a conflict, a full disk): the
        # record of the start goes; a refused archive's hash is never trusted
        manifest.data.pop(asset.name, None)
        with contextlib.suppress(UserError):
            manifest.update_all()
        if not isinstance(err, ArchiveRejected):
            raise
        aside = move_aside(archive)
        if reused:
            # not what the source serves now: fetch it afresh, once (the archive is gone now)
            log(f"{asset.name}: the local file was refused and moved to '{aside}' "
                f"({str(err).splitlines()[0]}); downloading it afresh")
            try:
                return _fetch_locked(asset, root, folder, mirror, overwrite, progress, log)
            except DownloadError as again:
                raise DownloadError(f"the local '{archive}' was refused and moved to '{aside}'; "
                                    f"downloading it afresh failed: {again}", url=again.url,
                                    dest=again.dest, offline=again.offline,
                                    status=again.status) from None
        raise ArchiveRejected(f"{err}\nThe refused file was moved to '{aside}' (kept for "
                              f"inspection; delete it when done) and no hash was recorded: the "
                              f"next run downloads {asset.name} afresh.") from None
    manifest.update(asset.name, url=asset.url, size=size, sha256=digest, entries=entries)
    os.remove(archive)
    return "fetched"


def _host(url):
    parts = urllib.parse.urlsplit(url)
    # without "user:password@": the host is named in messages
    return parts.netloc.rpartition("@")[2] if parts.scheme.lower() in ("http", "https") else None


def _fetch_many(assets, root, mirror, overwrite, progress, log):
    """Fetch every asset; report all failures together (with manual instructions if offline)."""
    failures, unreachable = [], set()
    for asset in assets:
        host = _host(source_url(asset.url, mirror))
        if host in unreachable:   # do not wait for the same dead host again
            failures.append((asset, DownloadError(f"not tried: {host} could not be reached",
                                                  url=asset.url, offline=True)))
            continue
        try:
            fetch_asset(asset, root, mirror, overwrite, progress, log)
        except NoSpaceError:       # the other assets would not fit either: one line, now
            raise
        except UserError as err:   # DownloadError included; the other assets still go on
            failures.append((asset, err))
            if isinstance(err, DownloadError) and err.offline and host:
                unreachable.add(host)
    if not failures:
        return
    reasons = "\n".join(f"  {a.name}: {e}" for a, e in failures)
    fetchable = [a for a, e in failures if isinstance(e, DownloadError)]
    text = f"{len(failures)} of {len(assets)} download(s) failed:\n{reasons}"
    if fetchable:
        offline = any(e.offline for _, e in failures if isinstance(e, DownloadError))
        text += ("\n" + ("The server could not be reached (offline?). " if offline else "")
                 + "To fetch by hand, download:\n" + manual_instructions(fetchable, root, mirror))
    raise UserError(text)


def derive_lr_calendar(root=".", overwrite=False, log=print):
    """Make ``LR/calendar`` from ``HR/calendar`` with the BD degradation (bit-exact to the official).

    Existing LR frames with the same pixels are kept; different ones are only replaced with
    ``overwrite``. Returns the number of frames written.
    """
    from lib.ops.degradation import bd_downsample_image   # imports TensorFlow: only when needed
    hr_dir = os.path.join(root, "HR", CALENDAR)
    lr_dir = os.path.join(root, "LR", CALENDAR)
    # before the frames are computed: a file at LR/calendar (or LR) could never hold them
    for path in (os.path.dirname(lr_dir), lr_dir):
        if os.path.lexists(path) and not os.path.isdir(path):
            raise UserError(f"'{path}' is a file, but LR/{CALENDAR} (derived from "
                            f"'{hr_dir}') is written there as a folder of frames; nothing was "
                            "changed. Move it away and run again")
    frames = list_frames(hr_dir)
    plan, conflicts = [], []
    for path in frames:
        lr = bd_downsample_image(read_image_rgb8(path))
        dest = os.path.join(lr_dir, os.path.basename(path))
        if os.path.exists(dest):
            try:
                same = (read_image_rgb8(dest) == lr).all() if os.path.isfile(dest) else False
            except UserError:
                same = False
            if same:
                continue
            conflicts.append(dest)
        plan.append((dest, lr))
    if conflicts and not overwrite:
        raise UserError(f"{len(conflicts)} file(s) in '{lr_dir}' differ from the frames derived "
                        f"from '{hr_dir}' (e.g. '{conflicts[0]}'); nothing was changed. Move them "
                        "away or run again with --overwrite")
    os.makedirs(lr_dir, exist_ok=True)
    for dest, lr in plan:
        write_image_rgb8_atomic(dest, lr)       # whole, or not at all (a full disk included)
    log(f"LR/{CALENDAR}: {len(plan)} frame(s) derived from HR/{CALENDAR} "
        f"({len(frames) - len(plan)} already there)")
    return len(plan)


def fetch_test_data(root=".", parts=("model", "vid4", "tos"), mirror=None, overwrite=False,
                    progress=True, log=print):
    """runGan mode 0: the trained model and the Vid4 / ToS test data, in the original layout.

    ``parts``: any of ``model`` (model.zip -> model/), ``vid4`` (vid3_LR.zip -> LR/,
    vid4_HR.zip -> HR/, then LR/calendar derived from HR/calendar) and ``tos`` (tos_LR.zip -> LR/,
    tos_HR.zip -> HR/); a tuple or a comma-separated string, or ``'all'``.
    ``mirror``: base URL / file:// URL / folder holding the same file names (default
    ``$TECOGAN_MIRROR``). Complete parts are skipped; existing different files are only replaced
    with ``overwrite``. Raises UserError listing every failure and how to fetch by hand.
    """
    parts = parse_parts(parts)
    mirror = mirror_from_env(mirror)
    assets = [ASSETS[name] for part in parts for name in PARTS[part]]
    _fetch_many(assets, root, mirror, overwrite, progress, log)
    if "vid4" in parts:
        derive_lr_calendar(root, overwrite=overwrite, log=log)
    return {part: [os.path.join(root, ASSETS[n].folder) for n in PARTS[part]] for part in parts}


def ensure_vgg19(model_dir="model", mirror=None, progress=True, log=print):
    """Path of the TF-slim VGG19 checkpoint ``<model_dir>/vgg_19.ckpt``, downloaded if missing."""
    ckpt = os.path.join(model_dir, "vgg_19.ckpt")
    if os.path.isfile(ckpt):
        return ckpt
    asset = ASSETS["vgg_19_2016_08_28.tar.gz"]
    _fetch_into(asset, model_dir, mirror, progress, log)
    if not os.path.isfile(ckpt):
        raise UserError(f"'{asset.name}' did not contain vgg_19.ckpt; expected '{ckpt}'")
    return ckpt


def ensure_frvsr_model(model_dir="model", mirror=None, progress=True, log=print):
    """Checkpoint prefix of the FRVSR start model (``<model_dir>/ourFRVSR``), downloaded if missing.

    The original checks ``ourFRVSR.data-00000-of-00001``. Should the archive name its checkpoint
    differently (its exact contents are not documented), the single ``*.index`` it holds is used.
    """
    prefix = os.path.join(model_dir, "ourFRVSR")
    if os.path.isfile(prefix + ".data-00000-of-00001"):
        return prefix
    asset = ASSETS["FRVSR_Ours.zip"]
    entries = _fetch_into(asset, model_dir, mirror, progress, log)
    if os.path.isfile(prefix + ".data-00000-of-00001"):
        return prefix
    indexes = [name for name, _ in entries if name.endswith(".index")]
    if len(indexes) == 1:
        return os.path.join(model_dir, indexes[0][:-len(".index")])
    raise UserError(f"'{asset.name}' unpacked into '{model_dir}' but holds no single checkpoint "
                    f"(entries: {', '.join(n for n, _ in entries[:8])}); pass --checkpoint")


def _fetch_into(asset, model_dir, mirror, progress, log):
    """Fetch one model asset into ``model_dir`` (not necessarily ``model/``); entries unpacked."""
    folder = model_dir
    moved = dataclasses.replace(asset, folder=os.path.basename(os.path.normpath(folder)) or ".")
    root = os.path.dirname(os.path.normpath(folder)) or "."
    try:
        fetch_asset(moved, root, mirror_from_env(mirror), overwrite=False, progress=progress, log=log)
    except DownloadError as err:
        raise UserError(f"{err}\nTo fetch it by hand, download:\n"
                        + manual_instructions([moved], root, mirror)) from None
    return Manifest(folder).get(asset.name).get("entries", [])


def build_parser(prog="runGan.py 0"):
    parser = ArgumentParser(
        prog=prog,
        description="Download the official TecoGAN model and the Vid4 / Tears-of-Steel test data "
                    "into model/, LR/ and HR/ (the original layout). Interrupted downloads resume; "
                    "complete parts are skipped.")
    parser.add_argument("--parts", default="model,vid4,tos",
                        help="comma-separated subset of: model (model.zip -> model/), vid4 "
                             "(vid3_LR.zip -> LR/, vid4_HR.zip -> HR/, LR/calendar derived from "
                             "HR/calendar), tos (tos_LR.zip -> LR/, tos_HR.zip -> HR/); or 'all' "
                             "(default: %(default)s)")
    parser.add_argument("--mirror", default=None,
                        help="fetch the same file names from this base URL, file:// URL or local "
                             "folder instead of the original server (default: $TECOGAN_MIRROR if set)")
    parser.add_argument("--overwrite", action="store_true",
                        help="fetch again and replace existing files that differ from the "
                             "archives (without it, such files are never touched)")
    parser.add_argument("--root", default=".",
                        help="project folder that receives model/, LR/ and HR/ (default: %(default)s)")
    return parser


def main(argv=None):
    """Command line of runGan mode 0 (``python3 runGan.py 0 [--parts ...] [--mirror ...]``)."""
    args = build_parser().parse_args(argv)
    parse_parts(args.parts)
    created = prepare_output_dir(args.root, "--root")
    try:
        # one run per project folder: a second one stops at once with one error line, before
        # it could resume, verify or remove the files this one is writing
        with FolderLock(args.root, "--root folder"):
            done = fetch_test_data(args.root, parts=args.parts, mirror=args.mirror,
                                   overwrite=args.overwrite)
    except BaseException:
        remove_if_empty(created)    # a failed first run leaves no empty folders behind
        raise
    for part, folders in done.items():
        print(f"{part}: ready in {', '.join(sorted(set(folders)))}")
    return 0
