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
* Frames are written to ``<name>.partial`` and renamed, so a killed run never leaves a half frame
  under a final name; leftovers of a killed run are cleaned up and do not block a rerun.
"""
import json
import os
import tempfile

from lib.errors import UserError
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
        self.identity = identity or input_identity(source)
        if self.is_video:
            self.video_path = os.path.join(image_dir, f"{output_name}_{source.label}.{ext}")
            self.key = os.path.basename(self.video_path)
            self.paths = {}
        else:
            self.paths = {n: os.path.join(image_dir, f"{output_name}_{n}.{ext}")
                          for n in source.names}
            self.key = f"{output_name}_*.{ext}"
        self._to_delete = []
        self._begun = False
        self._check_existing()

    # -- checks (nothing is changed on disk) ---------------------------------------------------
    def _manifest_path(self):
        return os.path.join(self.image_dir, MANIFEST)

    def _read_manifest(self):
        try:
            with open(self._manifest_path(), encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}      # missing or damaged: fall back to the name and size checks

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

    def _refuse(self, why):
        raise UserError(f"output folder '{self.image_dir}' already holds {why}; use --overwrite "
                        "to replace them, or another --output_dir/--output_pre")

    def _check_existing(self):
        if not os.path.isdir(self.image_dir):
            return
        existing = self._existing_outputs()
        if not existing:
            return
        record = self._read_manifest().get(self.key)
        planned = {os.path.basename(p) for p in self.paths.values()}
        if record is not None:
            if self._same_input(record):
                return
            if not self.overwrite:
                size = record.get("lr_size") or [0, 0]
                other_size = list(size) != self.identity["lr_size"]
                self._refuse(f"frames of another clip{' of another size' if other_size else ''} "
                             f"(made from '{record.get('input')}', {record.get('frames')} frames "
                             f"of {4 * size[0]}x{4 * size[1]}; this run reads "
                             f"'{self.identity['input']}')")
            self._to_delete = sorted(set(existing) - planned)
            return
        if self.is_video:
            if not self.overwrite:
                raise UserError(f"'{self.video_path}' already exists; use --overwrite to "
                                "replace it")
            return
        foreign = sorted(set(existing) - planned)
        ours = sorted(set(existing) & planned)
        wrong_size = [n for n in ours[:1] if self._readable_size(n) not in (None, self.hr_size)]
        if (foreign or wrong_size) and not self.overwrite:
            example = (foreign or wrong_size)[0]
            why = "frames of another clip" if foreign else "frames of another size"
            self._refuse(f"{why} (e.g. '{example}')")
        if self.overwrite:
            self._to_delete = foreign

    def _readable_size(self, name):
        """Size of an existing output, or None when it is broken (a killed run's): then it is
        simply written again and must not block the rerun."""
        try:
            return image_size(os.path.join(self.image_dir, name))
        except UserError:
            return None

    # -- changes, once everything has been checked ---------------------------------------------
    def begin(self):
        """Called when the first output is ready: clean up, record the input, delete (only with
        --overwrite) the other clip's outputs."""
        if self._begun:
            return
        self._begun = True
        os.makedirs(self.image_dir, exist_ok=True)
        for name in os.listdir(self.image_dir):     # leftovers of a killed run
            if name.startswith(f"{self.output_name}_") and name.endswith(PARTIAL_SUFFIX):
                _remove_quietly(os.path.join(self.image_dir, name))
        self._write_manifest()
        for name in self._to_delete:
            _remove_quietly(os.path.join(self.image_dir, name))

    def _write_manifest(self):
        data = self._read_manifest()
        data[self.key] = self.identity
        tmp = self._manifest_path() + PARTIAL_SUFFIX
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self._manifest_path())
        except OSError as err:
            raise UserError(f"cannot write '{self._manifest_path()}': {err.strerror}") from None

    def write_frame(self, name, rgb):
        self.begin()
        write_image_rgb8_atomic(self.paths[name], rgb)

    @property
    def output(self):
        return self.video_path if self.is_video else self.image_dir


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
