"""The shipped prompt templates and their loader: what a user editing prompts/ relies on."""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.prompts import (
    PromptError,
    Template,
    brainstorm_schema,
    check_templates,
    generate_schema,
    load_template,
    prompts_dir,
)
from synthgen.parse import parse_task_list
from synthgen.taxonomy import ALL_LANGUAGES, GROUPS

from prompt_cases import GUIDELINES, TASK, every_combination

LEFTOVER = re.compile(r"\{[a-z_]+\}")


def sample_values(group: str, rng: random.Random) -> dict[str, str]:
    """One full set of the values the pipeline would supply to a generation template."""
    g = GROUPS[group]
    values = {name: rng.choice(choices) for name, choices in g.placeholders.items()}
    langs = rng.sample(ALL_LANGUAGES, len(g.language_slots))  # src != tgt for bitext
    values.update(zip(g.language_slots, langs))
    if g.brainstorm:
        values["task"] = TASK
    return values


def test_prompts_dir_holds_both_stages() -> None:
    root = prompts_dir()
    assert (root / "generate").is_dir() and (root / "brainstorm").is_dir()


def test_shipped_templates_pass_the_check() -> None:
    check_templates(GROUPS)


def folded(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("group", [g for g in GROUPS if GROUPS[g].brainstorm])
def test_brainstorm_renders_without_values(group: str) -> None:
    text = folded(load_template("brainstorm", group).render({}))
    assert 'JSON object only, with one key "tasks" holding a list of strings' in text
    assert "about 20 elements" in text
    assert not LEFTOVER.search(text)
    assert "about 7 elements" in load_template("brainstorm", group).render({"num_tasks": "7"})


def test_only_asymmetric_groups_have_brainstorm_templates() -> None:
    for name, g in GROUPS.items():
        assert (prompts_dir() / "brainstorm" / f"{name}.txt").exists() == g.brainstorm


@pytest.mark.parametrize("group", list(GROUPS))
def test_generate_renders_every_combination(group: str) -> None:
    g = GROUPS[group]
    template = load_template("generate", group)
    combos = every_combination(group)
    every = set(itertools.product(*g.placeholders.values()))
    assert {tuple(v[n] for n in g.placeholders) for v in combos} == every
    for values in combos:
        text = folded(template.render(values))
        assert not LEFTOVER.search(text), (values, LEFTOVER.search(text).group(0))
        for key in g.output_keys:
            assert f'"{key}"' in text
        if g.language_slots == ("language",):
            assert f"must be in {values['language']}." in text
        else:
            src, tgt = values["src_lang"], values["tgt_lang"]
            assert f'"S1" must be in {src};' in text
            assert f'"S2" and "S3" must be in {tgt}.' in text
        if g.brainstorm:
            assert TASK in text
        for name in g.placeholders:
            assert values[name] in text


TEMPLATES = sorted(GUIDELINES)


def test_every_template_has_its_guidelines_listed() -> None:
    shipped = sorted(f"{p.parent.name}/{p.stem}" for p in prompts_dir().glob("*/*.txt"))
    assert shipped == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_carries_every_guideline_of_the_paper(name: str) -> None:
    text = folded(load_template(*name.split("/")).text)
    for guideline, phrase in GUIDELINES[name]:
        if phrase.startswith("!"):
            assert phrase[1:].lower() not in text.lower(), f"{name}: against guideline '{guideline}'"
        else:
            assert phrase in text, f"{name}: guideline '{guideline}' is missing"


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_guideline_phrase_occurs_once(name: str) -> None:
    # a phrase found twice would let the content test pass after one of the two sentences goes
    text = folded(load_template(*name.split("/")).text)
    for guideline, phrase in GUIDELINES[name]:
        if not phrase.startswith("!"):
            assert text.count(phrase) == 1, f"{name}: phrase of '{guideline}' occurs {text.count(phrase)} times"


def test_dropping_a_guideline_fails_the_content_test(edited_prompts: Path) -> None:
    path = edited_prompts / "generate" / "short-long.txt"
    path.write_text(path.read_text().replace("and diverse in topic", "and clear"))
    text = folded(load_template("generate", "short-long", edited_prompts).text)
    missing = [g for g, phrase in GUIDELINES["generate/short-long"] if phrase not in text]
    assert missing == ["query diverse in topic"]


@pytest.mark.parametrize("group", [g for g in GROUPS if GROUPS[g].brainstorm])
def test_brainstorm_prompt_and_schema_ask_for_the_same_answer(group: str) -> None:
    text = folded(load_template("brainstorm", group).render({}))
    schema = brainstorm_schema()
    keys = re.findall(r'one key "(\w+)" holding a list of strings', text)
    assert keys == schema["required"] == list(schema["properties"])
    assert schema["properties"][keys[0]] == {"type": "array", "items": {"type": "string"}}
    assert "python list" not in text.lower()
    answer = json.dumps({keys[0]: ["Find recipes for a dish.", "Match a word to its definition."]})
    assert parse_task_list(answer) == ["Find recipes for a dish.", "Match a word to its definition."]


@pytest.mark.parametrize("group", list(GROUPS))
def test_generate_answer_shape_matches_the_schema(group: str) -> None:
    text = load_template("generate", group).text
    shape = json.loads(text.split("Shape of the answer:\n", 1)[1].splitlines()[0])
    assert list(shape) == list(generate_schema(group)["properties"])


def test_length_phrasing_matches_each_group() -> None:
    rng = random.Random(0)
    for n in GROUPS["short-long"].placeholders["num_words"]:
        text = load_template("generate", "short-long").render(
            {**sample_values("short-long", rng), "num_words": n})
        assert f"at least {n} words" in text
    for n in GROUPS["long-short"].placeholders["num_words"]:
        text = load_template("generate", "long-short").render(
            {**sample_values("long-short", rng), "num_words": n})
        assert f'"input_text" is {n} words long' in text
        # "at least <N> words" would wrongly turn "less than 10" into a minimum
        if not n.startswith("at least"):
            assert not re.search(r"at least \d+ words", text)
    text = load_template("generate", "long-long").render(sample_values("long-long", rng))
    assert "at least 300 words" in text


def test_literal_json_braces_survive_rendering() -> None:
    text = load_template("generate", "sts").render(sample_values("sts", random.Random(1)))
    assert '{"S1": "...", "S2": "...", "S3": "..."}' in text


def test_missing_value_names_template_and_placeholder() -> None:
    values = sample_values("short-long", random.Random(2))
    del values["clarity"]
    with pytest.raises(PromptError, match=r"generate/short-long.*\{clarity\}"):
        load_template("generate", "short-long").render(values)


def test_values_are_not_expanded_twice() -> None:
    t = Template.from_text("t", "A {a} B {b}")
    assert t.render({"a": "{b}", "b": "x"}) == "A {b} B x"
    assert t.placeholders == ("a", "b")


def test_sha_changes_with_text() -> None:
    assert Template.from_text("t", "a").sha256 != Template.from_text("t", "b").sha256


@pytest.fixture
def edited_prompts(tmp_path: Path) -> Path:
    """A copy of the shipped templates that a test may edit like a user would."""
    root = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), root)
    return root


