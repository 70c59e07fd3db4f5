"""Issue 19: export never deletes what it did not write (ne14, ne15, ne17) and a full disk is one
error with nothing left behind (ne16). A tiny random model, SavedModel format."""
import errno
import os

import pytest

from inference_helpers import save_random_model
from lib.errors import UserError
from lib.infer.config import ExportConfig
from test_output_safety import _hashes


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_random_model(str(tmp_path_factory.mktemp("model") / "model"))


def _export(checkpoint, target, overwrite=False):
    from lib.infer.export import run_export
    return run_export(ExportConfig(checkpoint=checkpoint, num_resblock=2, output_dir=str(target),
                                   overwrite=overwrite, format="savedmodel"))


def test_a_users_partial_folder_or_file_is_never_touched(tmp_path, model):
    (tmp_path / "step.partial").mkdir()                         # ne14: was deleted
    (tmp_path / "step.partial" / "notes.txt").write_text("mine")
    (tmp_path / "other.partial").write_text("a file of that name")   # ne15: was a traceback
    before = _hashes(tmp_path)
    _export(model, tmp_path / "step")
    _export(model, tmp_path / "other")
    after = _hashes(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    assert os.path.isfile(tmp_path / "step" / "saved_model.pb")
    assert os.path.isfile(tmp_path / "other" / "tecogan_export.json")
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith(".")) == []


def test_overwrite_replaces_only_the_export_files(tmp_path, model):
    target = tmp_path / "step"
    _export(model, target)
    (target / "README.txt").write_text("my notes on this export")
    (target / "tecogan_step.tflite").write_bytes(b"an older export in another format")
    with pytest.raises(UserError, match="not empty.*--overwrite"):
        _export(model, target)
    other = save_random_model(str(tmp_path / "m2" / "model"), seed=9)
    old_variables = _hashes(target / "variables")
    _export(other, target, overwrite=True)
    assert (target / "README.txt").read_text() == "my notes on this export"
    assert not (target / "tecogan_step.tflite").exists()       # export's own name: replaced
    assert _hashes(target / "variables") != old_variables
    assert [n for n in os.listdir(tmp_path) if n.endswith(".partial")] == []


def test_overwrite_refuses_a_target_holding_the_checkpoint(tmp_path):
    target = tmp_path / "run"                                   # ne17: was removed whole
    checkpoint = save_random_model(str(target / "model-10"))
    (target / "saved_model.pb").write_bytes(b"an export's name next to the checkpoint")
    before = _hashes(tmp_path)
    with pytest.raises(UserError, match="lies inside --output_dir"):
        _export(checkpoint, target, overwrite=True)
    (target / "checkpoint").write_text('model_checkpoint_path: "model-10"\n')
    before = _hashes(tmp_path)
    with pytest.raises(UserError, match="lies inside --output_dir"):   # the run folder itself
        _export(str(target), target, overwrite=True)
    assert _hashes(tmp_path) == before


def test_full_disk_is_one_error_and_leaves_nothing(tmp_path, model, monkeypatch):
    from lib.infer import export
    target = tmp_path / "step"

    def disk_full(*args, **kwargs):     # the model files are written; the description fails
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(export.json, "dump", disk_full)
    with pytest.raises(UserError, match="no space left on the device.*nothing was written"):
        _export(model, target)                                  # ne16: traceback, 3 MB left
    assert os.listdir(tmp_path) == []
    # the same over an existing export with --overwrite: the old one stays whole
    monkeypatch.undo()
    _export(model, target)
    before = _hashes(tmp_path)
    monkeypatch.setattr(export.json, "dump", disk_full)
    with pytest.raises(UserError, match="no space left"):
        _export(model, target, overwrite=True)
    assert _hashes(tmp_path) == before
