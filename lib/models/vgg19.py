"""VGG19 (convolutional part) for TecoGAN's perceptual loss, in TF-slim naming (reference 4.4).

Variables are ``vgg_19/convB/convB_I/{weights,biases}`` exactly as in ``vgg_19.ckpt`` of
``vgg_19_2016_08_28.tar.gz``, which is restored by name. Pre-processing as the original: an image in
[-1, 1] is mapped to [0, 1], scaled by 255 and the ImageNet RGB means are subtracted (no std
division). Each feature map is normalised per pixel over its channels, f / sqrt(sum f^2 + 1e-12).
The weights are never trained.
"""
import os

import tensorflow as tf

from lib.errors import UserError
from lib.models.checkpoint import read_checkpoint
from lib.models.vgg_trunk import VGGTrunk, layer_names as vgg_layer_names

VGG_URL = "http://download.tensorflow.org/models/vgg_19_2016_08_28.tar.gz"
VGG_MEANS = (123.68, 116.78, 103.94)
STAGES = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
FEATURE_LAYERS = ("vgg_19/conv2/conv2_2", "vgg_19/conv3/conv3_4", "vgg_19/conv4/conv4_4",
                  "vgg_19/conv5/conv5_4")


def layer_names():
    """(name, in_channels, out_channels) of the 16 convolutions in order, e.g. 'conv1/conv1_1'."""
    return vgg_layer_names(STAGES)


class VGG19(VGGTrunk):
    scope = "vgg_19"
    stages = STAGES
    feature_layers = FEATURE_LAYERS

    def preprocess(self, images):
        """As the original: [-1, 1] -> [0, 255], minus the ImageNet RGB means (no std division)."""
        return (images + 1.0) / 2.0 * 255.0 - tf.constant(VGG_MEANS, tf.float32)

    def load(self, path):
        load_vgg19(self, path)


def load_vgg19(vgg, path):
    """Restore ``vgg`` from the slim ``vgg_19.ckpt``; a clear error (with the URL) when missing."""
    if not path:
        raise UserError("--vgg_scaling > 0 needs --vgg_ckpt (the TF-slim vgg_19.ckpt); get it from "
                        f"{VGG_URL} and unpack it into model/ (runGan.py 3 does this)")
    if not (os.path.isfile(path) or os.path.isfile(path + ".index")):
        raise UserError(f"VGG19 checkpoint '{path}' not found; download {VGG_URL} and unpack "
                        "vgg_19.ckpt into model/ (runGan.py 3 does this)")
    reader, shapes = read_checkpoint(path, "VGG19 checkpoint")
    for name, var in vgg.official_variables().items():
        if name not in shapes:
            raise UserError(f"'{path}' is not the TF-slim VGG19 checkpoint: tensor '{name}' is "
                            f"missing (get {VGG_URL})")
        if list(shapes[name]) != var.shape.as_list():
            raise UserError(f"'{path}': tensor '{name}' has shape {shapes[name]}, expected "
                            f"{var.shape.as_list()}")
        var.assign(reader.get_tensor(name))
