"""``python3 -m metrics --output`` where no folder can be made: one error line, nothing changed."""
import pytest

from cli_helpers import assert_one_error, run_cli, tree_hashes


@pytest.mark.parametrize("case", ["file", "parent_file", "proc"])
def test_output_that_cannot_be_a_folder(tmp_path, case):
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"user data")
    (tmp_path / "res").mkdir()
    (tmp_path / "gt").mkdir()
    output, reason = {"file": (blocker, "it is a file, not a folder"),
                      "parent_file": (blocker / "out", f"'{blocker}' is a file, not a folder"),
                      "proc": ("/proc/x/out", "No such file or directory")}[case]
    before = tree_hashes(tmp_path)
    status, stdout, stderr = run_cli(["-m", "metrics", "--output", output, "--results",
                                      tmp_path / "res", "--targets", tmp_path / "gt",
                                      "--lpips", "off"])
    assert_one_error(status, stdout, stderr, f"cannot create the --output folder '{output}'",
                     reason)
    assert tree_hashes(tmp_path) == before


def test_no_empty_output_folder_left_after_bad_input(tmp_path):
    status, stdout, stderr = run_cli(["-m", "metrics", "--output", tmp_path / "new" / "out",
                                      "--results", tmp_path / "missing", "--targets",
                                      tmp_path / "missing2", "--lpips", "off"])
    assert_one_error(status, stdout, stderr)
    assert not (tmp_path / "new").exists()
