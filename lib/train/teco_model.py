"""The TecoGAN / FRVSR training graph as small pieces: sequence unroll, loss terms.

``TecoModel.forward(r_inputs, r_targets, dt_ratio)`` is the forward pass of the original
``TecoGAN(r_inputs, r_targets, FLAGS)`` (``FRVSR`` is the same with ``GAN_Flag=False``, chosen by
``--ratio`` <= 0): ping-pong extension, FNet on all consecutive pairs, the recurrent generator
unroll, the LR warp loss, VGG cosine losses, the ping-pong L1, the spatio-temporal D on real and
fake triplets with its feature-matching terms, the D loss and the raw ``t_balance``. It has no side
effects; the training step (``lib/train/teco_step.py``) differentiates it and applies the updates.
"""
import tensorflow as tf

from lib.train import losses as L
from lib.train.d_input import discriminator_input, lr_conditioning, triplet_flows
from lib.models.discriminator import Discriminator
from lib.models.networks import FNet, Generator, deprocess
from lib.ops.resize import upscale_four
from lib.models.vgg16 import VGG16
from lib.models.vgg19 import VGG19
from lib.ops.warp import dense_image_warp


# --precision: the arithmetic of every network's convolutions (variables, Adam, losses, BatchNorm
# and the warp stay float32; lib/ops/layers.py)
COMPUTE_DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16}

# one network class per --vgg_net value (lib.train.config.PERCEPTUAL_NET_NAMES)
PERCEPTUAL_NETS = {"vgg19": VGG19, "vgg16_lpips": VGG16}


# --vgg_shift: the largest offset + 1 of the perceptual loss's crop (the generator's upsampling
# period: two stride-2 transposed convolutions)
VGG_SHIFT_PERIOD = 4


