"""TensorBoard summaries written with ``tf.summary.write`` (no TensorBoard package needed).

Scalars use the scalars plugin; image sequences are encoded as animated GIFs by piping raw RGB
frames through ffmpeg (the binary of imageio-ffmpeg, else one on PATH), as the original's
``gif_summary`` did: ``-f rawvideo -pix_fmt rgb24 -r fps -i -`` then split / palettegen /
paletteuse and ``-f gif``. Without ffmpeg the first frame is stored as PNG instead. The images
plugin shows GIFs as animations.
"""
import glob
import os
import subprocess

import cv2
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

from lib.io.video_io import find_ffmpeg

GIF_FPS = 3


def _metadata(plugin):
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta


def encode_gif(frames, fps=GIF_FPS, ffmpeg=None):
    """Animated GIF bytes of ``frames`` [T, H, W, 3] uint8 RGB, or None without ffmpeg."""
    ffmpeg = ffmpeg or find_ffmpeg()
    if not ffmpeg:
        return None
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    _, height, width, _ = frames.shape
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-vcodec", "rawvideo",
           "-r", f"{fps:.02f}", "-s", f"{width}x{height}", "-pix_fmt", "rgb24", "-i", "-",
           "-filter_complex", "[0:v]split[x][z];[z]palettegen[y];[x][y]paletteuse",
           "-r", f"{fps:.02f}", "-f", "gif", "-"]
    try:
        result = subprocess.run(cmd, input=frames.tobytes(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or not result.stdout.startswith(b"GIF"):
        return None
    return result.stdout


def encode_png(frame):
    ok, data = cv2.imencode(".png", np.ascontiguousarray(frame[:, :, ::-1]))
    return data.tobytes() if ok else None


def to_uint8(images01):
    """``convert_image_dtype(saturate=True)``: [0, 1] floats to uint8 (x * 255 rounded, clipped)."""
    return np.clip(np.asarray(images01, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def write_scalars(values, step, prefix=""):
    for name, value in values.items():
        tf.summary.write(prefix + name, tf.constant(float(value), tf.float32), step=step,
                         metadata=_metadata("scalars"))


def write_sequences(name, sequences, step, fps=GIF_FPS, ffmpeg=None):
    """One summary ``<name>/gif`` holding a GIF per sequence of ``sequences`` [N, T, H, W, 3].

    Returns "gif", "png" (fallback: first frames as PNG) or None when nothing could be encoded.
    """
    sequences = to_uint8(sequences)
    images = [encode_gif(seq, fps, ffmpeg) for seq in sequences]
    kind = "gif"
    if any(img is None for img in images):
        images, kind = [encode_png(seq[0]) for seq in sequences], "png"
        if any(img is None for img in images):
            return None
    height, width = sequences.shape[2], sequences.shape[3]
    tensor = tf.constant([str(width).encode(), str(height).encode()] + images)
    tf.summary.write(f"{name}/{kind}", tensor, step=step, metadata=_metadata("images"))
    return kind


def read_events(folder):
    """{tag: [(step, value)]} of the events under ``folder`` (scalars: floats, images: bytes)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "events.out.tfevents.*"),
                                 recursive=True)):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                item = float(tensor) if tensor.dtype != object else list(tensor)
                out.setdefault(value.tag, []).append((event.step, item))
    return out
