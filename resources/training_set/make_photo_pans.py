"""Extra training scenes for the shipped model: slow integer-pixel pans over CC0 / public-domain
photos that ship inside the scikit-image wheel (``skimage/data``).

The video clips we may redistribute (Big Buck Bunny, the cockatoo, bikes) are soft, heavily
compressed footage; the photos add sharp edges, text and fine texture. Each photo becomes one
60-frame scene ``scene_%04d/col_high_%04d.png`` (the dataPrepare layout) in which a fixed-size
window moves by a whole number of pixels per frame, so every frame is an exact crop of the photo
(no resampling blur) and the motion is what FNet has to learn. Grey photos are repeated to RGB.

    python3 resources/training_set/make_photo_pans.py --disk_path DIR --start_id 2009
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from lib.errors import UserError, run_cli   # noqa: E402
from lib.io.frame_io import read_image_rgb8, write_image_rgb8   # noqa: E402

# (file in skimage/data, licence as stated in skimage/data/_fetchers.py, velocity (dy, dx) px/frame)
PHOTOS = [
    ("astronaut.png", "public domain (NASA Great Images)", (1, 2)),
    ("chelsea.png", "CC0 (Stefan van der Walt)", (0, 2)),
    ("coffee.png", "CC0 (Rachel Michetti)", (1, -2)),
    ("rocket.jpg", "public domain (SpaceX)", (-1, 2)),
    ("hubble_deep_field.jpg", "public domain (NASA)", (2, 1)),
    ("camera.png", "CC0 (Lav Varshney)", (-1, -1)),
    ("brick.png", "CC0 (CC0Textures)", (2, 0)),
    ("gravel.png", "CC0 (CC0Textures)", (1, 1)),
]
FRAMES = 60
SCALE_DOWN_ABOVE = 900   # very large photos are halved first (INTER_AREA) so pans cover content


def load_rgb(path):
    """RGB uint8 (grey and RGBA converted by ``lib.io.frame_io``), very large photos halved."""
    import cv2
    image = read_image_rgb8(path)
    if max(image.shape[:2]) > SCALE_DOWN_ABOVE:
        image = cv2.resize(image, (0, 0), fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return image


def pan_frames(image, velocity, frames=FRAMES):
    """``frames`` equal-size crops of ``image`` moving by ``velocity`` (dy, dx) pixels per frame."""
    travel = [abs(v) * (frames - 1) for v in velocity]
    size = [image.shape[i] - travel[i] for i in (0, 1)]
    if min(size) < 172:
        raise UserError(f"image {image.shape[1]}x{image.shape[0]} is too small for a "
                        f"{frames}-frame pan at {velocity} px/frame")
    start = [travel[i] if velocity[i] < 0 else 0 for i in (0, 1)]
    for t in range(frames):
        y, x = start[0] + velocity[0] * t, start[1] + velocity[1] * t
        yield image[y:y + size[0], x:x + size[1]]


def main(argv):
    import skimage
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disk_path", required=True)
    parser.add_argument("--start_id", type=int, default=2009)
    args = parser.parse_args(argv[1:])
    data = os.path.join(os.path.dirname(skimage.__file__), "data")
    for k, (name, licence, velocity) in enumerate(PHOTOS):
        folder = os.path.join(args.disk_path, "scene_%04d" % (args.start_id + k))
        if os.path.isdir(folder) and os.listdir(folder):
            raise UserError(f"'{folder}' already holds files; choose another --start_id or "
                            "--disk_path (nothing was overwritten)")
        os.makedirs(folder, exist_ok=True)
        image = load_rgb(os.path.join(data, name))
        for t, frame in enumerate(pan_frames(image, velocity)):
            write_image_rgb8(os.path.join(folder, "col_high_%04d.png" % t), frame)
        print(f"{folder}: {name} ({licence}), {frame.shape[1]}x{frame.shape[0]}, "
              f"{velocity} px/frame")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv))