def vgg_phase(global_step):
    """(dy, dx) int32 [2] of ``--vgg_shift`` at ``global_step``: all 16 phase pairs in turn.

    Why: the training crops start at multiples of 4 HR pixels, so without a shift the perceptual
    network's max-pools (periods 2 to 16) always meet the same phase of the generator's 4-pixel
    upsampling grid. Cycling the phase with the step (no random state, so a resumed run continues
    exactly) removes the part of the perceptual gradient's phase preference that comes from
    that: measured with ``benchmarks/grid_gradients.py``, 0.047 of its mean magnitude without,
    0.030 averaged over the 16 phases. The rest follows the generator's own phase; what holds the
    grid back is ``--phase_loss`` (README, Training).
    """
    index = tf.math.floormod(tf.cast(global_step, tf.int32), VGG_SHIFT_PERIOD ** 2)
    return tf.stack([index // VGG_SHIFT_PERIOD, index % VGG_SHIFT_PERIOD])


def shifted_crop(frames, offset):
    """``frames`` [N, H, W, C] cropped to [dy:dy + H - 4, dx:dx + W - 4] (static shape)."""
    size = frames.shape[1] - VGG_SHIFT_PERIOD, frames.shape[2] - VGG_SHIFT_PERIOD
    return tf.slice(frames, tf.stack([0, offset[0], offset[1], 0]),
                    [-1, size[0], size[1], frames.shape[3]])


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
    if config.phase_loss > 0:
        names += ["phase_loss"]
    if config.temporal_loss > 0:
        names += ["temporal_loss"]
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
        dtype = COMPUTE_DTYPES[config.precision]
        self.fnet = FNet(seed=seed, compute_dtype=dtype)
        self.generator = Generator(config.num_resblock, seed=seed, compute_dtype=dtype)
        self.discriminator = Discriminator(seed=seed, compute_dtype=dtype) if config.gan else None
        self.vgg = PERCEPTUAL_NETS[config.vgg_net](dtype) if config.use_vgg else None

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

    def _discriminate(self, seq, checks):
        """The spatio-temporal D on the real and the generated triplets of an unrolled ``seq``:
        outputs, layer activations, BatchNorm statistics [(real, fake) per layer] and inputs."""
        cfg, hr = self.config, self.config.hr_size
        velocity = triplet_flows(seq["gen_flow"], seq["r_inputs"],
                                 lambda x: self._flow(x, checks), cfg.pingpang)
        input_hi = lr_conditioning(seq["r_inputs"], (hr, hr))
        real_input = discriminator_input(seq["r_targets"], velocity, input_hi, cfg.crop_dt)
        fake_input = discriminator_input(seq["gen_outputs"], velocity, input_hi, cfg.crop_dt)
        d_real, real_layers, real_stats = self.discriminator(real_input)
        d_fake, fake_layers, fake_stats = self.discriminator(fake_input)
        return {"d_real": d_real, "d_fake": d_fake, "real_layers": real_layers,
                "fake_layers": fake_layers, "bn_stats": list(zip(real_stats, fake_stats)),
                "real_input": real_input, "fake_input": fake_input, "velocity": velocity,
                "input_hi": input_hi}

    def discriminator_forward(self, r_inputs, r_targets):
        """Only what the D loss needs (``--D_extra_updates``): the unroll and the D, no
        perceptual network and no generator loss terms.

        Returns ``(d_loss, t_balance, bn_stats, flows_finite)``, each as :meth:`forward` has it.
        The unrolled frames are constants to the caller's tape (``stop_gradient``), so a gradient
        of the D loss reaches only D.
        """
        cfg, checks = self.config, []
        seq = self.unroll(r_inputs, r_targets, checks)
        seq = {k: (tf.stop_gradient(v) if k != "flows_finite" else v) for k, v in seq.items()}
        d = self._discriminate(seq, checks)
        d_loss = L.discriminator_loss(d["d_real"], d["d_fake"], cfg.EPS)
        t_balance = L.balance_term(d["d_real"], cfg.EPS) + L.adversarial_loss(d["d_fake"],
                                                                              cfg.EPS)
        return d_loss, t_balance, d["bn_stats"], tf.reduce_all(tf.stack(checks))

    def forward(self, r_inputs, r_targets, dt_ratio, keep_tensors=False, vgg_offset=None):
        """All loss terms of one forward pass.

        ``vgg_offset`` (``--vgg_shift``; int32 [2], each in 0..3): the perceptual loss compares
        the frames cropped to ``[dy:dy + hr - 4, dx:dx + hr - 4]``, so the perceptual network's
        max-pool grid meets the generator's 4-pixel upsampling grid at that phase (see
        ``vgg_phase``). None: the whole frames, as the original.

        Returns ``(values, totals, extras)``: ``values`` {logged name: scalar} (the original's
        update_list), ``totals`` {gen_loss, fnet_loss, d_loss, warp_loss, t_balance} and
        ``extras`` (BatchNorm statistics; the big tensors when ``keep_tensors``).
        """
        cfg = self.config
        checks = []
        seq = self.unroll(r_inputs, r_targets, checks)
        gen_outputs, targets = seq["gen_outputs"], seq["r_targets"]
        hr = cfg.hr_size
        values, extras = {}, {"bn_stats": None, "gen_flow_lr": seq["gen_flow_lr"]}

        content = L.content_loss(gen_outputs, targets)
        warp = L.warp_loss(seq["input_frames"], seq["s_input_warp"])
        gen_loss = content
        values["l2_content_loss"], values["l2_warp_loss"] = content, warp

        if cfg.use_vgg:
            gen_frames = tf.reshape(gen_outputs, [-1, hr, hr, 3])
            tar_frames = tf.reshape(targets, [-1, hr, hr, 3])
            if vgg_offset is not None:
                gen_frames = shifted_crop(gen_frames, vgg_offset)
                tar_frames = shifted_crop(tar_frames, vgg_offset)
            gen_feat = self.vgg(gen_frames)
            tar_feat = self.vgg(tar_frames)
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

        if cfg.phase_loss > 0:
            phase = L.phase_loss(gen_outputs, targets)
            values["phase_loss"] = phase
            gen_loss += phase * cfg.phase_loss

        if cfg.temporal_loss > 0:
            motion = (L.target_flows(targets) if cfg.temporal_loss_flow == "target"
                      else seq["gen_flow"])
            temporal = L.temporal_loss(gen_outputs, targets, motion, cfg.temporal_loss_norm,
                                       cfg.temporal_loss_blur)
            values["temporal_loss"] = temporal
            gen_loss += temporal * cfg.temporal_loss

        d_loss = t_balance = None
        if cfg.gan:
            d = self._discriminate(seq, checks)
            d_real, d_fake = d["d_real"], d["d_fake"]
            real_layers, fake_layers = d["real_layers"], d["fake_layers"]
            extras["bn_stats"] = d["bn_stats"]

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
                extras.update({k: v for k, v in d.items() if k != "bn_stats"})
        values["All_loss_Gen"] = gen_loss
        totals = {"gen_loss": gen_loss, "fnet_loss": gen_loss + warp * cfg.warp_scaling,
                  "warp_loss": warp, "d_loss": d_loss, "t_balance": t_balance,
                  "flows_finite": tf.reduce_all(tf.stack(checks))}
        if keep_tensors:
            extras.update({k: v for k, v in seq.items() if k != "flows_finite"})
        ordered = {name: values[name] for name in loss_names(cfg)}
        return ordered, totals, extras
