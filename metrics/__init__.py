"""TecoGAN's evaluation metrics, computed as the original ``metrics.py`` (reference section 7).

Modules: :mod:`metrics.image_metrics` (crop_8x8, Y, PSNR, SSIM), :mod:`metrics.temporal` (tOF),
:mod:`metrics.inputs` (frame lists and checks), :mod:`metrics.evaluate` (per-frame loop, bicubic
baseline, :func:`metrics.evaluate.evaluate` and :func:`metrics.evaluate.run_mode2`),
:mod:`metrics.report` (files, plots, summary). LPIPS lives in :mod:`LPIPSmodels.adapter`.
Model selection on held-out validation scenes: :mod:`metrics.validate` (``python3 -m
metrics.validate``), with :mod:`metrics.val_scenes` and :mod:`metrics.val_scoring`. A 4-pixel grid
in outputs (transposed-convolution artifacts): :mod:`metrics.grid_phase`.
Command line: ``python3 -m metrics --output DIR --results a,b --targets c,d``.
"""
