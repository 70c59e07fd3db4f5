"""The same FNet + FRVSR generator + recurrent step in PyTorch, the peer for bench_inference.py.

TecoGAN-PyTorch runs this network in PyTorch; here it is written layer for layer after our TF
model, with the weights copied from it, so the two can be timed on the same inputs and their
outputs compared (a sanity check that both run the same network):

* convolutions: TF kernel [kh, kw, in, out] -> torch [out, in, kh, kw]; 3x3 SAME = padding 1;
* transposed convolutions: TF SAME (stride 2, 3x3) puts input pixel i at output 2i + k, as torch's
  ``ConvTranspose2d(padding=0)`` does; torch's output has one more row and column, cropped. Kernel
  TF [kh, kw, out, in] -> torch [in, out, kh, kw], no flip;
* resizing: the original's TF1 "legacy" bilinear x2/x4 and bicubic x4 (no half-pixel offset, Keys
  a = -0.75) through ``F.interpolate(align_corners=True)`` on replicate-padded input (exact, see
  the functions); plain ``F.interpolate`` uses half-pixel centres and would shift the image
  (``legacy_resize=False`` times that instead);
* warp: ``grid_sample(align_corners=True, padding_mode='border')`` samples at the same positions as
  TF1's ``dense_image_warp`` with its clamping;
* space_to_depth(4) with TF's channel order ((dy * 4 + dx) * 3 + c).

Run it as TecoGAN-PyTorch users would for speed: ``eval()``, ``torch.inference_mode()``,
channels-last memory format.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_FLOW = 24.0


def bilinear_legacy(x, factor):
    """TF1 legacy bilinear resize by an integer factor (NCHW): output i samples input i / factor.

    With one replicated row/column appended, ``align_corners=True`` onto ``factor * n + 1``
    samples puts output i exactly at i / factor (the clamp at the end is the replicated edge).
    """
    h, w = x.shape[2:]
    x = F.pad(x, (0, 1, 0, 1), mode="replicate")
    y = F.interpolate(x, size=(factor * h + 1, factor * w + 1), mode="bilinear",
                      align_corners=True)
    return y[:, :, :factor * h, :factor * w]


def bicubic4_legacy(x):
    """TF1 legacy bicubic x4 (Keys a = -0.75, as torch's; no half-pixel offset; replicated edges).

    Padded by 1 before and 2 after (the taps i - 1 .. i + 2 then never leave the tensor), resized
    with ``align_corners=True`` so that output k samples k / 4 of the padded input; output
    4 + i is then the legacy sample at i / 4.
    """
    h, w = x.shape[2:]
    x = F.pad(x, (1, 2, 1, 2), mode="replicate")
    y = F.interpolate(x, size=(4 * (h + 2) + 1, 4 * (w + 2) + 1), mode="bicubic",
                      align_corners=True)
    return y[:, :, 4:4 + 4 * h, 4:4 + 4 * w]


def space_to_depth4(x):
    """TF's space_to_depth(x, 4) channel order, for NCHW tensors."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 4, 4, w // 4, 4).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(n, 16 * c, h // 4, w // 4)


def dense_image_warp(image, flow):
    """TF1 contrib dense_image_warp: sample ``image`` at (y - flow[:, 0], x - flow[:, 1])."""
    n, _, h, w = image.shape
    ys = torch.arange(h, device=image.device, dtype=image.dtype).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=image.dtype).view(1, 1, w)
    qy = (ys - flow[:, 0]) * (2.0 / (h - 1)) - 1.0
    qx = (xs - flow[:, 1]) * (2.0 / (w - 1)) - 1.0
    grid = torch.stack([qx, qy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _conv(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1)


class FNet(nn.Module):
    def __init__(self, legacy_resize=True):
        super().__init__()
        self.legacy_resize = legacy_resize
        self.encoder = nn.ModuleList([nn.ModuleList([_conv(a, b), _conv(b, b)])
                                      for a, b in ((6, 32), (32, 64), (64, 128))])
        self.decoder = nn.ModuleList([nn.ModuleList([_conv(a, b), _conv(b, b)])
                                      for a, b in ((128, 256), (256, 128), (128, 64))])
        self.out1, self.out2 = _conv(64, 32), _conv(32, 2)

    def _up2(self, x):
        if self.legacy_resize:
            return bilinear_legacy(x, 2)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, pair):
        net = pair
        for c1, c2 in self.encoder:
            net = F.max_pool2d(F.leaky_relu(c2(F.leaky_relu(c1(net), 0.2)), 0.2), 2)
        for c1, c2 in self.decoder:
            net = self._up2(F.leaky_relu(c2(F.leaky_relu(c1(net), 0.2)), 0.2))
        net = F.leaky_relu(self.out1(net), 0.2)
        return torch.tanh(self.out2(net)) * MAX_FLOW


class Generator(nn.Module):
    def __init__(self, num_resblock=16, legacy_resize=True):
        super().__init__()
        self.legacy_resize = legacy_resize
        self.input_conv = _conv(51, 64)
        self.resblocks = nn.ModuleList([nn.ModuleList([_conv(64, 64), _conv(64, 64)])
                                        for _ in range(num_resblock)])
        self.up1 = nn.ConvTranspose2d(64, 64, 3, stride=2, padding=0)
        self.up2 = nn.ConvTranspose2d(64, 64, 3, stride=2, padding=0)
        self.output_conv = _conv(64, 3)

    def forward(self, gen_input):
        net = F.relu(self.input_conv(gen_input), inplace=True)
        for c1, c2 in self.resblocks:
            net = net + c2(F.relu(c1(net), inplace=True))
        h, w = net.shape[2:]
        net = F.relu(self.up1(net)[:, :, :2 * h, :2 * w], inplace=True)
        net = F.relu(self.up2(net)[:, :, :4 * h, :4 * w], inplace=True)
        lr = gen_input[:, :3]
        if self.legacy_resize:
            skip = bicubic4_legacy(lr)
        else:
            skip = F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)
        return (self.output_conv(net) + skip) * 2.0 - 1.0


