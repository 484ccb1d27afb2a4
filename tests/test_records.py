"""Example records are written with the keys and types of a strict per-group record model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from synthgen.records import example_record
from synthgen.shards import dumps
from synthgen.taxonomy import GROUPS


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RecordBase(BaseModel):
    """The example schema README documents (examples/*.jsonl)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    group: str
    task: str
    placeholders: dict[str, str]
    model: str | None
    item_index: int
    attempts: int
    usage: Usage
    flags: list[str] = Field(default_factory=list)
    langid: str = "ok"


RECORD_TYPES = {g: create_model(f"Record_{g}", __base__=RecordBase, group=(Literal[g], g),
                                **{key: (str, ...) for key in GROUPS[g].output_keys}) for g in GROUPS}


def test_example_records_are_the_models_dump_key_for_key_and_byte_for_byte():
    for group in GROUPS:
        values = {k: f"text of {k} ✓" for k in GROUPS[group].output_keys}
        values.update(id="abc123", group=group, task="Retrieve things.", placeholders={"language": "German"},
                      model="m", item_index=7, attempts=2, usage={"prompt_tokens": 11, "completion_tokens": 5},
                      flags=["query_length"], langid="unchecked")
        made = example_record(group, dict(reversed(list(values.items()))))  # order given does not matter
        expected = RECORD_TYPES[group](**values).model_dump()
        assert list(made) == list(expected), group
        assert dumps(made) == dumps(expected), group
