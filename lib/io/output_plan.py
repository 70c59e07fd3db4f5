"""Where inference writes, checked before any work starts, so nothing the user had is lost.

* The output folder (and the log folder) must be creatable and writable: a path through a file,
  or a location that refuses writes, is a :class:`UserError` before TensorFlow even loads.
* Each output folder keeps a small manifest, ``.tecogan_outputs.json``, saying which input (and
  checkpoint) produced each set of outputs. Outputs of a *different* input are never replaced
  without ``--overwrite``, even when the frame names and sizes happen to match. Folders without a
  manifest (older runs, the original code) fall back to the name and size checks.
* Nothing is deleted while checking: with ``--overwrite`` the other clip's frames are removed only
  in :meth:`OutputPlan.begin`, called when the first output frame is ready (so the checkpoint has
  loaded and the input decodes).
* ``--overwrite`` removes only files the manifest lists as written by this project for that
  output (never inputs, never checkpoints, nothing of another prefix or extension). A damaged
  manifest means "owner unknown": refused without ``--overwrite``; with it, files of the planned
  names are replaced and nothing else is removed.
* The output folder may not be the input folder, and no output may land on an input file.
* Outputs of the same clip made with another checkpoint (or block count) are another run's:
  refused without ``--overwrite``.
* One run per output folder (:mod:`lib.io.folder_lock`): the lock is taken, and the checks above
  repeated under it, when the first output is ready.
* Frames are written through unique temporaries (:mod:`lib.io.atomic`) and renamed, so a killed
  run never leaves a half frame under a final name; leftovers of a killed run are cleaned up and do
  not block a rerun.
* A rerun of the same clip that would write fewer outputs than the manifest records (a smaller
  --input_dir_len, a shorter clip at the same path) is refused without ``--overwrite``: the
  recorded outputs it would not write again are neither removed silently nor left to mix with the
  new ones.
* In a folder without a manifest, a file of a planned name is replaced only when it is one of our
  frames: an image of the output size, or empty (what versions before the atomic writes left when
  killed). Anything else there (a text file, an image of another size) is the user's: refused
  without ``--overwrite``, naming it.
* A planned output that is a folder (or another non-file), and names too long for the file system
  (the final one or its temporary), are refused up front, even with ``--overwrite``.
"""
import json
import os
import tempfile

from lib.errors import UserError
from lib.io import atomic
from lib.io.folder_lock import FolderLock
from lib.io.frame_io import PARTIAL_SUFFIX, image_size, write_image_rgb8_atomic

FRAME_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp")
VIDEO_OUTPUTS = ("mp4", "mkv")
MANIFEST = ".tecogan_outputs.json"


def check_writable_folder(folder, flag):
    """UserError unless ``folder`` exists as a writable folder or can be created (creates nothing)."""
    path = os.path.abspath(folder)
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        kind = "a file" if os.path.isfile(existing) else "not a folder"
        where = "" if existing == path else f" ('{existing}' on its path)"
        raise UserError(f"{flag} '{folder}' cannot be a folder: '{existing}' is {kind}{where}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tecogan-write-test-", dir=existing))
    except OSError as err:
        raise UserError(f"{flag} '{folder}' is not writable: cannot create anything in "
                        f"'{existing}' ({err.strerror})") from None


def safe_subfolder(output_dir, output_pre):
    """``output_dir/output_pre``, refusing an ``output_pre`` that leads outside ``output_dir``."""
    if not output_pre:
        return output_dir
    joined = os.path.normpath(os.path.join(output_dir, output_pre))
    inside = os.path.normpath(output_dir)
    if os.path.isabs(output_pre) or os.path.relpath(joined, inside).split(os.sep)[0] == "..":
        raise UserError(f"--output_pre '{output_pre}' leads outside --output_dir '{output_dir}'; "
                        "give a sub-folder name (or change --output_dir)")
    return os.path.join(output_dir, output_pre)


def check_output_name(output_name):
    if not output_name or os.sep in output_name or (os.altsep and os.altsep in output_name) \
            or output_name in (".", ".."):
        raise UserError(f"--output_name '{output_name}' must be a plain file-name prefix "
                        "(no folders)")


def input_identity(source, checkpoint=None, num_resblock=None):
    """What the manifest records about an input: enough to tell another clip from this one."""
    return {"input": os.path.realpath(source.path) if source.path else source.label,
            "degraded_from_hr": bool(source.degrade), "frames": len(source),
            "lr_size": list(source.size),
            "checkpoint": os.path.abspath(checkpoint) if checkpoint else None,
            "num_resblock": num_resblock}


