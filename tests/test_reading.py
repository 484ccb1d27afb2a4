"""The scripted server reads synthgen's own templates right: keys, languages, lengths, task counts.

If a template's wording drifts from what synthgen/testing/reading.py matches, the server would
answer in the wrong language or length and pipeline tests would fail for the wrong reason.
"""

from __future__ import annotations

import pytest

from synthgen.prompts import brainstorm_schema, generate_schema, load_template
from synthgen.taxonomy import GROUPS
from synthgen.testing.reading import read_request
from synthgen.validate import required_words

from prompt_cases import every_combination

STYLES = {"short-long": "retrieval", "long-short": "classification", "short-short": "matching",
          "long-long": "matching"}


def _body(prompt: str, schema: dict | None) -> dict:
    body = {"model": "scripted", "messages": [{"role": "user", "content": prompt}]}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    return body


@pytest.mark.parametrize("group", list(STYLES))
@pytest.mark.parametrize("with_schema", [True, False])
def test_brainstorm_prompt_is_read_as_a_wrapped_task_list(group: str, with_schema: bool) -> None:
    prompt = load_template("brainstorm", group).render({"num_tasks": "13"})
    plan = read_request(_body(prompt, brainstorm_schema() if with_schema else None))
    assert (plan.kind, plan.wrap_tasks, plan.task_style, plan.num_tasks) == \
        ("brainstorm", True, STYLES[group], 13)


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("with_schema", [True, False])
def test_generate_prompt_is_read_with_each_fields_language_and_length(group: str, with_schema: bool) -> None:
    g = GROUPS[group]
    template = load_template("generate", group)
    for values in every_combination(group)[::7]:
        plan = read_request(_body(template.render(values), generate_schema(group) if with_schema else None))
        assert plan.kind == "object"
        assert [f.key for f in plan.fields] == list(g.output_keys)
        for spec in plan.fields:
            assert spec.language == values[g.languages[spec.key]], (spec.key, values)
            asked = required_words(group, spec.key, values)
            if asked is not None:
                assert spec.words[0] >= asked, (spec.key, values, spec.words)
        if group == "long-short" and values["num_words"].startswith("less than"):
            assert plan.fields[0].words[1] < int(values["num_words"].split()[-1])
