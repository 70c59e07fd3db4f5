"""The training videos of TecoGAN and user-supplied video lists for ``dataPrepare.py``.

:data:`OFFICIAL_VIDEOS` is the original ``dataPrepare.py`` list (thunil/TecoGAN): 28 Vimeo ids, in
the original order, each with the start frames of its 120-frame scenes (308 scenes). The start
frames were copied from the original file; the ids 335874600 and 160578133 are the authors'
replacements for videos that had gone 404 (36 scenes that differ from the published models' data).

A video list file (``--video_list``) replaces it. Two forms are accepted:

* text, one video per line: ``SOURCE START [START ...]`` - SOURCE is an http(s) URL, a bare
  Vimeo id, a ``file://`` URL or a local video file (relative paths are relative to the list file); starts are separated by
  spaces or commas; ``#`` starts a comment; quote a path that contains spaces. An optional
  ``name=NAME`` field sets the file name.
* JSON (``.json``), like the original dict: ``{"SOURCE": [START, ...], ...}``.
"""
import json
import math
import os
import re
import urllib.parse
import urllib.request

from lib.errors import UserError
from lib.io.output_paths import check_output_file, write_text_atomically

VIMEO = "https://vimeo.com/"

OFFICIAL_VIDEOS = (
    ("121649159", (0, 310, 460, 720, 860)),
    ("40439273", (90, 520, 700, 1760, 2920, 3120, 3450, 4750, 4950, 5220, 6500, 6900, 9420, 9750)),
    ("87389090", (100, 300, 500, 800, 1000, 1200, 1500, 1900, 2050, 2450, 2900)),
    ("335874600", (287, 308, 621, 1308, 1538, 1768, 2036, 2181, 2544, 2749, 2867, 3404, 3543,
                   3842, 4318, 4439, 4711, 4900, 7784, 8811, 9450)),          # replacement
    ("114053015", (30, 1150, 2160, 2340, 3190, 3555)),
    ("160578133", (550, 940, 1229, 1460, 2220, 2900, 3180, 4080, 4340, 4612, 4935, 5142, 5350,
                   5533, 7068)),                                              # replacement
    ("148058982", (80, 730, 970, 1230, 1470, 1740)),
    ("150225201", (0, 560, 1220, 1590, 1780)),
    ("145096806", (0, 300, 550, 800, 980, 1500)),
    ("125621327", (240, 900, 1040, 1300, 1970, 2130, 2530, 3020, 3300, 3620, 3830, 4300, 4700,
                   4960)),
    ("162166758", (120, 350, 540, 750, 950, 1130, 1320, 1530, 1730, 1930)),
    ("115829238", (140, 450, 670, 910, 1100, 1380, 1520, 1720)),
    ("159455925", (40, 340, 490, 650, 850, 1180, 1500, 1800, 2000, 2300, 2500, 2800, 3200)),
    ("193873193", (0, 280, 1720)),
    ("133842385", (300, 430, 970, 1470, 1740, 2110, 2240, 2760, 3080, 3210, 3400, 3600)),
    ("97692560", (0, 210, 620, 930, 1100, 1460, 1710, 2400, 2690, 3200, 3400, 3560, 3780)),
    ("142480565", (835, 1380, 1520, 1700, 2370, 4880)),
    ("174952003", (480, 680, 925, 1050, 1200, 1380, 1600, 1800, 2100, 2350, 2480, 2680, 3000,
                   3200, 3460, 4500, 4780, 5040, 5630, 5830, 6400, 6680, 7300, 7500, 7800)),
    ("165643973", (300, 600, 1000, 1500, 1700, 1900, 2280, 2600, 2950, 3200, 3500, 3900, 4300,
                   4500)),
    ("163736142", (120, 400, 700, 1000, 1300, 1500, 1750, 2150, 2390, 2550, 3100, 3400, 3800,
                   4100, 4400, 4800, 5100, 5500, 5800, 6300)),
    ("189872577", (0, 170, 340, 4380, 4640, 5140, 7300, 7470, 7620, 7860, 9190, 9370)),
    ("181180995", (30, 160, 400, 660, 990, 2560, 2780, 3320, 3610, 5860, 6450, 7260, 7440, 8830,
                   9020, 9220, 9390)),
    ("167892347", (220, 1540, 2120, 2430, 5570, 6380, 6740)),
    ("146484162", (1770, 2240, 3000, 4800, 4980, 5420, 6800)),
    ("204313990", (110,)),
    ("169958461", (140, 700, 1000, 1430, 1630, 1900, 2400, 2600, 2800, 3000, 3200, 3600, 3900,
                   4200, 4600, 5000, 5700, 6000, 6400, 6800, 7100, 7600, 7900, 8200)),
    ("198634890", (200, 320, 440, 1200, 1320, 1560, 1680, 1800, 1920, 3445)),
    ("89936769", (1260, 1380, 1880)),
)


