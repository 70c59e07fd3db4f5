"""Video files in and out through the ffmpeg binary that ships with imageio-ffmpeg.

* :func:`probe_video` - frame rate, size and (exact: what decodes) frame count of the first video
  stream.
* :func:`iter_video_frames` - every frame as RGB uint8 HxWx3, decoded once and in order, one frame
  in memory at a time. Frames are neither dropped nor duplicated (``-fps_mode passthrough``), so
  frame ``i`` of the iterator is the ``i``-th decoded picture of the stream; this replaces the
  per-frame OpenCV seek of the original ``dataPrepare.py``, which could land on the wrong frame.
* :class:`VideoWriter` - RGB uint8 frames to an mp4/mkv file (x264; default 4:2:0 at CRF 18, which
  every browser and player decodes; ``crf=0`` = lossless x264 with 4:4:4 chroma, which browsers
  refuse), optionally with the audio of a source video. The file appears under its name only when
  complete.

A missing, unreadable or truncated video raises :class:`lib.errors.UserError` naming the file.
"""
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from lib.errors import UserError
from lib.io.disk_full import NO_SPACE_TEXTS, no_space_message
from lib.io import atomic

# ffmpeg messages that mean the input is damaged (truncated download, corrupt stream).
_DAMAGE_MARKERS = ("partial file", "invalid data", "decoding error", "error while decoding",
                   "truncat", "corrupt", "moov atom not found", "invalid nal unit")

_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Audio codecs each muxer takes as they are (copied); anything else is re-encoded to AAC, which
# ffmpeg always has. Matroska does not take every codec: ADPCM, for one, fails at the first packet.
_MP4_AUDIO_COPY = ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac")
_MKV_AUDIO_COPY = _MP4_AUDIO_COPY + ("vorbis", "mp2", "dts", "truehd", "pcm_s16le", "pcm_s24le",
                                     "pcm_s32le", "pcm_f32le", "pcm_s16be", "pcm_u8", "wavpack")
# Channel layouts ffmpeg's AAC encoder takes; other layouts (or counts) are downmixed to stereo.
_AAC_LAYOUTS = ("mono", "stereo", "3.0", "4.0", "5.0", "5.0(side)", "5.1", "5.1(side)", "6.1",
                "7.1", "7.1(wide)", "7.1(wide-side)")
DEFAULT_CRF = 18


def find_ffmpeg():
    """Path of an ffmpeg binary: imageio-ffmpeg's (or $IMAGEIO_FFMPEG_EXE), else one on PATH;
    None when there is none (callers that can do without, e.g. GIF summaries, decide)."""
    try:
        import imageio_ffmpeg   # here: optional for callers that can do without ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def ffmpeg_exe():
    """Path of the ffmpeg binary; UserError saying how to get one when there is none."""
    path = find_ffmpeg()
    if path is None:
        raise UserError("no ffmpeg binary found, and video files need one: pip install "
                        "imageio-ffmpeg (it ships ffmpeg)")
    return path


def _check_input(path):
    if not os.path.isfile(path):
        raise UserError(f"video file '{path}' does not exist")
    if os.path.getsize(path) == 0:
        raise UserError(f"video file '{path}' is empty (an interrupted download?)")


def _tail(text, lines=6):
    return "\n".join(text.strip().splitlines()[-lines:])


def _parse_header(text, path):
    """Size, fps, duration and rotation of the first video stream from ``ffmpeg -i`` output."""
    stream = None
    for line in text.splitlines():
        if re.search(r"Stream #\d+:\d+.*: Video:", line):
            stream = line
            break
    if stream is None:
        raise UserError(f"'{path}' is not a readable video (ffmpeg found no video stream): "
                        f"{_tail(text, 2)}")
    size = re.search(r"[\s,](\d+)x(\d+)(?=[\s,\[]|$)", stream.split("Video:", 1)[1])
    if not size:
        raise UserError(f"cannot read the frame size of '{path}' from: {stream.strip()}")
    width, height = int(size.group(1)), int(size.group(2))
    fps = re.search(r"([\d.]+) fps", stream) or re.search(r"([\d.]+)(k?) tbr", stream)
    fps_value = None
    if fps:
        fps_value = float(fps.group(1)) * (1000.0 if fps.lastindex == 2 and fps.group(2) else 1.0)
    duration = None
    match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    if match:
        duration = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", text) or re.search(
        r"rotate\s*:\s*(-?\d+)", text)
    if rotation and round(abs(float(rotation.group(1)))) % 180 == 90:
        width, height = height, width   # ffmpeg auto-rotates on decoding
    audio = re.search(r"Stream #\d+:\d+.*: Audio: (\w+)(.*)", text)
    return dict(fps=fps_value, width=width, height=height, duration=duration,
                audio_codec=audio.group(1) if audio else None,
                audio_layout=_audio_layout(audio.group(2)) if audio else None)


