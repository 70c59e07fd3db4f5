"""Exact numerical ops of the original graph: legacy TF1 resampling, the dense warp, the BD
degradation, and layers whose variables carry the official names; ``portable``: the resampling and
the warp again in ops that the TFLite and ONNX converters carry unchanged (for the export)."""
