"""``python3 -m metrics.tof_split``: the bins' tOF contributions add up to the scene's tOF as
``metrics.validate`` scores it, a difference confined to one kind of region lands in that
region's bin, and bad input is one error line."""
import json

import numpy as np
import pytest

from cli_helpers import assert_one_error, run_cli
from inference_helpers import save_random_model
from test_validate import write_scene


def _moving(size=(64, 72), frames=7, seed=0):
    """Targets: a flat grey left half and a moving texture on the right half (RGB uint8)."""
    import cv2
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (size[0] // 3, size[1] // 3, 3), np.uint8),
                      (size[1] + 16, size[0] + 16), interpolation=cv2.INTER_CUBIC)
    out = []
    for t in range(frames):
        shift = np.float32([[1, 0, 0.7 * t], [0, 1, 0.4 * t]])
        frame = cv2.warpAffine(base, shift, (size[1] + 16, size[0] + 16),
                               flags=cv2.INTER_CUBIC)[8:8 + size[0], 8:8 + size[1]]
        frame[:, :size[1] // 2] = 128
        out.append(frame)
    return out


def test_the_contributions_add_up_to_the_tof_that_validate_scores():
    from metrics.tof_split import tof_by_texture
    from metrics.val_scoring import score
    rng = np.random.default_rng(1)
    targets = _moving()
    outputs = [np.clip(t.astype(int) + rng.integers(-12, 13, t.shape), 0, 255).astype(np.uint8)
               for t in targets]
    split = tof_by_texture(targets, outputs)
    assert len(split["share"]) == len(split["tOF"]) == 5
    assert sum(split["share"]) == pytest.approx(1.0, abs=1e-12)
    assert sum(split["tOF"]) == pytest.approx(score(targets, outputs)["tOF"], rel=1e-6)
    for share, part, in_bin in zip(split["share"], split["tOF"], split["tOF_in_bin"]):
        if share > 0:
            assert in_bin == pytest.approx(part / share)


def test_flicker_only_in_the_flat_half_lands_in_the_flattest_bin():
    from metrics.tof_split import tof_by_texture
    rng = np.random.default_rng(2)
    targets = _moving()
    outputs = []
    for t in targets:
        o = t.copy()
        noise = rng.integers(-20, 21, (t.shape[0], t.shape[1] // 2 - 8, 1))
        o[:, :t.shape[1] // 2 - 8] = np.clip(128 + noise, 0, 255).astype(np.uint8)
        outputs.append(o)
    split = tof_by_texture(targets, outputs)
    assert split["share"][0] > 0.3                       # the flat half (std < 2 levels)
    assert split["tOF"][0] > 0.7 * sum(split["tOF"])
    assert sum(split["tOF"]) > 0.1
    same = tof_by_texture(targets, targets)
    assert sum(same["tOF"]) == 0.0


@pytest.fixture(scope="module")
def scene_and_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("tof_split")
    write_scene(str(root / "val" / "a_scene"), seed=1)
    return root, save_random_model(str(root / "m" / "model"), num_resblock=2, seed=3)


def test_the_cli_tables_each_method_and_writes_json(scene_and_model, tmp_path):
    root, model = scene_and_model
    out = tmp_path / "split.json"
    status, stdout, stderr = run_cli(["-m", "metrics.tof_split", "--checkpoint", model,
                                      "--val_dir", root / "val", "--json", out])   # 2 blocks, read
    assert status == 0, (stdout + stderr)[-3000:]
    result = json.loads(out.read_text())
    assert [m["method"] for m in result["methods"]] == ["bicubic", model]
    assert result["bins"] == ["0-2", "2-4", "4-8", "8-16", ">=16"]
    validated = tmp_path / "val.json"
    from metrics.validate import main
    assert main(["--checkpoint", model, "--val_dir", str(root / "val"), "--num_resblock", "2",
                 "--lpips", "off", "--json", str(validated)]) == 0
    scored = json.loads(validated.read_text())["methods"]
    for split, val in zip(result["methods"], scored):
        assert sum(split["scenes"]["a_scene"]["tOF"]) == pytest.approx(
            val["scenes"]["a_scene"]["tOF"], rel=1e-6)
    assert "a_scene" in stdout and "share" in stdout


def test_bad_inputs_are_one_error_line(scene_and_model, tmp_path):
    root, model = scene_and_model
    assert_one_error(*run_cli(["-m", "metrics.tof_split", "--checkpoint", model, "--val_dir",
                               tmp_path / "absent"]), "does not exist")
    assert_one_error(*run_cli(["-m", "metrics.tof_split", "--val_dir", root / "val"]),
                     "--checkpoint")
    assert_one_error(*run_cli(["-m", "metrics.tof_split", "--checkpoint", tmp_path / "nope",
                               "--val_dir", root / "val"]), "not found")
    assert_one_error(*run_cli(["-m", "metrics.tof_split", "--checkpoint", model, "--val_dir",
                               root / "val", "--json", tmp_path]), "is a folder")


def _one_error(argv, capsys):
    from lib.errors import run_cli as run
    from metrics.tof_split import main
    with pytest.raises(SystemExit) as exc:
        run(main, [str(a) for a in argv])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and "Traceback" not in captured.out + captured.err
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


def test_json_never_replaces_a_file_unasked_nor_an_input(scene_and_model, tmp_path, capsys):
    """--json was opened with plain open('w'): any file, the checkpoint's .index included, was
    overwritten (after the scoring, so the error came too late to help)."""
    from cli_helpers import tree_hashes
    root, model = scene_and_model
    base = ["--checkpoint", model, "--val_dir", root / "val"]
    kept = tmp_path / "kept.json"
    kept.write_text("the user's numbers")
    before = tree_hashes(tmp_path, root)
    assert "--json is empty" in _one_error(base + ["--json", ""], capsys)
    assert f"--json '{kept}' exists already" in _one_error(base + ["--json", kept], capsys)
    err = _one_error(base + ["--json", model + ".index", "--overwrite"], capsys)
    assert "is a file of the checkpoint" in err
    inside = root / "val" / "new" / "split.json"
    err = _one_error(base + ["--json", inside, "--overwrite"], capsys)
    assert f"--json '{inside}' is inside --val_dir" in err
    assert tree_hashes(tmp_path, root) == before
    assert not (root / "val" / "new").exists()          # no empty 'scene' left in --val_dir


def test_json_is_strict_and_written_whole(tmp_path):
    from metrics.tof_split import write_json

    def no_constants(name):
        raise AssertionError(f"{name} in the JSON")
    path = tmp_path / "split.json"
    path.write_text("old")
    write_json(str(path), {"tOF_in_bin": [0.5, float("nan")]})
    assert json.loads(path.read_text(), parse_constant=no_constants) == {
        "tOF_in_bin": [0.5, None]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split.json"]   # no temporary left


@pytest.mark.parametrize("module", ["metrics.tof_split", "metrics.validate"])
def test_a_num_resblock_other_than_the_checkpoints_is_refused_before_building(
        scene_and_model, module):
    """--num_resblock 99999 built a 99999-block generator (hours) before the loader refused it."""
    root, model = scene_and_model
    extra = ["--lpips", "off"] if module == "metrics.validate" else []
    status, stdout, stderr = run_cli(["-m", module, "--checkpoint", model, "--val_dir",
                                      root / "val", "--num_resblock", "99999", *extra],
                                     timeout=300)
    assert_one_error(status, stdout, stderr, f"checkpoint '{model}' has a generator with 2 "
                     "residual blocks, not --num_resblock 99999")
    assert "scored" not in stdout                         # not even the bicubic baseline
