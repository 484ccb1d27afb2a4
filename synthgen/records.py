"""The records synthgen writes: examples/*.jsonl (output keys plus provenance), tasks/*.jsonl
and rejects/*.jsonl."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .taxonomy import GROUPS

# An example's keys, in the order written: `task` is the brainstormed task or the group's fixed
# instruction, `usage` {prompt_tokens, completion_tokens}, `flags` the guideline checks set to
# "flag" that failed, `langid` ok | unchecked (a text the detector cannot judge) | off; then the
# group's output keys.
PROVENANCE = ("id", "group", "task", "placeholders", "model", "item_index", "attempts", "usage", "flags",
              "langid")
EXAMPLE_KEYS: dict[str, tuple[str, ...]] = {g: PROVENANCE + GROUPS[g].output_keys for g in GROUPS}


def example_record(group: str, values: dict) -> dict:
    """An example as written, from values the pipeline made itself: no validated model is built
    and dumped for each of 500k examples (~10 us each)."""
    return {k: values[k] for k in EXAMPLE_KEYS[group]}


class TaskRecord(BaseModel):
    """Stage 1 output: one brainstormed task definition."""

    model_config = ConfigDict(extra="forbid")
    id: str
    group: str
    task: str
    item_id: str
    model: str | None


class RejectRecord(BaseModel):
    """Anything paid for that did not become a record: kept with its reason."""

    model_config = ConfigDict(extra="forbid")
    id: str
    stage: Literal["brainstorm", "generate", "validate", "merge"]
    group: str
    reason: str
    detail: str = ""
    field: str | None = None
    duplicate_of: str | None = None
    task: str | None = None
    placeholders: dict[str, str] = Field(default_factory=dict)
    output: object | None = None  # parsed output where there was one
    raw: str | None = None  # the raw text where it could not be parsed
    model: str | None = None
    item_index: int | None = None
    attempts: int = 0
