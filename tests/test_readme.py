"""Docs that cannot drift: every command, option and config key is named in README.md."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from pydantic import BaseModel

from synthgen.cli import app
from synthgen.config import RULE_DEFAULTS, RunConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# `synthgen export` is documented in docs/export.md, which README links
DOCS = README + (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text()


def _keys(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        out.add(name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= _keys(ann)
    return out


def test_every_config_key_is_documented():
    from synthgen.config import BrainstormConfig, BudgetConfig, GroupConfig, LanguagesConfig, Price

    keys = _keys(RunConfig) | _keys(GroupConfig) | _keys(Price) | _keys(LanguagesConfig)
    keys |= _keys(BrainstormConfig) | _keys(BudgetConfig)
    missing = sorted(k for k in keys if not re.search(rf"^\s*#?\s*\[?([\w.-]+\.)?{re.escape(k)}\b", README, re.M))
    assert not missing, f"config keys not shown in README's TOML reference: {missing}"


def test_every_rule_and_reason_is_documented():
    for rule in RULE_DEFAULTS:
        assert f"`{rule}`" in README, rule
    for reason in ("bad_json", "truncated", "missing_key", "extra_key", "wrong_type", "empty_field",
                   "duplicate", "request_failed", "surplus"):
        assert f"`{reason}`" in README, reason


def test_every_command_and_option_is_documented():
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    for name, cmd in group.commands.items():
        assert f"synthgen {name}" in DOCS, name
        for param in cmd.params:
            if getattr(param, "param_type_name", "") == "option":
                for opt in param.opts:
                    if opt.startswith("--") and opt != "--help":
                        assert opt in DOCS, f"{name} {opt}"
