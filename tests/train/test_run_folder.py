"""lib/train/run_folder.py: which run a folder belongs to, read from its run.json."""
import json

import pytest

from lib.errors import UserError
from lib.train.run_folder import RUN_FILE, check_run_folder


def identity(gan, num_resblock=10):
    return {"trainer": "TecoGAN-TF2", "version": 1, "model": "TecoGAN" if gan else "FRVSR",
            "structure": {"num_resblock": num_resblock, "gan": gan, "use_vgg": True,
                          "pingpang": True, "D_LAYERLOSS": True},
            "settings": {"ratio": 0.02 if gan else -0.01}}


def folder_of(tmp_path, run):
    (tmp_path / RUN_FILE).write_text(json.dumps(run))
    return str(tmp_path)


def test_a_tecogan_folder_resumed_with_ratio_zero_names_the_flag(tmp_path):
    # --ratio 0 on a TecoGAN run folder asks for an FRVSR (the original's rule): the refusal
    # says that --ratio is why, so a user who meant "no adversarial term" knows what to give
    folder = folder_of(tmp_path, identity(gan=True))
    with pytest.raises(UserError, match=r"belongs to another run.*--ratio decides the model.*"
                                        r"small positive --ratio"):
        check_run_folder(folder, identity(gan=False))


def test_other_differences_get_no_ratio_hint(tmp_path):
    folder = folder_of(tmp_path, identity(gan=True))
    with pytest.raises(UserError, match="belongs to another run") as refused:
        check_run_folder(folder, identity(gan=False, num_resblock=16))
    assert "--ratio" not in str(refused.value)       # the block count differs too: not the hint
    with pytest.raises(UserError) as refused:
        check_run_folder(folder, identity(gan=True, num_resblock=16))
    assert "--ratio" not in str(refused.value)


def test_the_same_structure_without_state_starts_fresh(tmp_path):
    folder = folder_of(tmp_path, identity(gan=True))
    assert check_run_folder(folder, identity(gan=True)) is False   # run.json, no state: new run


@pytest.mark.parametrize("content", ["[]", '{"trainer": "TecoGAN-TF2", "settings": [1, 2]}',
                                     '{"structure": 5}', '{"history": "abc"}'])
def test_a_run_file_of_another_shape_is_unreadable_not_a_traceback(tmp_path, content):
    (tmp_path / RUN_FILE).write_text(content)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ckpt-2.index").write_bytes(b"")
    with pytest.raises(UserError, match="is unreadable; use a new --output_dir"):
        check_run_folder(str(tmp_path), identity(gan=True))