def _audio_layout(rest):
    """The channel layout of an ``ffmpeg -i`` audio stream line after the codec name: 'mono',
    'stereo', '5.1(side)', '16 channels', ... (the field after the sample rate); None if absent."""
    fields = [f.strip() for f in rest.split(",")]
    for i, field in enumerate(fields):
        if field.endswith(" Hz") and i + 1 < len(fields):
            return fields[i + 1]
    return None


# Demuxers whose edit lists can hide demuxed packets: ffmpeg's mov demuxer (mp4, mov, m4v, 3gp)
# marks the samples outside the edit as discarded, so they are demuxed but never decoded. A clip
# cut with `ffmpeg -ss 0.52 -i in.mp4 -t 0.4 -c copy` keeps the packets back to the previous
# keyframe: 25 packets, of which 12 are frames. Other containers (Matroska/WebM, AVI) have no
# edit lists; each of their video packets is a frame.
_EDIT_LIST_DEMUXERS = ("mov", "mp4")


def may_hide_packets(demuxer):
    """True when packets of this demuxer ('mov,mp4,m4a,3gp,3g2,mj2' as ``ffmpeg -i`` names it)
    may not all be frames (edit lists), so only decoding counts the frames exactly."""
    return demuxer is None or bool(set(demuxer.split(",")) & set(_EDIT_LIST_DEMUXERS))


def count_video_frames(path, decode=None):
    """Exact number of frames the first video stream decodes to.

    Counting packets (a demux pass without decoding, ~0.03 s for any length) is exact where each
    packet is a frame; where an edit list can hide packets (``decode=None``: the mov/mp4 family,
    :func:`may_hide_packets`; ``decode=True``: always) the frames are counted by decoding them to
    ffmpeg's null output, with the same options as :func:`iter_video_frames`. That costs about
    0.2 s per minute of 320x180 video and 2.5 s per minute of 1080p (two cores), small beside
    the network's time per frame, and a wrong count would be wrong everywhere: the progress bar,
    the manifest's frame count and the length the sound is cut to.
    """
    _check_input(path)
    if decode is None:
        decode = may_hide_packets(_demuxer(path))
    codec = ["-an", "-sn", "-dn", "-fps_mode", "passthrough"] if decode else ["-c", "copy"]
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
           "-i", path, "-map", "0:v:0"] + codec + ["-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise UserError(f"cannot read video '{path}': {_tail(proc.stderr) or 'ffmpeg failed'}")
    counts = re.findall(r"^frame=(\d+)", proc.stdout, flags=re.M)
    count = int(counts[-1]) if counts else None
    if decode and any(marker in proc.stderr.lower() for marker in _DAMAGE_MARKERS):
        # what iter_video_frames would find after the network has loaded: said now
        raise UserError(f"video '{path}' is damaged or truncated (decoding stopped with errors "
                        f"after {count} frames); download it again. ffmpeg said: "
                        f"{_tail(proc.stderr, 3)}")
    return count


def _demuxer(path):
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", path],
                          capture_output=True, text=True, errors="replace")
    return _demuxer_name(proc.stderr)


def _demuxer_name(text):
    """'mov,mp4,m4a,3gp,3g2,mj2' from ffmpeg's 'Input #0, mov,mp4,..., from ...' (None if absent)."""
    match = re.search(r"^Input #0, (.+?), from ", text, flags=re.M)
    return match.group(1) if match else None


