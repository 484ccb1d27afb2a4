"""synthgen uses only the public names of the libraries it builds on: a release that moves a
private name must not break it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "synthgen"
LIBRARIES = ("openai", "httpx2", "aiohttp", "py3langid", "rensa", "tenacity")


def private_uses(source: str) -> list[str]:
    """`lib._x`, `from lib._x import ...`, `from lib import _x`, `import lib._x`, and any
    `._x` attribute taken off a name imported from one of the libraries."""
    tree = ast.parse(source)
    found, aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in LIBRARIES:
                    aliases.add((a.asname or a.name).split(".")[0])
                    if any(p.startswith("_") for p in a.name.split(".")[1:]):
                        found.append(f"import {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            if any(p.startswith("_") for p in node.module.split(".")[1:]):
                found.append(f"from {node.module} import ...")
            for a in node.names:
                aliases.add(a.asname or a.name)
                if a.name.startswith("_"):
                    found.append(f"from {node.module} import {a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                found.append(ast.unparse(node))
    return found


def test_the_checker_finds_private_names() -> None:
    src = ("import openai\nfrom openai._models import X\nfrom tenacity import _utils\n"
           "import httpx2\nopenai._base_client\nc = httpx2.AsyncClient()\n")
    assert private_uses(src) == ["from openai._models import ...", "from tenacity import _utils",
                                 "openai._base_client"]
    assert private_uses("import openai\nopenai.AsyncOpenAI\nx._private\n") == []


def test_no_module_of_synthgen_uses_a_private_name_of_its_libraries() -> None:
    bad = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        uses = private_uses(path.read_text())
        if uses:
            bad[str(path.relative_to(PACKAGE))] = uses
    assert bad == {}
