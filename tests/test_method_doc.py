"""docs/method.md cannot drift from the code: groups, value sets, languages, checks, config keys."""

from __future__ import annotations

import re
from pathlib import Path

from synthgen import validate
from synthgen.config import GroupConfig, RunConfig
from synthgen.taxonomy import ALL_LANGUAGES, GROUPS, PAPER_EXAMPLES_K, paper_language_weights

ROOT = Path(__file__).resolve().parent.parent
METHOD = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text of one '## ' section of method.md."""
    body = METHOD.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_every_group_with_its_keys_and_paper_size():
    table = _section("Taxonomy")
    for name, g in GROUPS.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"group {name} has no row in the taxonomy table"
        assert ", ".join(g.output_keys) in row, name
        assert f"{PAPER_EXAMPLES_K[name]}k" in row, name
        for placeholder in (*g.placeholders, *g.language_slots):
            assert placeholder in row, (name, placeholder)


def test_every_placeholder_value_set():
    table = _section("Placeholder values")
    for name, g in GROUPS.items():
        for placeholder, values in g.placeholders.items():
            rows = [line for line in table.splitlines()
                    if line.startswith(f"| `{placeholder}` |") and name in line.split("|")[2]]
            assert rows, f"no row for {placeholder} of {name}"
            assert any(", ".join(values) in row for row in rows), (name, placeholder, values)


def test_every_language_and_named_weight():
    section = _section("Languages and weights")
    for language in ALL_LANGUAGES:
        assert re.search(rf"\b{re.escape(language)}\b", section), language
    for language, share in paper_language_weights().items():
        if share >= 1:  # the named languages of figure 2
            row = next(line for line in section.splitlines() if language in line)
            assert f"{share}%" in row, (language, share)


def test_every_reason_code_of_the_validator_is_placed():
    codes = re.findall(r"^\s+(\w+)\s{2,}", validate.__doc__ or "", re.M)
    assert len(codes) >= 15
    for code in codes:
        assert f"`{code}`" in METHOD, code


def test_training_format_and_symmetric_instructions():
    section = _section("Training format")
    assert "Instruct: {task}\nQuery: {query}" in section
    for g in GROUPS.values():
        if g.instruction:
            assert f'"{g.instruction}" for `{g.name}`' in section, g.name


def test_config_keys_named_in_the_doc_exist():
    named = set(re.findall(r"`((?:llm|brainstorm|validation|languages|groups)\.[\w.<>-]+)`", METHOD))
    assert named, "method.md names no config keys"
    for dotted in sorted(named):
        section, key = dotted.split(".", 1)
        if section == "groups":
            key = key.removeprefix("<g>.")
            assert key in GroupConfig.model_fields, dotted
            continue
        assert key in RunConfig.model_fields[section].annotation.model_fields, dotted


def _project_files():
    for top in ("README.md", "pyproject.toml", "configs", "docs", "prompts", "synthgen", "bench", "tests"):
        path = ROOT / top
        yield from ([path] if path.is_file() else (p for p in path.rglob("*") if p.is_file()))


def test_the_project_cites_only_itself_and_the_paper():
    this = Path(__file__).resolve()
    citing = [str(p.relative_to(ROOT)) for p in _project_files()
              if p.suffix in (".md", ".py", ".toml", ".txt") and p.resolve() != this
              and "REFERENCE.md" in p.read_text(encoding="utf-8", errors="replace")]
    assert not citing, f"files citing REFERENCE.md, which users do not have: {citing}"


def test_sections_of_method_md_named_in_the_project_exist():
    sections = set(re.findall(r"^#+ (.+)$", METHOD, re.M))
    named = [(str(p.relative_to(ROOT)), title) for p in _project_files() if p.suffix in (".py", ".toml", ".md")
             for title in re.findall(r'docs/method\.md, "([^"]+)"', p.read_text(encoding="utf-8", errors="replace"))]
    assert named, "no file names a section of docs/method.md"
    assert [(f, t) for f, t in named if t not in sections] == []
