"""Files in and out: frames, videos, downloads.

* ``frame_io``: reading, checking and writing image frames;
* ``video_io``: video files through ffmpeg;
* ``frame_source``: the inference input (a frame folder or a video), checked from headers;
* ``output_plan``: where inference writes, checked before anything changes on disk;
* ``background``: the writer thread and read-ahead that overlap I/O with the network;
* ``output_paths``: output folders and files that can be created, written atomically;
* ``download``, ``assets``: fetching and unpacking the original project's files (runGan.py 0);
* ``video_list``: the training video lists of dataPrepare.py.

Nothing here imports TensorFlow at module level.
"""
