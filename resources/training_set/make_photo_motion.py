"""Training and validation scenes with subpixel camera motion over large redistributable photos.

The integer-pixel pans of make_photo_pans.py teach FNet only whole-pixel shifts; real footage
(and Vid4) moves by fractions of a pixel, zooms and turns a little. Here each photo becomes a
sequence rendered by a smooth random camera: a drifting translation of 0.2-3 HR px/frame, a slow
zoom (up to +-0.3 %/frame) and a slow rotation (up to +-0.1 deg/frame). The photo is first shrunk
with INTER_AREA (removing JPEG noise and shallow-focus blur), then every frame is one
``cv2.warpAffine`` with INTER_LANCZOS4 at 1.2 shrunk-photo pixels per frame pixel, so no
frame is ever magnified from the photo and all stay sharp. The window is put where the photo has
the most detail along the whole path. Only HR frames are written (the trainer and
``metrics.validate`` degrade them themselves), in the dataPrepare layout
``scene_%04d/col_high_%04d.png`` (``--set train``) or one folder per scene named after it
(``--set val``: held-out scenes for ``python3 -m metrics.validate``, never trained on).

The photos come from Debian packages (licences per file in ``PHOTOS`` and model/README.md). Text,
which the wallpapers lack, is rendered as posters/signs with the DejaVu fonts (fonts-dejavu-core).
Everything is seeded: the same packages give the same frames.

    apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds fonts-dejavu-core
    python3 resources/training_set/make_photo_motion.py --set train --disk_path DIR --start_id 2017
    python3 resources/training_set/make_photo_motion.py --set val --disk_path VAL_DIR \
        --video realshort.mp4

``--image_root`` is where the packages' ``usr/share/...`` trees are (``/`` when installed; a
folder where ``dpkg-deb -x`` unpacked them otherwise).
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from lib.errors import ArgumentParser, UserError, run_cli   # noqa: E402
from lib.io.frame_io import read_image_rgb8, write_image_rgb8   # noqa: E402

LOMIRI16 = ("lomiri-wallpapers-16.04", "20.04.0-2")
LOMIRI20 = ("lomiri-wallpapers-20.04", "20.04.0-2")
MATE = ("mate-backgrounds", "1.26.0-1")
FONTS = ("fonts-dejavu-core", "2.37-6")
BG = "usr/share/backgrounds"

# name: ((package, version), file under --image_root, licence and author as in the package's
# /usr/share/doc/<package>/copyright, shrink factor applied first, what it adds)
PHOTOS = {
    "dragonfly": (LOMIRI16, f"{BG}/Dragonfly_by_Bolly.jpg", "CC-BY-SA-4.0, (c) 2018 \"Bolly\"",
                  0.35, "foliage against sky"),
    "forest_stream": (LOMIRI16, f"{BG}/life_by_Aitzol_Berasategi.jpg",
                      "CC-BY-4.0, (c) 2018 Aitzol Berasategi", 0.5, "foliage, rocks, water"),
    "mountain_meadow": (LOMIRI16, f"{BG}/aitzgorri_by_Aitzol_Berasategi.jpg",
                        "CC-BY-4.0, (c) 2018 Aitzol Berasategi", 0.5, "trees, grass, rock"),
    "picos": (LOMIRI16, f"{BG}/picosdeeuropa_by_Aitzol_Berasategi.jpg",
              "CC-BY-4.0, (c) 2018 Aitzol Berasategi", 0.45, "rock faces, grass, path"),
    "interior": (LOMIRI16, f"{BG}/Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0, (c) 2018 Jakub Mede",
                 0.3, "furniture, window frames, bottles, drum skin"),
    "brushes": (LOMIRI16, f"{BG}/Picture_1A_by_freespace.jpg",
                "CC-BY-4.0, (c) 2018 Trevor \"Freespace\"", 0.85, "bristles (fabric-like)"),
    "fig_bowl": (LOMIRI16, f"{BG}/Picture_0B_by_freespace.jpg",
                 "CC-BY-4.0, (c) 2018 Trevor \"Freespace\"", 0.5, "concrete, fruit"),
    "dandelions": (LOMIRI16, f"{BG}/seeding_by_Clements_Engelhardt.jpg",
                   "CC0-1.0, Clemens Engelhardt 2018", 0.3, "seed heads, grass"),
    "tree_bark": (LOMIRI20, f"{BG}/Kleiber_by_Lukas_Baubkus.jpg",
                  "CC-BY-SA-3.0, (c) 2021 Lukas Baubkus", 0.3, "bark, bird"),
    "clock": (LOMIRI16, f"{BG}/greentock_by_Peter_Nerlich.jpg",
              "CC-BY-SA-4.0, (c) 2018 Peter Nerlich", 0.45, "clock face, printed marks"),
    "meadow": (MATE, f"{BG}/mate/nature/GreenMeadow.jpg",
               "GPL-2+, (c) 2005 Timothy Schellhase, 2008 Lapo Calamandrei", 1.0, "grass blades"),
    "dune_grass": (MATE, f"{BG}/mate/nature/Dune.jpg",
                   "GPL-2+, (c) 2007 Marco Cogoni, 2008 Hylke Bons", 1.0, "dry grass, sea"),
    "wood": (MATE, f"{BG}/mate/nature/Wood.jpg", "GPL-2+, (c) 2008 Jean-Francois Fortin Tam",
             0.6, "wood grain"),
    # held out for validation (never in a training scene)
    "friends": (LOMIRI16, f"{BG}/friends_by_Aitzol_Berasategi.jpg",
                "CC-BY-4.0, (c) 2018 Aitzol Berasategi", 0.45, "dog faces, wooden house"),
    "grass_blinds": (MATE, f"{BG}/mate/nature/Blinds.jpg",
                     "GPL-2+, (c) 2008 Lennart Poettering, Andrea Cimitan", 0.8, "grass blades"),
    "sunset": (LOMIRI16, f"{BG}/sunset_by_Aitzol_Berasategi.jpg",
               "CC-BY-4.0, (c) 2018 Aitzol Berasategi", 0.4, "stone ring, grass"),
}
# Text posters rendered with the DejaVu fonts (Bitstream Vera licence, free to redistribute):
# name: (font file, seed); the validation poster uses another face and other words.
POSTERS = {
    "signs_sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", 11),
    "signs_serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", 23),
}
FONT_DIR = "usr/share/fonts/truetype/dejavu"

TRAIN = ["dragonfly", "forest_stream", "mountain_meadow", "picos", "interior", "brushes",
         "fig_bowl", "dandelions", "tree_bark", "clock", "meadow", "dune_grass", "wood",
         "signs_sans"]
VAL = ["friends", "grass_blinds", "sunset", "signs_serif"]
SETS = {"train": dict(names=TRAIN, frames=60, size=(512, 384), seed=2017),
        "val": dict(names=VAL, frames=32, size=(320, 240), seed=4242)}

SOURCE_PX_PER_FRAME_PX = 1.2    # >= 1 / max zoom-in over a scene: frames are never magnified
MAX_SPEED, MIN_SPEED = 3.0, 0.2      # HR px/frame
MAX_ZOOM, MAX_ROTATION = 0.003, 0.1  # per frame: relative scale, degrees
LANCZOS_MARGIN = 5                   # source pixels the 8x8 Lanczos kernel reads past a corner


def camera_path(rng, frames):
    """Per frame: (shift dx, dy in frame px from frame 0, zoom factor, rotation in degrees).

    The speed and heading drift smoothly (one slow sine each) so the motion is not constant."""
    t = np.arange(frames, dtype=np.float64)
    speed = rng.uniform(MIN_SPEED, MAX_SPEED)
    heading = rng.uniform(0, 2 * math.pi)
    swing, period_h, phase_h = rng.uniform(0.2, 0.9), rng.uniform(30, 90), rng.uniform(0, 6.3)
    pulse, period_s, phase_s = rng.uniform(0.1, 0.5), rng.uniform(20, 70), rng.uniform(0, 6.3)
    angle = heading + swing * np.sin(2 * math.pi * t / period_h + phase_h)
    speeds = np.clip(speed * (1 + pulse * np.sin(2 * math.pi * t / period_s + phase_s)),
                     MIN_SPEED, MAX_SPEED)
    steps = np.stack([speeds * np.cos(angle), speeds * np.sin(angle)], axis=1)
    steps[0] = 0.0
    shift = np.cumsum(steps, axis=0)
    zoom = (1 + rng.uniform(-MAX_ZOOM, MAX_ZOOM)) ** t
    rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION) * t
    return shift, zoom, rotation


def frame_matrices(path, size, scale=SOURCE_PX_PER_FRAME_PX):
    """2x3 matrices mapping frame pixels to photo pixels relative to the path's start point."""
    shift, zoom, rotation = path
    width, height = size
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    matrices = []
    for (dx, dy), z, deg in zip(shift, zoom, rotation):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        linear = (scale / z) * np.array([[c, -s], [s, c]])
        # the camera moves by (dx, dy) frame px: the content moves the other way
        offset = scale * np.array([dx, dy]) - linear @ centre
        matrices.append(np.hstack([linear, offset[:, None]]))
    return matrices