def probe_video(path, count_frames=True):
    """``dict(fps, width, height, frames, duration, audio_codec)`` of the first video stream.

    ``fps`` is a float (None when the file has none), ``width``/``height`` are the size of the
    decoded (auto-rotated) frames, ``audio_codec`` the codec of the first audio stream (None
    without audio). ``frames`` is the exact number of frames that decode
    (:func:`count_video_frames`), or None when not asked for (``count_frames=False``) or unknown.
    """
    _check_input(path)
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", path],
                          capture_output=True, text=True, errors="replace")
    text = proc.stderr
    if "Error opening input" in text or "No such file" in text:
        raise UserError(f"cannot open video '{path}' (not a video, or truncated?): "
                        f"{_tail(text, 2)}")
    info = _parse_header(text, path)
    info["frames"] = count_video_frames(path, may_hide_packets(_demuxer_name(text))) \
        if count_frames else None
    return info


def _read_exact(stream, count):
    chunks, left = [], count
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_ppm_header(stream):
    """Width and height from a binary PPM header written by ffmpeg ("P6\\nW H\\n255\\n")."""
    magic = stream.readline()
    if not magic:
        return None
    if magic.strip() != b"P6":
        raise RuntimeError(f"unexpected data from ffmpeg: {magic[:20]!r}")
    fields = []
    while len(fields) < 3:
        line = stream.readline()
        if not line:
            raise RuntimeError("ffmpeg output ended inside a frame header")
        fields += line.split(b"#", 1)[0].split()
    width, height, maxval = (int(v) for v in fields[:3])
    if maxval != 255:
        raise RuntimeError(f"unexpected PPM depth {maxval}")
    return width, height


def iter_video_frames(path, strict=True):
    """Yield the frames of ``path`` as RGB uint8 arrays (H, W, 3), in order, decoded once.

    Memory stays bounded (one frame at a time). When the stream ends, ffmpeg's exit status and
    messages are checked: a video that cannot be opened, fails to decode or is truncated raises
    :class:`UserError` (with ``strict=False`` only a failing ffmpeg does; decoding errors that
    ffmpeg survived are then ignored). Stopping the iteration early stops ffmpeg.
    """
    _check_input(path)
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-i", path,
           "-map", "0:v:0", "-an", "-sn", "-dn", "-fps_mode", "passthrough",
           "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "-"]
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errfile, bufsize=1 << 20)
        finished = False
        count = 0
        try:
            while True:
                try:
                    header = _read_ppm_header(proc.stdout)
                    if header is None:
                        break
                    width, height = header
                    data = _read_exact(proc.stdout, width * height * 3)
                except (RuntimeError, ValueError) as err:
                    proc.wait()
                    raise UserError(f"cannot decode video '{path}': {err}; "
                                    f"{_tail(_read_err(errfile))}") from None
                if len(data) < width * height * 3:
                    break
                count += 1
                yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
            proc.wait()
            finished = True
        finally:
            if not finished and proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        messages = _read_err(errfile)
    if proc.returncode != 0:
        raise UserError(f"cannot read video '{path}' (not a video, or truncated?): "
                        f"{_tail(messages) or f'ffmpeg exit status {proc.returncode}'}")
    if strict and any(marker in messages.lower() for marker in _DAMAGE_MARKERS):
        raise UserError(f"video '{path}' is damaged or truncated (decoding stopped with errors "
                        f"after {count} frames); download it again. ffmpeg said: {_tail(messages, 3)}")
    if count == 0:
        raise UserError(f"video '{path}' has no decodable frames")


def _read_err(errfile):
    errfile.flush()
    errfile.seek(0)
    return errfile.read().decode("utf-8", "replace")


def rate_argument(fps):
    """ffmpeg's -r value: NTSC rates as the exact fractions (29.97 -> 30000/1001), so long clips
    keep their sync with the source audio; other rates as they are."""
    for base in (24, 30, 48, 60, 120):
        if abs(fps - base * 1000 / 1001) < 0.006:
            return f"{base * 1000}/1001"
    return repr(float(fps))


