"""The configs of training, built once from the flags by main.py (with ``config_from_flags``).

Field names are the original's flag names and defaults are the flags' defaults
(``tests/train/test_train_configs.py`` holds them equal), so a config reads like the command line:

- :class:`TrainConfig`: what defines the training graph (networks, losses, optimisers).
- :class:`DataConfig`: where the training scenes are and how sequences are cut from them.
- :class:`RunConfig`: the run around the graph: run folder, starting weights, schedule of logs,
  summaries and checkpoints, devices.
"""
import dataclasses
import math

from lib.errors import UserError
from lib.models.checkpoint_files import check_no_pattern

PERCEPTUAL_NET_NAMES = ("vgg19", "vgg16_lpips")
TRAINING_PRECISIONS = ("fp32", "bf16")
TEMPORAL_NORMS = ("l2", "l1")        # --temporal_loss_norm, lib/train/losses.py
TEMPORAL_FLOWS = ("fnet", "target")  # --temporal_loss_flow, lib/train/losses.py


def _check_number(name, value, least, expected, strict=False, below=None):
    """UserError '--NAME must be EXPECTED, got VALUE' unless ``least <= value`` (``<`` with
    ``strict``) and ``value < below``; NaN and infinity are refused too."""
    ok = value is not None and math.isfinite(value) and (
        value > least if strict else value >= least) and (below is None or value < below)
    if not ok:
        raise UserError(f"--{name} must be {expected}, got {value}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What defines the training graph: networks, losses, optimisers (the original's flag names)."""
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
    precision: str = "fp32"         # (ours) "bf16": mixed precision, lib/train/teco_model.py
    ema_decay: float = 0.0          # (ours) > 0: average of G and FNet, lib/train/teco_step.py
    vgg_shift: bool = False         # (ours) perceptual loss on phase-shifted crops, teco_model.py
    upsampling_lr_scale: float = 1.0  # (ours) lr factor of G's upsampling layers, teco_step.py
    phase_loss: float = 0.0         # (ours) > 0: weight of the pixel-phase loss, losses.py
    temporal_loss: float = 0.0      # (ours) > 0: weight of the error-flicker loss, losses.py
    temporal_loss_norm: str = "l2"  # (ours) its norm per pixel: "l2" squared, "l1" Charbonnier
    temporal_loss_flow: str = "fnet"  # (ours) its motion: FNet's flow or the targets' (Farneback)
    temporal_loss_blur: float = 0.0  # (ours) > 0: Gaussian sigma (HR px) on its per-pixel change
    D_extra_updates: int = 0        # (ours) D-only updates before each step, teco_step.py

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
        from lib.ops.degradation import BORDER  # here: this module is checked before TF loads
        return self.hr_size + 2 * BORDER

    # loss weights and D-update thresholds whose sign the original gives a meaning (e.g. --ratio
    # <= 0 trains FRVSR, a negative --vgg_scaling turns the VGG loss off): any finite number,
    # never NaN (every comparison with it is False: the term or the D update silently off)
    FINITE_WEIGHTS = ("ratio", "vgg_scaling", "pp_scaling", "warp_scaling", "Dt_ratio_0",
                      "Dt_ratio_add", "Dt_ratio_max", "Dbalance")

    def validate(self):
        for name in self.FINITE_WEIGHTS:
            value = getattr(self, name)
            if value is None or not math.isfinite(value):
                raise UserError(f"--{name} must be a finite number, got {value}")
        if self.RNN_N < 2:
            raise UserError(f"--RNN_N must be at least 2, got {self.RNN_N}")
        if self.crop_size < 8 or self.crop_size % 8:
            raise UserError(f"--crop_size must be a multiple of 8 (FNet pools three times), got "
                            f"{self.crop_size}")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be positive, got {self.batch_size}")
        _check_number("learning_rate", self.learning_rate, 0, "at least 0 (e.g. 1e-4)")
        _check_number("decay_step", self.decay_step, 1, "at least 1 (steps per decay by "
                      "--decay_rate, e.g. 500000)")
        _check_number("decay_rate", self.decay_rate, 0, "above 0 (1 = no decay, e.g. 0.5)",
                      strict=True)
        _check_number("beta", self.beta, 0, "in [0, 1) (Adam beta1, e.g. 0.9)", below=1)
        _check_number("adameps", self.adameps, 0, "at least 0 (e.g. 1e-8)")
        _check_number("EPS", self.EPS, 0, "at least 0 (e.g. 1e-12)")
        _check_number("crop_dt", self.crop_dt, 0, "above 0 (a fraction of the frame, e.g. "
                      "0.75)", strict=True)
        if self.gan and not self.Dt_mergeDs:
            raise UserError("--noDt_mergeDs is not supported: that path of the original is broken "
                            "(reference 4.6); use the default --Dt_mergeDs")
        if self.gan and self.num_frames < 3:
            raise UserError("the spatio-temporal D needs at least 3 frames per sequence (--RNN_N)")
        if self.gan and self.hr_size < 16:
            raise UserError("--crop_size too small for the discriminator (4 stride-2 blocks)")
        if self.use_vgg and self.hr_size < 16:
            raise UserError("--crop_size too small for VGG19 (4 max-pools before conv5)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"--ema_decay must be in [0, 1) (0 = off, e.g. 0.999), got "
                            f"{self.ema_decay}")
        _check_number("upsampling_lr_scale", self.upsampling_lr_scale, 0,
                      "at least 0 (1 = the original, 0 = upsampling layers frozen)")
        _check_number("phase_loss", self.phase_loss, 0,
                      "at least 0 (0 = off, the original; e.g. 1.0)")
        _check_number("temporal_loss", self.temporal_loss, 0,
                      "at least 0 (0 = off, the original; e.g. 1.0)")
        if self.temporal_loss_norm not in TEMPORAL_NORMS:
            raise UserError(f"--temporal_loss_norm must be one of {', '.join(TEMPORAL_NORMS)}, "
                            f"got '{self.temporal_loss_norm}'")
        _check_number("temporal_loss_blur", self.temporal_loss_blur, 0,
                      "at least 0 (0 = off; a Gaussian sigma in HR pixels, e.g. 1.5)", below=33)
        if self.temporal_loss_flow not in TEMPORAL_FLOWS:
            raise UserError(f"--temporal_loss_flow must be one of {', '.join(TEMPORAL_FLOWS)}, "
                            f"got '{self.temporal_loss_flow}'")
        if self.D_extra_updates < 0:
            raise UserError(f"--D_extra_updates must be at least 0 (0 = off, the original), got "
                            f"{self.D_extra_updates}")
        if self.D_extra_updates and not self.gan:
            raise UserError("--D_extra_updates needs the discriminator (TecoGAN, runGan.py 3 / "
                            "--ratio > 0); this run has none")
        if self.precision not in TRAINING_PRECISIONS:
            raise UserError(f"--precision {self.precision} is for inference only; training "
                            f"takes {' or '.join(TRAINING_PRECISIONS)} (fp16 would need loss "
                            "scaling; bf16 has float32's range and needs none)")
        if self.vgg_net not in PERCEPTUAL_NET_NAMES:
            raise UserError(f"--vgg_net must be one of {', '.join(PERCEPTUAL_NET_NAMES)}, got "
                            f"'{self.vgg_net}'")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the training scenes are and how sequences are cut (reference 3.4, the data loader)."""
    input_video_dir: str = ""       # '' = $TECOGAN_TRAIN_DATA (lib.train.data_folder)
    input_video_pre: str = "scene"
    str_dir: int = 1000
    end_dir: int = 2000
    end_dir_val: int = 2050
    max_frm: int = 119
    flip: bool = True
    movingFirstFrame: bool = True
    random_crop: bool = True
    queue_thread: int = 6

    def validate(self):
        _check_number("queue_thread", self.queue_thread, 1, "at least 1 (loader threads)")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The run around the graph: folders, starting weights, how long, what is logged and saved."""
    output_dir: str = None
    summary_dir: str = None         # None = <output_dir>/log
    checkpoint: str = None
    pre_trained_model: bool = False
    init_missing_resblocks: bool = False
    vgg_ckpt: str = None
    rand_seed: int = 1
    max_iter: int = 1000000
    max_epoch: int = None
    display_freq: int = 20
    summary_freq: int = 100
    save_freq: int = 10000
    keep_checkpoints: int = 50
    deterministic: bool = False
    distribute: str = "auto"
    gif_summaries: bool = True
    test_inference: bool = True
    test_input_dir: str = "./LR/calendar/"
    cudaID: str = "0"

    def validate(self):
        if not self.output_dir:
            raise UserError("--output_dir is required")
        check_no_pattern(self.output_dir, "--output_dir")
        if self.max_iter is None and self.max_epoch is None:
            raise UserError("give --max_iter or --max_epoch")
        if self.max_iter is not None:
            # 0 or less would still save (and test) a checkpoint of the untrained model
            _check_number("max_iter", self.max_iter, 1, "at least 1 (the total number of "
                          "training steps of the run)")
        else:
            _check_number("max_epoch", self.max_epoch, 1, "at least 1")
        for name in ("display_freq", "summary_freq", "save_freq"):
            _check_number(name, getattr(self, name), 1, "at least 1 (every N steps)")
        _check_number("keep_checkpoints", self.keep_checkpoints, 1, "at least 1 (checkpoints "
                      "kept in the run folder, e.g. 50)")


def check_configs(config, data, run):
    """What the configs alone can tell (UserError, one line); nothing is read or created and
    TensorFlow is not loaded: ``main.py`` calls this before it imports TensorFlow."""
    run.validate()
    if not data.random_crop:
        raise UserError("--norandom_crop is not implemented for training (as in the original)")
    config.validate()
    data.validate()