class OutputPlan:
    """Where each frame goes, checked against what the folder already holds."""

    def __init__(self, image_dir, output_name, ext, source, overwrite, identity=None):
        ext = ext.lower().lstrip(".")
        if ext not in FRAME_EXTENSIONS + VIDEO_OUTPUTS:
            raise UserError(f"--output_ext '{ext}' is not supported; use one of "
                            f"{', '.join(FRAME_EXTENSIONS + VIDEO_OUTPUTS)}")
        check_output_name(output_name)
        self.image_dir, self.output_name, self.ext = image_dir, output_name, ext
        self.overwrite = overwrite
        self.is_video = ext in VIDEO_OUTPUTS
        self.hr_size = (4 * source.size[0], 4 * source.size[1])
        self.identity = dict(identity or input_identity(source))
        if self.is_video:
            self.video_path = os.path.join(image_dir, f"{output_name}_{source.label}.{ext}")
            self.key = os.path.basename(self.video_path)
            self.paths = {}
        else:
            self.paths = {n: os.path.join(image_dir, f"{output_name}_{n}.{ext}")
                          for n in source.names}
            self.key = f"{output_name}_*.{ext}"
        # What the manifest lists as ours: --overwrite of a later run removes only these.
        self.identity["files"] = sorted(self._planned_names())
        self._input = source.path
        self._to_delete = []
        self._begun = False
        self._lock = None
        self._check_name_lengths()
        self._check_inputs_safe()
        self._check_targets()
        self._check_existing()

    def _planned_names(self):
        return {self.key} if self.is_video else {os.path.basename(p) for p in self.paths.values()}

    # -- checks (nothing is changed on disk) ---------------------------------------------------
    def _manifest_path(self):
        return os.path.join(self.image_dir, MANIFEST)

    def _read_manifest(self):
        """(records, damaged): damaged when the manifest exists but cannot be trusted."""
        path = self._manifest_path()
        if not os.path.lexists(path):
            return {}, False
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}, True
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            return {}, True
        return data, False

    def _check_inputs_safe(self):
        """Outputs never go into the input folder, nor onto an input file (links resolved)."""
        if not self._input:
            return
        source = os.path.realpath(self._input)
        if os.path.isdir(source):
            if os.path.realpath(self.image_dir) == source:
                raise UserError(f"the output folder '{self.image_dir}' is the input folder; the "
                                "outputs would mix with the input frames. Give another "
                                "--output_dir (or --output_pre)")
            inside = lambda path: os.path.dirname(os.path.realpath(path)) == source
        else:
            inside = lambda path: os.path.realpath(path) == source
        targets = [self.video_path] if self.is_video else list(self.paths.values())
        for path in targets:
            if os.path.lexists(path) and inside(path) or \
                    not os.path.lexists(path) and os.path.realpath(path) == source:
                raise UserError(f"output '{path}' would be written over the input "
                                f"'{self._input}'; give another --output_dir or --output_name")

    def _targets(self):
        return [self.video_path] if self.is_video else list(self.paths.values())

    def _check_name_lengths(self):
        """Every name this run creates fits the file system: the output folders still to be made,
        each output and its temporary (``.NAME.<random>.partial``, 18 bytes longer), so a long
        --output_name fails here, not mid-run with frames already written and recorded."""
        existing, missing = os.path.abspath(self.image_dir), []
        while not os.path.isdir(existing):
            missing.append(os.path.basename(existing))
            existing = os.path.dirname(existing)
        try:
            name_max = os.pathconf(existing, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = None
        name_max = name_max if name_max and name_max > 0 else 255
        for name in missing:
            if len(os.fsencode(name)) > name_max:
                raise UserError(f"the folder name '{name}' of --output_dir/--output_pre is "
                                f"{len(os.fsencode(name))} bytes, more than the {name_max} the "
                                "file system allows; choose a shorter one")
        longest = max(self._targets(), key=lambda path: len(os.fsencode(os.path.basename(path))))
        final = os.fsencode(os.path.basename(longest))
        temporary = len(os.fsencode(atomic.longest_temp_name(longest)))
        if temporary > name_max:
            room = name_max - (temporary - len(os.fsencode(self.output_name)))
            fix = (f"choose a shorter --output_name (at most {room} bytes here)" if room > 0
                   else "rename the input (its frame names are too long for it)")
            raise UserError(f"output name '{os.path.basename(longest)}' ({len(final)} bytes) is "
                            f"too long: written under a temporary name of {temporary} bytes first, "
                            f"it exceeds the {name_max} bytes the file system allows for a name; "
                            f"{fix}")

    def _check_targets(self):
        """A planned output that exists as a folder (or a FIFO, a device...) cannot be replaced by
        a file: refused before any work, with or without --overwrite (which removes only files)."""
        for path in self._targets():
            if os.path.exists(path) and not os.path.isfile(path):
                kind = "a folder" if os.path.isdir(path) else "not a regular file"
                raise UserError(f"output '{path}' exists and is {kind}; move it away, or choose "
                                "another --output_dir/--output_name")

    def _existing_outputs(self):
        if self.is_video:
            return [self.key] if os.path.isfile(self.video_path) else []
        prefix, suffix = f"{self.output_name}_", f".{self.ext}"
        return [n for n in os.listdir(self.image_dir)
                if n.startswith(prefix) and n.lower().endswith(suffix)]

    def _same_input(self, record):
        mine = self.identity
        return (record.get("input") == mine["input"]
                and bool(record.get("degraded_from_hr")) == mine["degraded_from_hr"]
                and list(record.get("lr_size") or []) == mine["lr_size"])

    def _same_model(self, record):
        """Same checkpoint and block count (records of older versions without them: same)."""
        mine = self.identity
        theirs = record.get("checkpoint")
        if "checkpoint" in record and theirs != mine.get("checkpoint") and \
                not (theirs and mine.get("checkpoint")
                     and os.path.realpath(theirs) == os.path.realpath(mine["checkpoint"])):
            return False
        return "num_resblock" not in record or record["num_resblock"] == mine.get("num_resblock")

    def _refuse(self, why):
        raise UserError(f"output folder '{self.image_dir}' already holds {why}; use --overwrite "
                        "to replace them, or another --output_dir/--output_pre")

    def _recorded_ours(self, record, existing):
        """Existing outputs the manifest record lists as ours, other than this run's names:
        what --overwrite may remove (only names of this prefix and extension, never inputs)."""
        files = record.get("files")
        if not isinstance(files, list):
            return []           # an older manifest: it does not say which files; remove none
        planned = self._planned_names()
        return sorted(n for n in set(existing) & {f for f in files if isinstance(f, str)}
                      if n not in planned and os.path.basename(n) == n
                      and not self._is_input(os.path.join(self.image_dir, n)))

    def _is_input(self, path):
        if not self._input:
            return False
        source = os.path.realpath(self._input)
        real = os.path.realpath(path)
        return real == source or os.path.dirname(real) == source

    def _check_existing(self):
        self._to_delete = []
        if not os.path.isdir(self.image_dir):
            return
        existing = self._existing_outputs()
        if not existing:
            return
        records, damaged = self._read_manifest()
        if damaged:
            if not self.overwrite:
                self._refuse(f"outputs of an unknown run (its manifest '{MANIFEST}' is damaged, "
                             f"so who wrote e.g. '{sorted(existing)[0]}' is unknown)")
            return          # --overwrite: the planned names are replaced, nothing else removed
        record = records.get(self.key)
        planned = self._planned_names()
        if record is not None:
            if self._same_input(record):
                if not self._same_model(record) and not self.overwrite:
                    self._refuse(f"outputs of this clip made by another run (checkpoint "
                                 f"'{record.get('checkpoint')}', {record.get('num_resblock')} "
                                 f"blocks; this run uses '{self.identity.get('checkpoint')}', "
                                 f"{self.identity.get('num_resblock')} blocks)")
                self._to_delete = self._recorded_ours(record, existing)
                if self._to_delete and not self.overwrite:
                    # A shorter rerun (--input_dir_len, or a shorter clip at the same path):
                    # the earlier run's other frames are computed results; neither remove them
                    # unasked nor leave them to mix with this run's.
                    count = len(self._to_delete)
                    raise UserError(
                        f"output folder '{self.image_dir}' holds {count} recorded output"
                        f"{'s' if count > 1 else ''} of an earlier run of this input "
                        f"({record.get('frames')} frames) that this run ({len(self.paths)} "
                        f"frames) would not write again, e.g. '{self._to_delete[-1]}'; "
                        "--overwrite removes them, or choose another --output_dir/--output_pre")
                return
            if not self.overwrite:
                size = record.get("lr_size") or [0, 0]
                other_size = list(size) != self.identity["lr_size"]
                self._refuse(f"frames of another clip{' of another size' if other_size else ''} "
                             f"(made from '{record.get('input')}', {record.get('frames')} frames "
                             f"of {4 * size[0]}x{4 * size[1]}; this run reads "
                             f"'{self.identity['input']}')")
            self._to_delete = self._recorded_ours(record, existing)
            return
        if self.is_video:
            if not self.overwrite:
                raise UserError(f"'{self.video_path}' already exists; use --overwrite to "
                                "replace it")
            return
        if self.overwrite:
            return      # No manifest: nothing proves the other files are ours; none is removed.
        foreign = sorted(set(existing) - planned)
        if foreign:
            self._refuse(f"frames of another clip (e.g. '{foreign[0]}')")
        for name in sorted(set(existing) & planned, key=sort_key(self.paths)):
            why = self._not_our_frame(name)
            if why:
                raise UserError(f"output folder '{self.image_dir}' holds '{name}', {why}, under "
                                "a name this run writes; --overwrite replaces it, or choose "
                                "another --output_dir/--output_pre/--output_name")

    def _not_our_frame(self, name):
        """Why the existing ``name`` (a planned output, in a folder without a manifest) cannot be
        a frame of ours, or None when it can: an image of the output size (an earlier run of the
        original code or of a version before the manifest), or an empty file (what a version
        before the atomic writes left when killed). Since frames are written atomically, no run
        leaves anything else under a final name, so a file that is no image of this size is the
        user's."""
        path = os.path.join(self.image_dir, name)
        try:
            if os.path.getsize(path) == 0:
                return None
            size = image_size(path)
        except (OSError, UserError):
            return "not an image this run could have written"
        if size != self.hr_size:
            return (f"an image of {size[0]}x{size[1]}, not of this run's "
                    f"{self.hr_size[0]}x{self.hr_size[1]}")
        return None

    # -- changes, once everything has been checked ---------------------------------------------
    def begin(self):
        """Called when the first output is ready: take the folder's lock, check again under it
        (another run may have written meanwhile), clean up, record the input, delete (only with
        --overwrite) the files the manifest lists as the other run's outputs."""
        if self._begun:
            return
        created = not os.path.isdir(self.image_dir)
        os.makedirs(self.image_dir, exist_ok=True)
        lock = FolderLock(self.image_dir, what="inference output folder")
        try:
            lock.acquire()
            self._check_inputs_safe()
            self._check_targets()
            self._check_existing()
        except BaseException:
            lock.release()
            if created:
                _rmdir_quietly(self.image_dir)
            raise
        self._lock, self._begun = lock, True
        for name in os.listdir(self.image_dir):     # leftovers of a killed run
            if name.startswith(f"{self.output_name}_") and name.endswith(PARTIAL_SUFFIX) or \
                    name.startswith(f".{self.output_name}_") and atomic.is_leftover(name):
                _remove_quietly(os.path.join(self.image_dir, name))
        self._write_manifest()
        for name in self._to_delete:
            _remove_quietly(os.path.join(self.image_dir, name))

    def close(self):
        """Release the folder (the run ended, however)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _write_manifest(self):
        data, _ = self._read_manifest()       # a damaged one is replaced (--overwrite only)
        data[self.key] = self.identity
        try:
            atomic.write_text(self._manifest_path(),
                              json.dumps(data, indent=1, sort_keys=True), fsync=False)
        except OSError as err:
            raise UserError(f"cannot write '{self._manifest_path()}': {err.strerror}") from None

    def record_frames(self, names):
        """The run wrote only the frames ``names`` (its input ended early): the manifest says
        so, so a later run compares with what is really there."""
        self.identity["frames"] = len(names)
        if not self.is_video:
            self.identity["files"] = sorted(os.path.basename(self.paths[n]) for n in names)
        self._write_manifest()

    def write_frame(self, name, rgb):
        self.begin()
        write_image_rgb8_atomic(self.paths[name], rgb)

    @property
    def output(self):
        return self.video_path if self.is_video else self.image_dir


def sort_key(paths):
    """Existing output names in the clip's order (the first of them is named in a refusal)."""
    order = {os.path.basename(p): i for i, p in enumerate(paths.values())}
    return lambda name: order.get(name, len(order))


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass
