"""Inference (``main.py --mode inference``) and export (``--mode export``).

* ``config``: InferenceConfig and ExportConfig, what main.py builds from the flags;
* ``prepare``: every check that needs no TensorFlow, run before it loads (input, checkpoint files,
  output locations);
* ``driver``: build the models, make the recurrent step, run the original's inference loop;
* ``recurrent``: the recurrent step (FNet, warp, generator) and the warm-up frame order;
* ``fastpath``: the generator's faster, equivalent graph and the XLA-compiled warp;
* ``tiling``: the generator on overlapping tiles, and the automatic tile size;
* ``export``: one recurrent step as a SavedModel, TFLite or ONNX model;
* ``bicubic``: the bicubic x4 baseline frame (metrics, demo figure);
* ``demo``: the shipped model and demo clip behind an offline ``runGan.py 1``.

Frame and video I/O (sources, output plan, background threads) is in :mod:`lib.io`.
"""
