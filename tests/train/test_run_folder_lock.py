"""Issue 19 (nx03, nx03b): one training run per run folder. A second run on a folder that a live
run holds is one UserError and changes nothing; a lock left by a run that is gone is taken over
with a note; the lock goes when the run ends."""
import os

import pytest

from cli_helpers import tree_hashes
from lib.errors import UserError
from lock_helpers import hold_folder_lock
from test_train_robustness import make_data
from train_helpers import tiny_configs


def test_second_training_run_on_a_held_folder_is_refused(tmp_path):
    from lib.train.trainer import train
    data = make_data(str(tmp_path / "data"))
    out = tmp_path / "run"
    out.mkdir()
    holder = hold_folder_lock(str(out))
    try:
        before = tree_hashes(str(tmp_path))
        with pytest.raises(UserError, match=rf"another run \(PID {holder.pid} on .*training run"):
            train(*tiny_configs(data, str(out), end_dir_val=1999), log=lambda *a: None)
        assert tree_hashes(str(tmp_path)) == before
    finally:
        holder.kill()                       # gone without releasing: a stale lock file
        holder.wait()
    notes = []
    trainer = train(*tiny_configs(data, str(out), end_dir_val=1999, max_iter=2),
                    log=lambda *a: notes.append(" ".join(map(str, a))))
    assert trainer.final_step == 2
    assert any("taking over the stale lock" in n and str(holder.pid) in n for n in notes)
    assert not (out / ".tecogan.lock").exists()