def path_extent(matrices, size):
    """(xmin, xmax, ymin, ymax) over all frames of the photo pixels read, relative to the start."""
    width, height = size
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1],
                        [width - 1, height - 1, 1]], np.float64).T
    points = np.concatenate([m @ corners for m in matrices], axis=1)
    return (points[0].min() - LANCZOS_MARGIN, points[0].max() + LANCZOS_MARGIN,
            points[1].min() - LANCZOS_MARGIN, points[1].max() + LANCZOS_MARGIN)


def detail_start(image, extent):
    """The start point whose whole path lies in the photo and covers the most detail (mean
    gradient energy over the path's bounding box); UserError when the path does not fit."""
    import cv2
    xmin, xmax, ymin, ymax = extent
    h, w = image.shape[:2]
    box_w, box_h = int(math.ceil(xmax - xmin)) + 1, int(math.ceil(ymax - ymin)) + 1
    if box_w >= w or box_h >= h:
        raise UserError(f"photo {w}x{h} is too small for a {box_w}x{box_h} camera path")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.Laplacian(grey, cv2.CV_32F) ** 2
    # mean energy of every box_w x box_h window, indexed by its top-left corner
    integral = cv2.integral(energy)
    sums = (integral[box_h:, box_w:] - integral[:-box_h, box_w:]
            - integral[box_h:, :-box_w] + integral[:-box_h, :-box_w])
    top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return left - xmin, top - ymin


