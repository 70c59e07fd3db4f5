"""The README's layout table names every module of lib/, one row each, and nothing that is gone."""
import os
import re

from conftest import REPO_ROOT


def layout_rows():
    text = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_every_lib_module_has_its_own_row():
    modules = sorted(os.path.relpath(os.path.join(folder, name), REPO_ROOT)
                     for folder, dirs, files in os.walk(os.path.join(REPO_ROOT, "lib"))
                     for name in files if name.endswith(".py") and name != "__init__.py")
    rows = {}
    for row in layout_rows():
        for path in re.findall(r"`(lib/[^`]+\.py)`", row.split("|")[1]):
            rows.setdefault(path, []).append(row)
    assert [m for m in modules if m not in rows] == []
    assert [p for p, r in rows.items() if len(r) > 1 or r[0].split("|")[1].count("`lib/") > 1] == []


def test_every_listed_path_exists():
    for row in layout_rows():
        for path in re.findall(r"`([^`]+)`", row.split("|")[1]):
            assert os.path.exists(os.path.join(REPO_ROOT, path.rstrip("/"))), path
