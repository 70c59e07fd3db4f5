"""Exact numerical ops of the original graph: legacy TF1 resampling, the dense warp, the BD
degradation, and layers whose variables carry the official names."""