class RecurrentStep(nn.Module):
    """One inference step (reference section 3.3), output in [0, 1] like ours."""

    def __init__(self, num_resblock=16, legacy_resize=True):
        super().__init__()
        self.fnet = FNet(legacy_resize)
        self.generator = Generator(num_resblock, legacy_resize)
        self.legacy_resize = legacy_resize

    def forward(self, prev_lr, cur_lr, prev_output):
        h, w = cur_lr.shape[2:]
        flow = self.fnet(torch.cat([prev_lr, cur_lr], dim=1))
        ph, pw = h - flow.shape[2], w - flow.shape[3]
        if ph:
            flow = torch.cat([flow, flow[:, :, flow.shape[2] - ph:].flip(2)], dim=2)
        if pw:
            flow = torch.cat([flow, flow[:, :, :, flow.shape[3] - pw:].flip(3)], dim=3)
        if self.legacy_resize:
            hr_flow = bilinear_legacy(flow * 4.0, 4)
        else:
            hr_flow = F.interpolate(flow * 4.0, scale_factor=4, mode="bilinear",
                                    align_corners=False)
        warped = dense_image_warp(prev_output, hr_flow)
        gen_input = torch.cat([cur_lr, space_to_depth4(warped)], dim=1)
        return (self.generator(gen_input) + 1.0) / 2.0


def _copy_conv(dst, tf_layer):
    kernel = torch.from_numpy(tf_layer.kernel.numpy())
    # conv: [kh, kw, in, out] -> [out, in, kh, kw]
    # transposed: [kh, kw, out, in] -> [in, out, kh, kw] (the same permutation, no flip)
    dst.weight.data.copy_(kernel.permute(3, 2, 0, 1))
    dst.bias.data.copy_(torch.from_numpy(tf_layer.bias.numpy()))


def from_tf(generator, fnet, legacy_resize=True):
    """A :class:`RecurrentStep` with copies of the weights of our TF ``generator`` and ``fnet``."""
    step = RecurrentStep(generator.num_resblock, legacy_resize)
    convs = [c for block in step.fnet.encoder for c in block] + \
        [c for block in step.fnet.decoder for c in block] + [step.fnet.out1, step.fnet.out2]
    for dst, src in zip(convs, fnet.layers()):
        _copy_conv(dst, src)
    g = step.generator
    gconvs = [g.input_conv] + [c for block in g.resblocks for c in block]
    src_layers = generator.layers()
    for dst, src in zip(gconvs, src_layers):
        _copy_conv(dst, src)
    _copy_conv(g.up1, generator.up1)
    _copy_conv(g.up2, generator.up2)
    _copy_conv(g.output_conv, generator.output_conv)
    return step.eval()


def to_torch(array_nhwc, channels_last=True):
    """NHWC numpy/TF array -> NCHW torch tensor (channels-last memory when asked)."""
    tensor = torch.from_numpy(array_nhwc).permute(0, 3, 1, 2)
    return tensor.contiguous(memory_format=torch.channels_last if channels_last
                             else torch.contiguous_format)
