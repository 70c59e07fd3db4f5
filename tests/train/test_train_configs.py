"""The training configs mirror the flags: every field is a flag with the same default, and every
training flag lands in exactly one config (so nothing set on the command line is dropped)."""
import dataclasses

import pytest
from absl import flags

import lib.flags  # noqa: F401  (defines the flags)
from lib.flags import config_from_flags
from lib.train.config import DataConfig, RunConfig, TrainConfig

CONFIGS = (TrainConfig, DataConfig, RunConfig)
# flags the training mode does not read: inference/export ones, and the original's queue sizes
# that tf.data makes meaningless (kept so old command lines still parse)
NOT_TRAINING = {"mode", "input_dir_LR", "input_dir_len", "input_dir_HR", "output_pre",
                "output_name", "output_ext", "overwrite", "video_crf", "progress", "tile",
                "fast_path", "format", "name_video_queue_capacity", "video_queue_capacity",
                "video_queue_batch"}


@pytest.mark.parametrize("config_class", CONFIGS, ids=lambda c: c.__name__)
def test_config_defaults_are_the_flag_defaults(config_class):
    for field in dataclasses.fields(config_class):
        assert field.name in flags.FLAGS, f"{config_class.__name__}.{field.name} is not a flag"
        assert flags.FLAGS[field.name].default == field.default, field.name


def test_every_training_flag_is_in_one_config():
    owners = {}
    for config_class in CONFIGS:
        for field in dataclasses.fields(config_class):
            owners.setdefault(field.name, []).append(config_class.__name__)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}
    ours = {f.name for f in flags.FLAGS.get_flags_for_module("lib.flags")}
    assert sorted(ours - NOT_TRAINING - set(owners)) == []


def test_config_from_flags_takes_values_and_keeps_defaults():
    class Values:
        batch_size = 2
        output_dir = "runs/x"
    assert config_from_flags(TrainConfig, Values()).batch_size == 2
    assert config_from_flags(TrainConfig, Values()).RNN_N == TrainConfig().RNN_N
    assert config_from_flags(RunConfig, Values(), max_iter=7) == \
        RunConfig(output_dir="runs/x", max_iter=7)
