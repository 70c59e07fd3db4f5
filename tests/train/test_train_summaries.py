"""GIF summaries through ffmpeg, the PNG fallback, and scalars, read back from the event file."""
import numpy as np
import tensorflow as tf

import lib.train.summaries as summaries


def _sequences():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(2, 4, 16, 24, 3)).astype(np.float32)


def test_gif_summary_and_scalars(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert summaries.write_sequences("Generated", _sequences(), step=7) == "gif"
        summaries.write_scalars({"l2_content_loss": 0.5}, step=7, prefix="val_")
    writer.flush()
    events = summaries.read_events(str(tmp_path))
    step, images = events["Generated/gif"][0]
    assert step == 7 and images[:2] == [b"24", b"16"] and len(images) == 4
    assert all(img.startswith(b"GIF89a") for img in images[2:])
    assert events["val_l2_content_loss"] == [(7, 0.5)]


def test_png_fallback_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(summaries, "find_ffmpeg", lambda: None)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert summaries.write_sequences("LR", _sequences(), step=1) == "png"
    writer.flush()
    _, images = summaries.read_events(str(tmp_path))["LR/png"][0]
    assert all(img.startswith(b"\x89PNG") for img in images[2:])
