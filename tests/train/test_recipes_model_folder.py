"""Issue 19 (t14): ``runGan.py 3`` offline leaves no empty ./model folder behind."""
import pytest

from lib.errors import UserError
from lib.train.data_folder import TRAIN_DATA_ENV
from lib.train.recipes import build_command


def test_mode3_offline_leaves_no_empty_model_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TRAIN_DATA_ENV, str(tmp_path))
    mirror = tmp_path / "mirror"            # a mirror without the files: the answer offline
    mirror.mkdir()
    with pytest.raises(UserError, match="could not be fetched"):
        build_command(3, ["--mirror", str(mirror)], fetch=True, log=lambda *a: None)
    assert not (tmp_path / "model").exists()
    # the same when the run can start anyway (no VGG loss, the shipped FRVSR)
    build_command(3, ["--mirror", str(mirror), "--vgg_scaling", "-1"], fetch=True,
                  log=lambda *a: None)
    assert not (tmp_path / "model").exists()
    # a model folder the user had stays, empty or not
    (tmp_path / "model").mkdir()
    build_command(3, ["--mirror", str(mirror), "--vgg_scaling", "-1"], fetch=True,
                  log=lambda *a: None)
    assert (tmp_path / "model").is_dir()