class Video:
    """One entry: ``name`` (file name stem), ``source`` (URL or local path), ``starts``."""

    def __init__(self, name, source, starts):
        self.name, self.source, self.starts = name, source, tuple(int(s) for s in starts)

    @property
    def is_local(self):
        return urllib.parse.urlsplit(self.source).scheme.lower() not in ("http", "https")

    def __repr__(self):
        return f"Video({self.name!r}, {self.source!r}, {self.starts})"


def official_videos():
    return [Video(vid, VIMEO + vid, starts) for vid, starts in OFFICIAL_VIDEOS]


def _name_for(source):
    if re.fullmatch(r"\d+", source):
        return source
    path = urllib.parse.urlsplit(source).path if "://" in source else source
    stem = os.path.splitext(os.path.basename(path.rstrip("/")))[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "video"


def _source_for(raw, base_dir, where):
    if re.fullmatch(r"\d+", raw):
        return VIMEO + raw
    scheme = urllib.parse.urlsplit(raw).scheme.lower()
    if scheme in ("http", "https"):
        return raw
    if scheme == "file":
        return urllib.request.url2pathname(urllib.parse.urlsplit(raw).path)
    if "://" in raw:    # else ftp://host/clip.mp4 would be looked for as a local file of that name
        raise UserError(f"{where}: '{raw}': only http(s):// and file:// addresses are fetched; "
                        "download it yourself and list the local file")
    path = os.path.expanduser(raw)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))


def _start(value):
    """One start frame as an int, or None when it is not a whole number.

    Stricter than ``int()``: a JSON ``true`` or ``1.9`` would silently become 1, ``1e400`` is
    infinity (OverflowError), and ``int()`` of text also takes '1_0' and non-ASCII digits ('١٠').
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return None


def _starts(values, where):
    starts = [_start(v) for v in values]
    if any(s is None for s in starts):
        bad = next(v for v, s in zip(values, starts) if s is None)
        raise UserError(f"{where}: start frames must be whole numbers, got {bad!r} in "
                        f"{list(values)!r}")
    if not starts or any(s < 0 for s in starts):
        raise UserError(f"{where}: give at least one start frame, none negative")
    return starts


def _as_text(data, path):
    """The list's text; a clear error for a binary file (a video given by mistake, say)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError(f"video list '{path}' is not a UTF-8 text file (byte {err.start} is "
                        f"0x{data[err.start]:02x}); give the text or .json list, not a video or "
                        "another binary file") from None
    if "\x00" in text:
        raise UserError(f"video list '{path}' is not a text file (it contains NUL bytes at "
                        f"byte {text.index(chr(0))}); give the text or .json list")
    return text


_TOKEN = re.compile(r'\s+|,|"[^"]*"|\'[^\']*\'|[^\s,]+')


def _fields(line, where):
    """Split a line into fields: spaces or commas separate, '...' or "..." keep spaces, and a
    comment starts at a '#' that begins a field outside quotes (at the line start or after
    whitespace).

    Quotes are found before comments, so that a quoted path holding " #" (which
    :func:`video_list_text` writes) is one field, not a comment. A field that opens a quote must
    close it: an unbalanced quote would otherwise cut a file name short at the first space and end
    in a confusing 'not found' much later.
    """
    fields, after_space = [], True
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token.isspace():
            after_space = True
            continue
        if token.startswith("#") and after_space:
            break
        after_space = False
        if token == ",":
            continue
        if token[:1] in "'\"":
            if len(token) < 2 or token[-1] != token[0]:
                raise UserError(f"{where}: unbalanced {token[0]} quote at column "
                                f"{match.start() + 1} (opened, never closed): {line.strip()}")
            token = token[1:-1]
        fields.append(token)
    return fields


