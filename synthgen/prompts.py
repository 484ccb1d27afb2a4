"""Load, check and render the prompt templates under prompts/<stage>/<group>.txt.

Templates are plain text that users edit, so the syntax is deliberately tiny: `{name}` with a
lowercase name is a placeholder, every other brace is literal text. That lets a template show a
JSON example without `{{` escaping, which str.format would demand and users would forget.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import PromptError
from .taxonomy import GROUPS, Group

STAGES = ("brainstorm", "generate")
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
# Brainstorm prompts take no sampled values; `{num_tasks}` is the one optional knob.
DEFAULT_NUM_TASKS = 20
_BRAINSTORM_DEFAULTS: Mapping[str, str] = MappingProxyType({"num_tasks": str(DEFAULT_NUM_TASKS)})
_NO_DEFAULTS: Mapping[str, str] = MappingProxyType({})


def prompts_dir() -> Path:
    """Where the shipped templates live: inside the wheel, else the source checkout."""
    packaged = Path(__file__).parent / "_prompts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "prompts"


@dataclass(frozen=True)
class Template:
    """One template's text plus what it needs; sha256 lets a run fingerprint its prompts."""

    name: str
    text: str
    placeholders: tuple[str, ...]
    sha256: str
    # values used when the caller supplies none (e.g. num_tasks for brainstorm prompts)
    defaults: Mapping[str, str] = field(default_factory=lambda: _NO_DEFAULTS, compare=False)

    @classmethod
    def from_text(cls, name: str, text: str, defaults: Mapping[str, str] | None = None) -> Template:
        found = tuple(dict.fromkeys(PLACEHOLDER_RE.findall(text)))  # unique, in order of use
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return cls(name, text, found, digest, MappingProxyType(dict(defaults or {})))

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill every placeholder; a missing value is an error, never an empty string."""
        merged = {**self.defaults, **values}
        for ph in self.placeholders:
            if ph not in merged or merged[ph] is None:
                raise PromptError(f"template {self.name!r} needs a value for placeholder {{{ph}}}")
        # one pass over the original text, so a value containing "{x}" is never re-expanded
        return PLACEHOLDER_RE.sub(lambda m: str(merged[m.group(1)]), self.text)


def _group(group: str | Group) -> Group:
    if isinstance(group, Group):
        return group
    try:
        return GROUPS[group]
    except KeyError:
        raise PromptError(f"unknown group {group!r}; known: {', '.join(GROUPS)}") from None


def load_template(stage: str, group: str, root: Path | None = None) -> Template:
    """Read prompts/<stage>/<group>.txt from `root` (default: the shipped templates)."""
    if stage not in STAGES:
        raise PromptError(f"unknown prompt stage {stage!r}; expected one of {', '.join(STAGES)}")
    name = _group(group).name
    path = Path(root if root is not None else prompts_dir()) / stage / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt template not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"cannot read prompt template {path}: {exc}") from None
    if not text.strip():
        raise PromptError(f"prompt template is empty: {path}")
    defaults = _BRAINSTORM_DEFAULTS if stage == "brainstorm" else None
    return Template.from_text(f"{stage}/{name}", text, defaults)


def allowed_placeholders(stage: str, group: str | Group) -> frozenset[str]:
    """The names a (stage, group) template may use: exactly what the pipeline supplies."""
    g = _group(group)
    if stage == "brainstorm":
        return frozenset(_BRAINSTORM_DEFAULTS)
    names = set(g.placeholders) | set(g.language_slots)
    if g.brainstorm:
        names.add("task")
    return frozenset(names)


def check_templates(groups: Iterable[str | Group], root: Path | None = None) -> None:
    """Load every template the groups need and reject unknown placeholders up front.

    Run at config-load time so a typo in an edited template fails before any request is paid for.
    """
    for group in groups:
        g = _group(group)
        stages = STAGES if g.brainstorm else ("generate",)
        for stage in stages:
            template = load_template(stage, g.name, root)
            allowed = allowed_placeholders(stage, g)
            unknown = [ph for ph in template.placeholders if ph not in allowed]
            if unknown:
                offered = ", ".join(sorted(allowed)) or "none"
                raise PromptError(
                    f"template {template.name!r} uses unknown placeholder {{{unknown[0]}}}; "
                    f"available: {offered}"
                )


def brainstorm_schema() -> dict:
    """Structured-output schema for stage 1: an object wrapping the list of task strings."""
    return {
        "type": "object",
        "properties": {"tasks": {"type": "array", "items": {"type": "string"}}},
        "required": ["tasks"],
        "additionalProperties": False,
    }


def generate_schema(group: str) -> dict:
    """Structured-output schema for stage 2: every output key of the group, as a string."""
    keys = _group(group).output_keys
    return {
        "type": "object",
        "properties": {k: {"type": "string"} for k in keys},
        "required": list(keys),
        "additionalProperties": False,
    }