def audio_codec_arguments(container, audio_codec, layout=None):
    """``-c:a ...`` for the first audio stream: copied when ``container`` takes ``audio_codec``,
    else AAC, downmixed to stereo when the encoder does not take the channel ``layout``."""
    takes = _MKV_AUDIO_COPY if container == "matroska" else _MP4_AUDIO_COPY
    if audio_codec in takes:
        return ["-c:a", "copy"]
    downmix = [] if layout is None or layout in _AAC_LAYOUTS else ["-ac", "2"]
    return ["-c:a", "aac", "-b:a", "192k"] + downmix


# when the first choice fails anyway: AAC stereo, which every container here takes
FALLBACK_AUDIO = ["-c:a", "aac", "-b:a", "192k", "-ac", "2"]


def audio_arguments(container, audio_from, audio_codec, seconds, layout=None):
    """ffmpeg input and output arguments that carry the first audio stream of ``audio_from``."""
    if not audio_from or not audio_codec:
        return [], []
    inputs = (["-t", f"{seconds:.6f}"] if seconds else []) + ["-i", audio_from]
    return inputs, ["-map", "0:v:0", "-map", "1:a:0"] + audio_codec_arguments(
        container, audio_codec, layout)


class VideoWriter:
    """Write RGB uint8 frames to an mp4/mov/mkv file with x264.

    ``crf>0`` (default 18, visually lossless): yuv420p (width and height must be even), which
    every browser and player decodes. ``crf=0``: lossless x264 in yuv444p (only the RGB->YUV
    rounding is lost; BT.709 matrix, tagged), which browsers refuse. ``audio_from``: a video whose
    first audio stream is carried into the file (copied when the container takes the codec,
    AAC otherwise, downmixed to stereo when AAC does not take its channel layout; when no way
    works, the video is written without sound and ``audio_note`` says so), cut to
    ``audio_seconds`` when given. The file is written under a temporary
    name and renamed when :meth:`close` succeeds; on an exception inside the ``with`` block it is
    removed. Use as ``with VideoWriter(path, fps, w, h) as out: out.write(frame)``.
    """

    def __init__(self, path, fps, width, height, crf=DEFAULT_CRF, preset="medium",
                 audio_from=None, audio_seconds=None):
        ext = os.path.splitext(path)[1].lower()
        if ext not in _CONTAINERS:
            raise UserError(f"cannot write video '{path}': use one of "
                            f"{', '.join(sorted(_CONTAINERS))}")
        if not fps or fps <= 0:
            raise UserError(f"cannot write video '{path}': frame rate {fps!r} is not positive")
        width, height, crf = int(width), int(height), int(crf)
        if width <= 0 or height <= 0:
            raise UserError(f"cannot write video '{path}': bad size {width}x{height}")
        if not 0 <= crf <= 51:
            raise UserError(f"crf must be in 0..51 (0 = lossless), got {crf}")
        pix_fmt = "yuv444p" if crf == 0 else "yuv420p"
        if pix_fmt == "yuv420p" and (width % 2 or height % 2):
            raise UserError(f"cannot write '{path}' with crf {crf} (4:2:0 chroma) at odd size "
                            f"{width}x{height}; use crf 0 (lossless, 4:4:4) or an even size")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UserError(f"cannot write video '{path}': folder '{folder}' does not exist")
        self.path, self.width, self.height = path, width, height
        self.frames = 0
        self._tmp = None        # a unique temporary next to the target (lib/io/atomic.py)
        self._video_tmp = None  # with sound: the video alone, before the sound is added
        self._proc = None
        self._container = _CONTAINERS[ext]
        info = probe_video(audio_from, count_frames=False) if audio_from else {}
        self.audio_codec, self.audio_layout = info.get("audio_codec"), info.get("audio_layout")
        self._audio = (audio_from, audio_seconds) if self.audio_codec else None
        self.audio_note = None      # the line said when the sound could not be carried over
        # With sound, the video is encoded alone first and the sound added by a second pass
        # that copies the video: no problem of the sound can cost the encoded video.
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", rate_argument(fps), "-i", "-",
               "-vf", f"scale=out_color_matrix=bt709:out_range=tv,format={pix_fmt}",
               "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", pix_fmt,
               "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
               "-color_range", "tv"]
        if self._container in ("mp4", "mov") and self._audio is None:
            cmd += ["-movflags", "+faststart"]
        try:
            self._tmp = atomic.reserve_temp(path)
            if self._audio is not None:
                self._video_tmp = atomic.reserve_temp(path)
        except OSError as err:
            self.abort()
            raise UserError(f"cannot write video '{path}': {err.strerror or err}") from None
        # -f: the name's suffix is no format
        cmd += ["-f", self._container, self._video_tmp or self._tmp]
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=self._err)

    def write(self, frame):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise UserError(f"frame {self.frames} for '{self.path}' is {frame.dtype} "
                            f"{frame.shape}, expected uint8 ({self.height}, {self.width}, 3)")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            self._fail(f"ffmpeg stopped while writing frame {self.frames}")
        self.frames += 1

    def _fail(self, what):
        self.abort()
        raise UserError(f"cannot write video '{self.path}': {what}: "
                        f"{_tail(_read_err(self._err)) or 'no message'}")

    def close(self):
        """Finish the file; raises UserError if ffmpeg failed (disk full, ...)."""
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        status = self._proc.wait()
        if status != 0 or self.frames == 0:
            self._fail("no frames were written" if self.frames == 0 else
                       f"ffmpeg exit status {status}")
        self._proc = None
        self._err.close()
        if self._audio is None:
            self._move_into_place(self._tmp)
        else:
            self._add_audio()

    def _move_into_place(self, tmp):
        """Rename the finished temporary to the video's name. When that fails (the name became a
        folder, the folder went away, a read-only mount...): one UserError, and no temporary left
        behind."""
        try:
            os.replace(tmp, self.path)
        except OSError as err:
            self.abort()
            raise UserError(f"cannot write video '{self.path}': {err.strerror or err}") from None

    def cut_audio(self, seconds):
        """Cut the carried sound to ``seconds`` instead (the frames actually encoded, when the
        clip ended before its counted length); before :meth:`close`."""
        if self._audio is not None:
            self._audio = (self._audio[0], seconds)

    def _mux_command(self, codec_arguments):
        audio_from, seconds = self._audio
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y",
               "-i", self._video_tmp] + (["-t", f"{seconds:.6f}"] if seconds else []) + [
               "-i", audio_from, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"]
        cmd += codec_arguments
        if self._container in ("mp4", "mov"):
            cmd += ["-movflags", "+faststart"]
        return cmd + ["-f", self._container, self._tmp]

    def _add_audio(self):
        """The encoded video plus the source's sound: copied when the container takes its codec,
        else re-encoded (downmixed when needed), else AAC stereo; when nothing works, the video
        without sound and one line saying so."""
        first = audio_codec_arguments(self._container, self.audio_codec, self.audio_layout)
        for codec_arguments in (first, FALLBACK_AUDIO) if first != FALLBACK_AUDIO else (first,):
            proc = subprocess.run(self._mux_command(codec_arguments), capture_output=True,
                                  text=True, errors="replace")
            if proc.returncode == 0:
                self._move_into_place(self._tmp)
                _remove_file(self._video_tmp)
                return
            if any(text in proc.stderr for text in NO_SPACE_TEXTS):
                self.abort()
                raise UserError(no_space_message(f"'{self.path}'", "the same command"))
        self._move_into_place(self._video_tmp)
        _remove_file(self._tmp)
        self.audio_note = (f"note: the sound of '{self._audio[0]}' ({self.audio_codec}, "
                           f"{self.audio_layout or 'unknown layout'}) cannot be carried into "
                           f"'{os.path.basename(self.path)}'; the video was written without sound")
        print(self.audio_note, flush=True)

    def abort(self):
        """Stop ffmpeg and remove the unfinished file."""
        if self._proc is not None:
            try:
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
        for tmp in (self._tmp, self._video_tmp):
            if tmp:
                _remove_file(tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def _remove_file(path):
    """Remove a temporary of ours if it is still there (never raises: used while cleaning up)."""
    try:
        os.remove(path)
    except OSError:
        pass
