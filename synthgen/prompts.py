"""Load, check and render the prompt templates under prompts/<stage>/<group>.txt.

Users edit them, so `{name}` (lowercase) is the only placeholder syntax and every other brace is
literal: a template shows a JSON example without the `{{` escaping str.format would demand."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PromptError
from .taxonomy import GROUPS, Group

STAGES = ("brainstorm", "generate")
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
# Brainstorm prompts take no sampled values; `{num_tasks}` is the one optional knob.
BRAINSTORM_DEFAULTS = {"num_tasks": "20"}


def prompts_dir() -> Path:
    """Where the shipped templates live: inside the wheel, else the source checkout."""
    packaged = Path(__file__).parent / "_prompts"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "prompts"


@dataclass(frozen=True)
class Template:
    """One template's text plus what it needs; sha256 lets a run fingerprint its prompts."""

    name: str
    text: str
    placeholders: tuple[str, ...]
    sha256: str
    # values used when the caller supplies none (num_tasks for brainstorm prompts)
    defaults: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_text(cls, name: str, text: str, defaults: Mapping[str, str] | None = None) -> Template:
        found = tuple(dict.fromkeys(PLACEHOLDER_RE.findall(text)))  # unique, in order of use
        return cls(name, text, found, hashlib.sha256(text.encode("utf-8")).hexdigest(), dict(defaults or {}))

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill every placeholder; a missing value is an error, never an empty string."""
        merged = {**self.defaults, **values}
        for ph in self.placeholders:
            if merged.get(ph) is None:
                raise PromptError(f"template {self.name!r} needs a value for placeholder {{{ph}}}")
        # one pass over the original text, so a value containing "{x}" is never re-expanded
        return PLACEHOLDER_RE.sub(lambda m: str(merged[m.group(1)]), self.text)


def _group(group: str) -> Group:
    try:
        return GROUPS[group]
    except KeyError:
        raise PromptError(f"unknown group {group!r}; known: {', '.join(GROUPS)}") from None


def stages_of(group: str) -> tuple[str, ...]:
    """The stages whose templates a group needs."""
    return STAGES if _group(group).brainstorm else ("generate",)


def load_template(stage: str, group: str, root: Path | None = None) -> Template:
    """Read prompts/<stage>/<group>.txt from `root` (default: the shipped templates)."""
    if stage not in STAGES:
        raise PromptError(f"unknown prompt stage {stage!r}; expected one of {', '.join(STAGES)}")
    name = _group(group).name
    path = Path(root if root is not None else prompts_dir()) / stage / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not sent to the model
    except FileNotFoundError:
        raise PromptError(f"prompt template not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptError(f"cannot read prompt template {path}: {exc}") from None
    if not text.strip():
        raise PromptError(f"prompt template is empty: {path}")
    return Template.from_text(f"{stage}/{name}", text, BRAINSTORM_DEFAULTS if stage == "brainstorm" else None)


def check_templates(groups: Iterable[str], root: Path | None = None) -> None:
    """Load every template the groups need and reject placeholders the pipeline does not supply,
    at config-load time, so a typo in an edited template fails before any request is paid for."""
    for name in groups:
        g = _group(name)
        for stage in stages_of(name):
            template = load_template(stage, name, root)
            allowed = set(BRAINSTORM_DEFAULTS)
            if stage == "generate":
                allowed = set(g.placeholders) | set(g.language_slots) | ({"task"} if g.brainstorm else set())
            # {Language} or { task } is sent as written, not filled: as much a typo as {langauge}
            written = re.findall(r"\{(\s*[A-Za-z_]+\s*)\}", template.text)
            unknown = [ph for ph in written if ph not in allowed
                       and (ph in template.placeholders or ph.strip().lower() in allowed)]
            if unknown:
                raise PromptError(f"template {template.name!r} uses unknown placeholder {{{unknown[0]}}}; "
                                  f"available: {', '.join(sorted(allowed)) or 'none'}")
            if stage == "generate" and g.brainstorm and "task" not in template.placeholders:
                # its examples would be recorded (and trained) with tasks their prompts never named
                raise PromptError(f"template {template.name!r} never uses {{task}}, the brainstormed task")


def brainstorm_schema() -> dict:
    """Structured-output schema for stage 1: an object wrapping the list of task strings."""
    return {"type": "object", "properties": {"tasks": {"type": "array", "items": {"type": "string"}}},
            "required": ["tasks"], "additionalProperties": False}


def generate_schema(group: str) -> dict:
    """Structured-output schema for stage 2: every output key of the group, as a string."""
    keys = _group(group).output_keys
    return {"type": "object", "properties": {k: {"type": "string"} for k in keys}, "required": list(keys),
            "additionalProperties": False}