def test_typo_in_edited_template_is_caught(edited_prompts: Path) -> None:
    path = edited_prompts / "generate" / "short-long.txt"
    path.write_text(path.read_text() + "\nWrite in {langauge}.\n")
    with pytest.raises(PromptError, match=r"generate/short-long.*\{langauge\}"):
        check_templates(["short-long"], root=edited_prompts)
    check_templates(["sts", "long-short"], root=edited_prompts)  # other groups unaffected


@pytest.mark.parametrize("written", ["{Language}", "{ language }", "{LANGUAGE}"])
def test_a_placeholder_written_in_another_case_or_with_spaces_fails_before_any_request(
        written, edited_prompts, server, write_config, tmp_path) -> None:
    """It was sent to the model as written: examples in any language, paid for, then rejected."""
    path = edited_prompts / "generate" / "short-long.txt"
    path.write_text(path.read_text().replace("{language}", written))
    cfg = write_config(server.base_url)
    cfg.write_text(f'prompts_dir = "{edited_prompts}"\n'.replace("\\", "/") + cfg.read_text())
    command = [sys.executable, "-m", "synthgen", "run", "-q", "-c", str(cfg), "-o", str(tmp_path / "run")]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and server.requests == 0, r.stderr
    assert r.stderr.count("\n") == 1 and f"short-long' uses unknown placeholder {written}" in r.stderr
    check_templates(list(GROUPS))  # the shipped templates, JSON examples and all, still pass


def test_placeholder_of_another_group_is_refused(edited_prompts: Path) -> None:
    # sts has no brainstormed task, so {task} would stay unfilled at run time
    path = edited_prompts / "generate" / "sts.txt"
    path.write_text("Task: {task}\n" + path.read_text())
    with pytest.raises(PromptError, match=r"\{task\}"):
        check_templates(["sts"], root=edited_prompts)


def test_brainstorm_template_may_not_take_sampled_values(edited_prompts: Path) -> None:
    path = edited_prompts / "brainstorm" / "long-short.txt"
    path.write_text(path.read_text() + "\nWrite them in {language}.\n")
    with pytest.raises(PromptError, match=r"brainstorm/long-short.*\{language\}"):
        check_templates(["long-short"], root=edited_prompts)


def test_missing_file_names_the_path(edited_prompts: Path) -> None:
    (edited_prompts / "generate" / "bitext.txt").unlink()
    with pytest.raises(PromptError, match="bitext.txt") as exc:
        check_templates(["bitext"], root=edited_prompts)
    assert "\n" not in str(exc.value)


def test_unknown_group_and_stage_are_refused() -> None:
    with pytest.raises(PromptError, match="nope"):
        load_template("generate", "nope")
    with pytest.raises(PromptError, match="judge"):
        load_template("judge", "sts")


def test_brainstorm_schema() -> None:
    schema = brainstorm_schema()
    assert schema["required"] == ["tasks"]
    assert schema["properties"]["tasks"] == {"type": "array", "items": {"type": "string"}}
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("group", list(GROUPS))
def test_generate_schema_lists_exactly_the_taxonomy_keys(group: str) -> None:
    keys = GROUPS[group].output_keys
    schema = generate_schema(group)
    assert schema["type"] == "object"
    assert list(schema["properties"]) == list(keys)
    assert all(p == {"type": "string"} for p in schema["properties"].values())
    assert schema["required"] == list(keys)
    assert schema["additionalProperties"] is False


def test_a_generate_template_without_task_is_refused(edited_prompts: Path) -> None:
    # the brainstorm calls would be paid for, and each example recorded with a task it never saw
    path = edited_prompts / "generate" / "long-long.txt"
    path.write_text(path.read_text().replace("{task}", "a matching task"))
    with pytest.raises(PromptError, match=r"generate/long-long.*never uses \{task\}"):
        check_templates(["long-long"], root=edited_prompts)


def test_a_template_saved_with_a_bom_is_sent_without_it(edited_prompts: Path) -> None:
    path = edited_prompts / "brainstorm" / "long-short.txt"
    text = path.read_text()
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    template = load_template("brainstorm", "long-short", edited_prompts)
    assert template.text == text and template.sha256 == load_template("brainstorm", "long-short").sha256
