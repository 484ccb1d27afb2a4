"""Example records are written as the record models define them, for every group."""

from __future__ import annotations

from synthgen.records import RECORD_TYPES, example_record
from synthgen.shards import dumps
from synthgen.taxonomy import GROUPS


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
