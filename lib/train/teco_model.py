"""The TecoGAN / FRVSR training graph as small pieces: config, sequence unroll, loss terms.

``TecoModel.forward(r_inputs, r_targets, dt_ratio)`` is the forward pass of the original
``TecoGAN(r_inputs, r_targets, FLAGS)`` (``FRVSR`` is the same with ``GAN_Flag=False``, chosen by
``--ratio`` <= 0): ping-pong extension, FNet on all consecutive pairs, the recurrent generator
unroll, the LR warp loss, VGG cosine losses, the ping-pong L1, the spatio-temporal D on real and
fake triplets with its feature-matching terms, the D loss and the raw ``t_balance``. It has no side
effects; the training step (``lib/train/teco_step.py``) differentiates it and applies the updates.
"""
import dataclasses

import tensorflow as tf

from lib.train import losses as L
from lib.train.d_input import discriminator_input, lr_conditioning, triplet_flows
from lib.ops.degradation import BORDER
from lib.models.discriminator import Discriminator
from lib.models.networks import FNet, Generator, deprocess
from lib.ops.resize import upscale_four
from lib.models.vgg16 import VGG16
from lib.models.vgg19 import VGG19
from lib.ops.warp import dense_image_warp


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The flags that define the training graph (names as the original's flags)."""
    batch_size: int = 4
    RNN_N: int = 10
    crop_size: int = 32
    num_resblock: int = 16
    pingpang: bool = False
    pp_scaling: float = 1.0
    vgg_scaling: float = -0.002
    vgg_net: str = "vgg19"          # (ours) "vgg16_lpips": the offline stand-in, lib/models/vgg16.py
    warp_scaling: float = 1.0
    ratio: float = 0.01
    EPS: float = 1e-12
    D_LAYERLOSS: bool = True
    Dt_mergeDs: bool = True
    Dt_ratio_0: float = 1.0
    Dt_ratio_add: float = 0.0
    Dt_ratio_max: float = 1.0
    Dbalance: float = 0.4
    crop_dt: float = 0.75
    learning_rate: float = 1e-4
    decay_step: int = 500000
    decay_rate: float = 0.5
    stair: bool = False
    beta: float = 0.9
    adameps: float = 1e-8

    # Flags that may change when a run is resumed (schedule, not the model or the losses' shape).
    RESUMABLE_CHANGES = ("learning_rate", "decay_step", "decay_rate", "stair")

    @classmethod
    def from_flags(cls, flags, **overrides):
        values = {f.name: getattr(flags, f.name) for f in dataclasses.fields(cls)
                  if hasattr(flags, f.name)}
        values.update(overrides)
        return cls(**values)

    @property
    def gan(self):
        return self.ratio > 0

    @property
    def use_vgg(self):
        return self.vgg_scaling > 0

    @property
    def num_frames(self):
        """T': frames in the unrolled sequence (ping-pong appends the reversed sequence)."""
        return 2 * self.RNN_N - 1 if self.pingpang else self.RNN_N

    @property
    def hr_size(self):
        return self.crop_size * 4

    @property
    def hr_crop(self):
        """Size of the HR crop the loader delivers: target + 4 px blur margin on each side."""
        return self.hr_size + 2 * BORDER

    def validate(self):
        from lib.errors import UserError
        if self.RNN_N < 2:
            raise UserError(f"--RNN_N must be at least 2, got {self.RNN_N}")
        if self.crop_size < 8 or self.crop_size % 8:
            raise UserError(f"--crop_size must be a multiple of 8 (FNet pools three times), got "
                            f"{self.crop_size}")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be positive, got {self.batch_size}")
        if self.gan and not self.Dt_mergeDs:
            raise UserError("--noDt_mergeDs is not supported: that path of the original is broken "
                            "(reference 4.6); use the default --Dt_mergeDs")
        if self.gan and self.num_frames < 3:
            raise UserError("the spatio-temporal D needs at least 3 frames per sequence (--RNN_N)")
        if self.gan and self.hr_size < 16:
            raise UserError("--crop_size too small for the discriminator (4 stride-2 blocks)")
        if self.use_vgg and self.hr_size < 16:
            raise UserError("--crop_size too small for VGG19 (4 max-pools before conv5)")
        if self.vgg_net not in PERCEPTUAL_NETS:
            raise UserError(f"--vgg_net must be one of {', '.join(PERCEPTUAL_NETS)}, got "
                            f"'{self.vgg_net}'")


PERCEPTUAL_NETS = {"vgg19": VGG19, "vgg16_lpips": VGG16}


def loss_names(config):
    """The logged values in the original's ``update_list_name`` order."""
    names = []
    if config.gan and config.D_LAYERLOSS:
        names += [f"D_layer_{i}_loss" for i in range(4)] + ["D_layer_loss_sum"]
    names += ["l2_content_loss", "l2_warp_loss"]
    if config.use_vgg:
        names += ["vgg_loss_2", "vgg_loss_3", "vgg_loss_4", "vgg_loss_5", "vgg_all"]
    if config.pingpang:
        names += ["PingPang"]
    if config.gan:
        names += ["t_adversarial_loss", "t_discrim_loss", "t_discrim_real_output",
                  "t_discrim_fake_output"]
    names += ["All_loss_Gen"]
    return names


class TecoModel(tf.Module):
    """FNet, generator, and (TecoGAN) the spatio-temporal D and VGG19, with the forward pass."""

    def __init__(self, config, seed=0, name="teco"):
        super().__init__(name=name)
        self.config = config
        self.fnet = FNet(seed=seed)
        self.generator = Generator(config.num_resblock, seed=seed)
        self.discriminator = Discriminator(seed=seed) if config.gan else None
        self.vgg = PERCEPTUAL_NETS[config.vgg_net]() if config.use_vgg else None

    # -- variable groups -------------------------------------------------------------------------
    def generator_variables(self):
        return list(self.generator.official_variables().values())

    def fnet_variables(self):
        return list(self.fnet.official_variables().values())

    def discriminator_variables(self):
        return self.discriminator.trainable() if self.discriminator is not None else []

    def official_variables(self, include_discriminator=True):
        out = {**self.generator.official_variables(), **self.fnet.official_variables()}
        if include_discriminator and self.discriminator is not None:
            out.update(self.discriminator.official_variables())
        return out

    # -- forward -------------------------------------------------------------------------------
    def _flow(self, fnet_input, checks):
        """FNet flow with non-finite values replaced by 0, and a flag that all were finite.

        A NaN flow would make the warp's gather indices invalid (an error on CPU); the trainer
        sees the flag and stops instead. Finite flows pass unchanged (values and gradients).
        """
        flow = self.fnet(fnet_input)
        finite = tf.math.is_finite(flow)
        checks.append(tf.reduce_all(finite))
        return tf.where(finite, flow, tf.zeros_like(flow))

    def unroll(self, r_inputs, r_targets, checks=None):
        """Ping-pong extension, FNet flows, LR warp and the recurrent generator unroll."""
        cfg = self.config
        if cfg.pingpang:
            r_inputs = tf.concat([r_inputs, tf.reverse(r_inputs[:, :-1], axis=[1])], axis=1)
            r_targets = tf.concat([r_targets, tf.reverse(r_targets[:, :-1], axis=[1])], axis=1)
        num_frames = r_inputs.shape[1]
        h = w = cfg.crop_size
        hr = cfg.hr_size
        frame_pre, frame_cur = r_inputs[:, :-1], r_inputs[:, 1:]
        fnet_input = tf.reshape(tf.concat([frame_pre, frame_cur], axis=-1), [-1, h, w, 6])
        checks = [] if checks is None else checks
        gen_flow_lr = self._flow(fnet_input, checks)
        gen_flow = tf.reshape(upscale_four(gen_flow_lr * 4.0), [-1, num_frames - 1, hr, hr, 2])
        input_frames = tf.reshape(frame_cur, [-1, h, w, 3])
        s_input_warp = dense_image_warp(tf.reshape(frame_pre, [-1, h, w, 3]), gen_flow_lr)

        no_previous = tf.zeros(tf.concat([tf.shape(r_inputs)[:1], [h, w, 48]], axis=0))
        first_input = tf.concat([r_inputs[:, 0], no_previous], axis=-1)
        gen_pre_output = self.generator(first_input)
        gen_outputs, gen_warppre = [gen_pre_output], []
        for i in range(num_frames - 1):
            warped = dense_image_warp(gen_pre_output, gen_flow[:, i])
            gen_warppre.append(warped)
            gen_input = tf.concat([r_inputs[:, i + 1], tf.nn.space_to_depth(deprocess(warped), 4)],
                                  axis=-1)
            gen_pre_output = self.generator(gen_input)
            gen_outputs.append(gen_pre_output)
        return {"r_inputs": r_inputs, "r_targets": r_targets,
                "gen_outputs": tf.stack(gen_outputs, axis=1),
                "gen_warppre": tf.stack(gen_warppre, axis=1),
                "gen_flow_lr": gen_flow_lr, "gen_flow": gen_flow,
                "input_frames": input_frames, "s_input_warp": s_input_warp,
                "flows_finite": checks}

    def forward(self, r_inputs, r_targets, dt_ratio, keep_tensors=False):
        """All loss terms of one forward pass.

        Returns ``(values, totals, extras)``: ``values`` {logged name: scalar} (the original's
        update_list), ``totals`` {gen_loss, fnet_loss, d_loss, warp_loss, t_balance} and
        ``extras`` (BatchNorm statistics; the big tensors when ``keep_tensors``).
        """
        cfg = self.config
        checks = []
        seq = self.unroll(r_inputs, r_targets, checks)
        gen_outputs, targets = seq["gen_outputs"], seq["r_targets"]
        hr = cfg.hr_size
        values, extras = {}, {"bn_stats": None}

        content = L.content_loss(gen_outputs, targets)
        warp = L.warp_loss(seq["input_frames"], seq["s_input_warp"])
        gen_loss = content
        values["l2_content_loss"], values["l2_warp_loss"] = content, warp

        if cfg.use_vgg:
            gen_feat = self.vgg(tf.reshape(gen_outputs, [-1, hr, hr, 3]))
            tar_feat = self.vgg(tf.reshape(targets, [-1, hr, hr, 3]))
            layer_losses = L.vgg_losses(gen_feat, tar_feat, self.vgg.feature_layers)
            vgg_all = 0.0
            for i, (weight, loss) in enumerate(zip(L.VGG_LAYER_WEIGHTS, layer_losses)):
                values[f"vgg_loss_{i + 2}"] = loss
                vgg_all += weight * loss
            values["vgg_all"] = vgg_all
            gen_loss += cfg.vgg_scaling * vgg_all

        if cfg.pingpang:
            pp = L.pingpong_loss(gen_outputs, cfg.RNN_N)
            values["PingPang"] = pp
            if cfg.pp_scaling > 0:
                gen_loss += pp * cfg.pp_scaling

        d_loss = t_balance = None
        if cfg.gan:
            velocity = triplet_flows(seq["gen_flow"], seq["r_inputs"],
                                     lambda x: self._flow(x, checks), cfg.pingpang)
            input_hi = lr_conditioning(seq["r_inputs"], (hr, hr))
            real_input = discriminator_input(targets, velocity, input_hi, cfg.crop_dt)
            fake_input = discriminator_input(gen_outputs, velocity, input_hi, cfg.crop_dt)
            d_real, real_layers, real_stats = self.discriminator(real_input)
            d_fake, fake_layers, fake_stats = self.discriminator(fake_input)
            extras["bn_stats"] = list(zip(real_stats, fake_stats))

            adversarial = L.adversarial_loss(d_fake, cfg.EPS)
            gen_loss += cfg.ratio * adversarial * dt_ratio
            if cfg.D_LAYERLOSS:
                raw, scaled_sum = L.d_layer_losses(real_layers, fake_layers)
                for i, loss in enumerate(raw):
                    values[f"D_layer_{i}_loss"] = loss
                values["D_layer_loss_sum"] = scaled_sum
                gen_loss += scaled_sum * dt_ratio
            d_loss = L.discriminator_loss(d_real, d_fake, cfg.EPS)
            t_balance = L.balance_term(d_real, cfg.EPS) + adversarial
            values["t_adversarial_loss"] = adversarial
            values["t_discrim_loss"] = d_loss
            values["t_discrim_real_output"] = tf.reduce_mean(d_real)
            values["t_discrim_fake_output"] = tf.reduce_mean(d_fake)
            if keep_tensors:
                extras.update(d_real=d_real, d_fake=d_fake, real_input=real_input,
                              fake_input=fake_input, velocity=velocity, input_hi=input_hi,
                              real_layers=real_layers, fake_layers=fake_layers)
        values["All_loss_Gen"] = gen_loss
        totals = {"gen_loss": gen_loss, "fnet_loss": gen_loss + warp * cfg.warp_scaling,
                  "warp_loss": warp, "d_loss": d_loss, "t_balance": t_balance,
                  "flows_finite": tf.reduce_all(tf.stack(checks))}
        if keep_tensors:
            extras.update({k: v for k, v in seq.items() if k != "flows_finite"})
        ordered = {name: values[name] for name in loss_names(cfg)}
        return ordered, totals, extras
