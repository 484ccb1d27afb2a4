"""The source distribution carries what its own tests read: someone running `pytest` from an
unpacked sdist must not fail for a file the sdist left out."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# a path a test builds from the repository root: REPO / "docs", ROOT / "bench", parent.parent / "examples"
_ROOTED = re.compile(r'(?:REPO|ROOT|parent\.parent)\s*/\s*"([^"/]+)"')


def test_the_sdist_includes_every_top_level_path_the_tests_read():
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    read = {m for f in (REPO / "tests").glob("*.py") for m in _ROOTED.findall(f.read_text())}
    assert {"docs", "examples", "README.md"} <= read  # the scan sees what the tests open
    always = {"pyproject.toml"}  # every sdist carries it
    assert sorted(p for p in read if p not in include and p not in always) == []