def render(image, matrices, start, size):
    """The frames: each one Lanczos warp of the (shrunk) photo."""
    import cv2
    for matrix in matrices:
        m = matrix.copy()
        m[:, 2] += start
        yield cv2.warpAffine(image, m, size, flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT_101)


def load_photo(image_root, name):
    import cv2
    (package, version), file, _licence, shrink, _what = PHOTOS[name]
    path = os.path.join(image_root, file)
    if not os.path.isfile(path):
        raise UserError(f"'{path}' is missing: install {package} ({version}) with apt-get, or "
                        f"unpack it with dpkg-deb -x into a folder given as --image_root")
    image = read_image_rgb8(path)
    if shrink != 1.0:
        image = cv2.resize(image, (0, 0), fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    return image


WORDS = ("station main street exit open closed entrance hotel bakery market pharmacy library "
         "museum platform north south east west bridge river park garden coffee tea bread "
         "tickets parking bus tram taxi information welcome monday tuesday wednesday thursday "
         "friday saturday sunday january february march april may june july august september "
         "october november december city hall police post office school garden centre").split()


def poster(image_root, name, size=(2200, 1700)):
    """A sheet of signs, timetable lines and small print in the DejaVu fonts (seeded)."""
    from PIL import Image, ImageDraw, ImageFont
    regular, bold, seed = POSTERS[name]
    rng = np.random.default_rng(seed)
    fonts = {}
    for face in (regular, bold):
        path = os.path.join(image_root, FONT_DIR, face)
        if not os.path.isfile(path):
            raise UserError(f"'{path}' is missing: apt-get install {FONTS[0]}")
        fonts[face] = path
    paper = rng.integers(200, 245, 3)
    canvas = Image.new("RGB", size, tuple(int(c) for c in paper))
    draw = ImageDraw.Draw(canvas)
    y = 20
    while y < size[1] - 40:
        px = int(rng.choice([14, 18, 22, 28, 36, 48, 64, 90]))
        font = ImageFont.truetype(fonts[bold if rng.random() < 0.4 else regular], px)
        x = int(rng.integers(10, 120))
        while x < size[0] - 100:
            text = " ".join(rng.choice(WORDS, int(rng.integers(1, 4))))
            if rng.random() < 0.3:
                text = text.upper() + f" {int(rng.integers(1, 2400)):d}"
            box = draw.textbbox((x, y), text, font=font)
            if rng.random() < 0.35:        # a sign: coloured plate, light letters
                plate = tuple(int(c) for c in rng.integers(0, 150, 3))
                draw.rectangle([box[0] - 8, box[1] - 6, box[2] + 8, box[3] + 6], fill=plate)
                draw.text((x, y), text, font=font, fill=(250, 250, 245))
            else:
                ink = tuple(int(c) for c in rng.integers(0, 90, 3))
                draw.text((x, y), text, font=font, fill=ink)
            x = box[2] + int(rng.integers(30, 160))
        y += int(px * rng.uniform(1.5, 2.3))
    return np.asarray(canvas)


def source_image(image_root, name):
    return poster(image_root, name) if name in POSTERS else load_photo(image_root, name)


def describe(name):
    if name in POSTERS:
        return f"text poster in {POSTERS[name][0]}/{POSTERS[name][1]} ({FONTS[0]} {FONTS[1]}, " \
               "Bitstream Vera licence)"
    (package, version), file, licence, _, what = PHOTOS[name]
    return f"{os.path.basename(file)} from {package} {version} ({licence}): {what}"


def make_scene(image, rng, frames, size):
    path = camera_path(rng, frames)
    matrices = frame_matrices(path, size)
    start = detail_start(image, path_extent(matrices, size))
    return render(image, matrices, np.array(start), size), path


def target_folder(disk_path, set_name, index, name, start_id):
    if set_name == "train":
        return os.path.join(disk_path, "scene_%04d" % (start_id + index))
    return os.path.join(disk_path, name)


def parse_args(argv):
    parser = ArgumentParser(prog="make_photo_motion.py", description=__doc__.splitlines()[0])
    parser.add_argument("--disk_path", required=True, help="folder for the scene folders")
    parser.add_argument("--set", choices=sorted(SETS), default="train",
                        help="train: scene_%%04d folders from --start_id; val: the held-out "
                        "scenes, one folder per name")
    parser.add_argument("--start_id", type=int, default=2017)
    parser.add_argument("--image_root", default="/",
                        help="where the packages' usr/share trees are (default: installed, /)")
    parser.add_argument("--video", action="append", default=[],
                        help="(--set val) also copy the frames of this video into a scene "
                        "folder named after it (e.g. realshort.mp4, real footage); repeatable")
    parser.add_argument("--only", default="", help="comma list of scene names (default: all "
                        "of the set)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv[1:])
    spec = SETS[args.set]
    names = spec["names"]
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise UserError(f"--only: {', '.join(unknown)} not in the {args.set} set "
                            f"({', '.join(names)})")
    else:
        wanted = names
    for index, name in enumerate(names):
        if name not in wanted:
            continue
        folder = target_folder(args.disk_path, args.set, index, name, args.start_id)
        if os.path.isdir(folder) and os.listdir(folder):
            raise UserError(f"'{folder}' already holds files; choose another --start_id or "
                            "--disk_path (nothing was overwritten)")
        image = source_image(args.image_root, name)
        # one generator per scene, from the set's seed and the scene's place: --only changes
        # nothing about the scenes it makes
        rng = np.random.default_rng([spec["seed"], index])
        frames, (shift, zoom, rotation) = make_scene(image, rng, spec["frames"], spec["size"])
        os.makedirs(folder, exist_ok=True)
        for t, frame in enumerate(frames):
            write_image_rgb8(os.path.join(folder, "col_high_%04d.png" % t), frame)
        speed = np.linalg.norm(np.diff(shift, axis=0), axis=1)
        print(f"{folder}: {name}, {describe(name)}; {spec['size'][0]}x{spec['size'][1]}, "
              f"{spec['frames']} frames, {speed.min():.2f}-{speed.max():.2f} px/frame, "
              f"zoom x{zoom[-1]:.3f}, rotation {rotation[-1]:+.2f} deg")
    for video in args.video:
        copy_video(video, args.disk_path)
    return 0


def copy_video(path, disk_path):
    """The frames of a (real footage) video as one scene folder named after the file, as is."""
    from lib.io.video_io import iter_video_frames
    if not os.path.isfile(path):
        raise UserError(f"--video '{path}' does not exist")
    folder = os.path.join(disk_path, os.path.splitext(os.path.basename(path))[0])
    if os.path.isdir(folder) and os.listdir(folder):
        raise UserError(f"'{folder}' already holds files (nothing was overwritten)")
    os.makedirs(folder, exist_ok=True)
    count = 0
    for count, frame in enumerate(iter_video_frames(path), start=1):
        write_image_rgb8(os.path.join(folder, "col_high_%04d.png" % (count - 1)), frame)
    print(f"{folder}: {count} frames of {path}")


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv))
