"""TecoGAN library: exact ops, networks, checkpoints, data, I/O and training pieces."""
