"""synthgen uses only the public names of its dependencies: a release may move private ones."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "synthgen"
WATCHED = ("openai", "httpx", "httpx2", "httpcore2", "aiohttp", "py3langid", "rensa", "tenacity", "jsonlines", "tiktoken")


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name -> the watched module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                if root in WATCHED:
                    if any(part.startswith("_") for part in a.name.split(".")):
                        found.append(f"import {a.name}")
                    aliases[(a.asname or a.name).split(".")[0]] = root
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] in WATCHED:
                if any(p.startswith("_") for p in parts):
                    found.append(f"from {node.module} import ...")
                found += [f"from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
                for a in node.names:
                    aliases[a.asname or a.name] = parts[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                found.append(f"{base.id}....{node.attr}")
    return [f"{path.relative_to(PACKAGE.parent)}: {f}" for f in found]


def test_no_module_uses_a_private_name_of_a_dependency():
    found = [f for p in sorted(PACKAGE.rglob("*.py")) for f in _private_uses(p)]
    assert found == []


def test_the_check_itself_finds_private_names(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import openai\nfrom openai._models import X\nfrom py3langid.langid import _x\n"
                   "y = openai._base_client\n")
    assert len(_private_uses_at(bad)) == 3


def _private_uses_at(path: Path) -> list[str]:
    global PACKAGE
    saved, PACKAGE = PACKAGE, path.parent
    try:
        return _private_uses(path)
    finally:
        PACKAGE = saved
