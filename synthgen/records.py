"""One record type per task group, as written to examples/*.jsonl (and read back by tools).

Each record carries its group's output keys plus provenance: the task it was made for, the
sampled placeholders, the model that answered, the work item id and the tokens it cost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .taxonomy import GROUPS


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RecordBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="work item id: a hash of the item's inputs")
    group: str
    task: str = Field(description="brainstormed task, or the group's fixed instruction")
    placeholders: dict[str, str]
    model: str | None
    item_index: int
    attempts: int
    usage: Usage
    flags: list[str] = Field(default_factory=list, description="guideline checks set to 'flag' that failed")
    langid: str = Field("ok", description="ok | unchecked (a text the detector cannot judge) | off")


def _record_model(group: str) -> type[RecordBase]:
    fields = {key: (str, ...) for key in GROUPS[group].output_keys}
    name = "".join(part.capitalize() for part in group.split("-")) + "Record"
    return create_model(name, __base__=RecordBase, group=(Literal[group], group), **fields)  # type: ignore[call-overload]


RECORD_TYPES: dict[str, type[RecordBase]] = {g: _record_model(g) for g in GROUPS}
_FIELD_ORDER: dict[str, tuple[str, ...]] = {g: tuple(m.model_fields) for g, m in RECORD_TYPES.items()}


def example_record(group: str, values: dict) -> dict:
    """`RECORD_TYPES[group](**values).model_dump()` for values the pipeline made itself.

    The same keys in the same order (so the same JSON line, tested for every group), without
    building and dumping a validated model for each of 500k examples (~10 us each)."""
    return {k: values[k] for k in _FIELD_ORDER[group]}


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
