"""LPIPS for the metrics: the pip ``lpips`` package (PyTorch) and where its weights live.

See :mod:`LPIPSmodels.adapter`. Nothing heavy is imported here; torch loads only when LPIPS is used.
The AlexNet backbone file may be put in this folder (``alexnet-owt-7be5be79.pth``); see README.md.
"""
from LPIPSmodels.adapter import (ALEXNET_FILES, ALEXNET_URL, LpipsAlex, find_alexnet_weights,
                                 import_torch_stack, load_lpips, missing_backbone_notice,
                                 torch_hub_checkpoints_dir)

__all__ = ["ALEXNET_FILES", "ALEXNET_URL", "LpipsAlex", "find_alexnet_weights",
           "import_torch_stack", "load_lpips", "missing_backbone_notice",
           "torch_hub_checkpoints_dir"]
