"""The networks (FNet, generator, spatio-temporal discriminator, the perceptual-loss VGGs) and
checkpoints in the official TF1 naming."""