def read_video_list(path):
    """Read a ``--video_list`` file (text or JSON, see the module doc) into Video entries."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise UserError(f"cannot read video list '{path}': {err.strerror}") from None
    text = _as_text(data, path)
    base_dir = os.path.dirname(os.path.abspath(path))
    rows = []   # (source, starts, name or None, where)
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as err:
            raise UserError(f"video list '{path}' is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise UserError(f"video list '{path}': expected an object {{\"SOURCE\": [starts]}}")
        for source, starts in data.items():
            if not isinstance(starts, list):
                raise UserError(f"video list '{path}', '{source}': expected a list of start frames")
            rows.append((str(source), _starts(starts, f"{path}, '{source}'"), None, path))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path}:{number}"
            fields = _fields(line, where)
            if not fields:          # blank or comment only
                continue
            line = line.strip()
            name = None
            for field in [f for f in fields if f.startswith("name=")]:
                name = field[5:]
                fields.remove(field)
            if len(fields) < 2:
                raise UserError(f"{where}: expected 'SOURCE START [START ...]', got '{line}'")
            rows.append((fields[0], _starts(fields[1:], where), name, where))
    if not rows:
        raise UserError(f"video list '{path}' lists no videos")
    videos, seen = [], {}
    for raw, starts, name, where in rows:
        name = name or _name_for(raw)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise UserError(f"{where}: name '{name}' may only use letters, digits, '_', '-', '.'")
        if name in seen:
            raise UserError(f"{where}: two videos would both be saved as '{name}' (also "
                            f"{seen[name]}); add name=OTHER to one of the lines")
        seen[name] = where
        videos.append(Video(name, _source_for(raw, base_dir, where), starts))
    return videos


def video_list_text(videos):
    """``videos`` in the text form (e.g. the official list, to edit dead links)."""
    lines = ["# SOURCE (URL, Vimeo id or local file) followed by the start frames of its scenes"]
    for video in videos:
        source = video.source[len(VIMEO):] if video.source == VIMEO + video.name else video.source
        extra = "" if _name_for(source) == video.name else f" name={video.name}"
        quoted = _quoted(source) if re.search(r"[\s,#'\"]", source) else source
        lines.append(f"{quoted}{extra} {' '.join(str(s) for s in video.starts)}")
    return "\n".join(lines) + "\n"


def _quoted(source):
    """``source`` in the quotes it does not contain (a field cannot hold both kinds)."""
    if "\n" in source or "\r" in source or ('"' in source and "'" in source):
        raise UserError(f"cannot write the source {source!r} into a video list: it holds a line "
                        "break or both kinds of quotes; rename it")
    return f"'{source}'" if '"' in source else f'"{source}"'


def write_video_list(videos, path, overwrite=False, flag="--write_video_list"):
    """Write ``videos`` to ``path`` in the text form. An existing file is replaced only with
    ``overwrite`` (the user may have edited it); the file is written whole or not at all."""
    check_output_file(path, flag, overwrite=overwrite)
    write_text_atomically(path, video_list_text(videos), flag)


def scene_ids(videos, start_id, succeeded=None):
    """Scene id of every (video index, start index).

    Default (``succeeded=None``): stable ids - video k's scenes follow all scenes of videos
    0..k-1 whether those succeeded or not, so a dead link never shifts later scenes. With a list of
    booleans (the original numbering), only videos that succeeded take ids, consecutively.
    """
    ids, next_id = {}, start_id
    for k, video in enumerate(videos):
        if succeeded is not None and not succeeded[k]:
            continue
        for j in range(len(video.starts)):
            ids[(k, j)] = next_id
            next_id += 1
    return ids
