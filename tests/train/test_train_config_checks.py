"""Nonsensical training flags and a malformed ``TF_CONFIG`` (issue 19: nt07-nt10b, nt19): one
``error:`` line each, before TensorFlow loads, and no run folder made."""
import json
import subprocess
import sys

import pytest

from cli_helpers import assert_one_error, run_cli
from conftest import REPO_ROOT

TRAIN = ["main.py", "--mode", "train", "--input_video_dir", "/nonexistent_scenes"]

BAD_FLAGS = [
    (["--keep_checkpoints", "0"], "--keep_checkpoints must be at least 1"),          # nt19
    (["--decay_step", "0"], "--decay_step must be at least 1"),
    (["--max_iter", "-1"], "--max_iter must be at least 1"),
    (["--max_iter", "0"], "--max_iter must be at least 1"),
    (["--save_freq", "0"], "--save_freq must be at least 1"),
    (["--summary_freq", "-5"], "--summary_freq must be at least 1"),
    (["--display_freq", "0"], "--display_freq must be at least 1"),
    (["--learning_rate", "-1e-4"], "--learning_rate must be at least 0"),
    (["--learning_rate", "nan"], "--learning_rate must be at least 0"),
    (["--decay_rate", "0"], "--decay_rate must be above 0"),
    (["--queue_thread", "0"], "--queue_thread must be at least 1"),
    (["--batch_size", "0"], "--batch_size must be positive"),
    (["--crop_size", "12"], "--crop_size must be a multiple of 8"),
    (["--RNN_N", "1"], "--RNN_N must be at least 2"),
    (["--beta", "1"], "--beta must be in [0, 1)"),
    (["--crop_dt", "0"], "--crop_dt must be above 0"),
    # NaN compares False with everything: --ratio nan would train FRVSR, --Dbalance nan never
    # update D, --vgg_scaling nan drop the VGG loss, all without a word
    (["--ratio", "nan"], "--ratio must be a finite number"),
    (["--Dbalance", "nan"], "--Dbalance must be a finite number"),
    (["--vgg_scaling", "nan"], "--vgg_scaling must be a finite number"),
    (["--warp_scaling", "inf"], "--warp_scaling must be a finite number"),
    (["--Dt_ratio_max", "-inf"], "--Dt_ratio_max must be a finite number"),
]

EXPECTED_SHAPE = '{"cluster": {"worker": ["host1:port", "host2:port"]}'
BAD_TF_CONFIGS = [
    ("[1, 2]", "TF_CONFIG must be a JSON object, not a list"),                       # nt07
    ('{"cluster": {"worker": 5}}', '"cluster"."worker" must be a list of "host:port"'),  # nt08
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     '"task"."index" 2 is not an index of the 2 "worker" address(es)'),             # nt09
    ('{"cluster": {"worker": ["a:1", "b:2"]}}', 'has a "cluster" but no "task"'),      # nt10
    ('{"cluster": "abc"}', '"cluster" must be an object'),                           # nt10b
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     '"task"."type" must be one of the jobs of "cluster" (worker), not "chief"'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}',
     '"task"."index" "0" is not an index'),
    ('{"cluster": {"chief": ["a:1", "b:1"], "worker": ["c:1"]}, '
     '"task": {"type": "worker", "index": 0}}', "there is one chief"),
    ("{not json", "TF_CONFIG is not valid JSON"),
]


@pytest.mark.parametrize("flags,message", BAD_FLAGS)
def test_nonsensical_training_flag_is_refused(flags, message):
    from lib.errors import UserError
    from lib.train.config import check_configs
    from train_helpers import tiny_configs
    names = flags[0][2:]
    value = flags[1]
    kind = {"learning_rate": float, "decay_rate": float, "beta": float, "crop_dt": float,
            "ratio": float, "Dbalance": float, "vgg_scaling": float, "warp_scaling": float,
            "Dt_ratio_max": float}
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace(")", r"\)")):
        check_configs(*tiny_configs("/nonexistent", "/nonexistent/run",
                                    **{names: kind.get(names, int)(value)}))


@pytest.mark.parametrize("flags,message", [BAD_FLAGS[i] for i in (0, 1, 2, 3, -5)])
def test_nonsensical_training_flag_cli(tmp_path, flags, message):
    out = tmp_path / "run"
    status, stdout, stderr = run_cli(TRAIN + ["--output_dir", out] + flags)
    assert_one_error(status, stdout, stderr, message)
    assert not out.exists()


@pytest.mark.parametrize("raw,message", BAD_TF_CONFIGS)
def test_malformed_tf_config_is_one_line(raw, message):
    from lib.errors import UserError
    from lib.train.tf_config import tf_config_workers
    with pytest.raises(UserError) as err:
        tf_config_workers({"TF_CONFIG": raw})
    assert message in str(err.value) and EXPECTED_SHAPE in str(err.value)
    assert "\n" not in str(err.value)


def test_well_formed_tf_configs_count_their_workers():
    from lib.train.tf_config import tf_config_workers
    two = {"cluster": {"chief": ["a:1"], "worker": ["b:1"], "ps": ["c:1"]},
           "task": {"type": "worker", "index": 0}}
    sparse = {"cluster": {"worker": {"1": "b:1"}}, "task": {"type": "worker", "index": 1}}
    assert tf_config_workers({}) == 0
    assert tf_config_workers({"TF_CONFIG": json.dumps(two)}) == 2
    assert tf_config_workers({"TF_CONFIG": json.dumps(sparse)}) == 1
    assert tf_config_workers({"TF_CONFIG": '{"task": {"type": "worker", "index": 0}}'}) == 0


@pytest.mark.parametrize("raw,message", [BAD_TF_CONFIGS[i] for i in (0, 2, 4)])
def test_malformed_tf_config_cli(tmp_path, raw, message):
    out = tmp_path / "run"
    status, stdout, stderr = run_cli(TRAIN + ["--output_dir", out, "--max_iter", "2"],
                                     env={"TF_CONFIG": raw})
    assert_one_error(status, stdout, stderr, message)
    assert not out.exists()


def test_checks_need_no_tensorflow():
    """The checks main.py runs before TensorFlow loads import none of it."""
    code = ("import sys; import lib.train.config, lib.train.tf_config; "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_output_folder_tensorflow_would_read_as_a_pattern_is_refused(tmp_path):
    # TF matches checkpoint prefixes as file patterns: a run in 'runs/a[1]' would save, then on
    # resume find none of its checkpoints and set every one aside as damaged
    out = tmp_path / "a[1]"
    status, stdout, stderr = run_cli(TRAIN + ["--output_dir", out])
    assert_one_error(status, stdout, stderr, "holds [: TensorFlow reads checkpoint paths as file "
                                             "patterns")
    assert not out.exists()
