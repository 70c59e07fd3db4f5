"""Frame I/O in background threads, so reading and writing overlap the network.

:func:`prefetch` decodes the next input frames while the network runs; :class:`BackgroundWriter`
converts and writes the outputs (frames through the :class:`~lib.io.output_plan.OutputPlan`, or
one video through :class:`~lib.io.video_io.VideoWriter`). Both queues are short, so memory does not
grow with clip length, and both threads run at a lower priority (:func:`lower_thread_priority`).
Errors in a thread are raised again in the caller's. Imports no TensorFlow.
"""
import os
import queue
import threading

import numpy as np

from lib.io.frame_io import to_uint8_truncated
from lib.io.video_io import VideoWriter

BACKGROUND_NICENESS = 10


def lower_thread_priority(niceness=BACKGROUND_NICENESS):
    """Make the calling thread yield to the network's threads (Linux; elsewhere a no-op).

    Encoding a frame takes a core away from the network's parallel convolutions, which then wait
    for their slowest thread; at a lower priority the I/O threads mostly fill the gaps instead.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


def prefetch(iterable, depth=3):
    """Iterate in a background thread (decoding overlaps the network); errors re-raised here."""
    buffer = queue.Queue(maxsize=depth)
    done = object()

    def worker():
        lower_thread_priority()
        try:
            for item in iterable:
                buffer.put((item, None))
        except BaseException as err:  # forwarded to the consumer
            buffer.put((None, err))
        buffer.put((done, None))

    threading.Thread(target=worker, daemon=True).start()
    while True:
        item, err = buffer.get()
        if err is not None:
            raise err
        if item is done:
            return
        yield item


class BackgroundWriter:
    """Writes frames in a thread (bounded queue), so disk I/O overlaps the network.

    Nothing on disk changes before the first frame is queued: then the plan records the input and
    (with --overwrite) removes the other clip's outputs, and the video encoder starts.

    As a context manager: :meth:`close` when the block ends normally (waits for the last frame,
    finishes the video, raises a write error), :meth:`abort` when it raises.
    """

    def __init__(self, plan, source, crf, announce):
        """``plan``: where frames go; ``source``: the input clip (fps, length and sound of a
        video output); ``crf``: x264 quality of a video output; ``announce(name)``: called as
        each frame is queued (the progress messages)."""
        self.plan, self.source, self.crf, self.announce = plan, source, crf, announce
        self.queue = queue.Queue(maxsize=4)
        self.error = None
        self.video = None
        self.thread = None

    def _start(self):
        self.plan.begin()
        if self.plan.is_video:
            source = self.source
            self.video = VideoWriter(self.plan.video_path, source.fps, self.plan.hr_size[0],
                                     self.plan.hr_size[1], crf=self.crf,
                                     audio_from=source.audio_from,
                                     audio_seconds=len(source) / source.fps)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        lower_thread_priority()
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            name, frame = item
            try:
                rgb = frame if frame.dtype == np.uint8 else to_uint8_truncated(frame)
                if self.video is not None:
                    self.video.write(rgb)
                else:
                    self.plan.write_frame(name, rgb)
            except Exception as err:  # reported in the main thread
                self.error = err

    def put(self, name, frame):
        """Queue a frame: uint8 RGB as saved, or floats in [0, 1] (converted as the original)."""
        if self.thread is None:
            self._start()
        if self.error is not None:
            raise self.error
        self.announce(name)
        self.queue.put((name, frame))

    def abort(self):
        """Stop after an error elsewhere: frames written so far stay, an unfinished video goes."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
        if self.video is not None:
            self.video.abort()

    def close(self):
        if self.thread is None:
            return
        self.queue.put(None)
        self.thread.join()
        if self.video is not None:
            if self.error is None:
                self.video.close()
            else:
                self.video.abort()
        if self.error is not None:
            raise self.error

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
