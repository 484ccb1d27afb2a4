"""Run configuration: strict keys, clear one-line errors, and a fingerprint that tracks only what changes output."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.config import ConfigError, RULE_DEFAULTS, load_config, parse_config
from synthgen.taxonomy import ALL_LANGUAGES, OTHER_LANGUAGES, paper_language_weights

REPO = Path(__file__).resolve().parent.parent

BASE = {
    "seed": 1,
    "llm": {"model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"},
    "groups": {"short-long": {"tasks": 4, "examples": 10}, "sts": {"examples": 5}, "bitext": {"examples": 5}},
    "prices": {"gpt-4o-mini": {"input_per_1m": 0.15, "output_per_1m": 0.6}},
}


def with_(path: str, value) -> dict:
    """BASE with the dotted `path` set to `value` (tables created as needed)."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return data


def error(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def test_base_config_is_valid():
    cfg = parse_config(BASE)
    assert cfg.active_groups() == ["short-long", "sts", "bitext"]
    assert cfg.brainstorm_calls("short-long") == 1


@pytest.mark.parametrize("key", [
    "sed", "llm.modle", "groups.sts.exampels", "groups.short-long.task", "brainstorm.tasks_per_cal",
    "languages.weight", "output.shardsize", "validation.min_word_ratio", "validation.rule",
    "budget.max_costs", "prices.gpt-4o-mini.input_per_1M",
])
def test_unknown_keys_anywhere_name_the_dotted_key(key):
    message = error(with_(key, 1))
    assert f"unknown config key '{key}'" in message
    assert "\n" not in message


def test_a_misspelt_required_key_is_named_not_just_the_missing_one():
    message = error(with_("prices.gpt-4o", {"input_per_1M": 2.5, "output_per_1m": 10}))
    assert message == "config: unknown config key 'prices.gpt-4o.input_per_1M'"


def test_unknown_key_in_a_toml_file_names_file_and_key(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('seed = 1\n[groups.sts]\nexamples = 3\n[llm]\nmodel = "m"\ntemprature = 0.5\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: unknown config key 'llm.temprature'"


def test_unreadable_configs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_whole_config_errors_carry_no_doubled_prefix():
    message = error({"groups": {"short-long": {"examples": 3}}})
    assert message == "config: groups.short-long.tasks is required (this group brainstorms tasks)"


def test_value_errors_name_the_key():
    assert error(with_("llm.temperature", 5)).startswith("config: llm.temperature:")
    assert error(with_("groups.sts.tasks", 3)).startswith("config: ")
    assert "no group asks for any examples" in error({"groups": {"sts": {"examples": 0}}})
    assert "unknown group" in error(with_("groups.short-lng", {"examples": 1}))


@pytest.mark.parametrize("path,value,needle", [
    ("llm.concurrency", True, "valid integer"),  # not read as 1
    ("llm.max_tokens", 512.5, "valid integer"),
    ("llm.timeout_s", float("inf"), "finite number"),
    ("llm.timeout_s", float("nan"), "finite number"),
    ("llm.timeout_s", -5.0, "greater than 0"),
    ("llm.temperature", "1.0", "valid number"),
    ("llm.adaptive_concurrency", 1, "valid boolean"),
    ("budget.max_cost", float("inf"), "finite number"),
    ("llm.base_url", [], "at least one URL"),  # not OpenAI's URL by default
    ("llm.base_url", "", "URL is empty"),
    ("llm.base_url", ["http://127.0.0.1:9/v1", " "], "URL is empty"),
    ("llm.base_url", ["http://127.0.0.1:9/v1", 8000], "list of URL strings"),
])
def test_values_of_the_wrong_kind_are_refused_not_coerced(path, value, needle):
    message = error(with_(path, value))
    assert message.startswith(f"config: {path}:") and needle in message and "\n" not in message


def test_toml_inf_nan_and_booleans_are_refused_in_a_file(tmp_path):
    for line, key in (("timeout_s = inf", "llm.timeout_s"), ("timeout_s = -inf", "llm.timeout_s"),
                      ("timeout_s = nan", "llm.timeout_s"), ("concurrency = true", "llm.concurrency"),
                      ("base_url = []", "llm.base_url")):
        path = tmp_path / "run.toml"
        path.write_text(f'[groups.sts]\nexamples = 3\n[llm]\n{line}\n')
        with pytest.raises(ConfigError, match=f"{path}: {key}:"):
            load_config(path)


def test_whole_numbers_still_fill_float_settings():
    cfg = parse_config(with_("llm.timeout_s", 30))
    assert cfg.llm.timeout_s == 30.0 and isinstance(cfg.llm.timeout_s, float)


def fingerprint(path: str | None = None, value=None) -> str:
    return parse_config(with_(path, value) if path else BASE).fingerprint()


@pytest.mark.parametrize("path,value", [
    ("llm.concurrency", 200), ("llm.requests_per_minute", 500.0), ("llm.tokens_per_minute", 100000.0),
    ("llm.base_url", ["http://10.0.0.1/v1", "http://10.0.0.2/v1"]), ("llm.timeout_s", 5.0),
    ("llm.max_attempts", 2), ("llm.api_key_env", "OTHER_KEY"), ("llm.adaptive_concurrency", False),
    ("budget.max_cost", 12.5), ("budget.max_requests", 99),
    ("prices.gpt-4o-mini", {"input_per_1m": 9.0, "output_per_1m": 9.0}), ("prices.other", {"input_per_1m": 1, "output_per_1m": 1}),
    ("output.shard_size", 7),
])
def test_fingerprint_ignores_throughput_budget_and_prices(path, value):
    assert fingerprint(path, value) == fingerprint()


@pytest.mark.parametrize("path,value", [
    ("llm.model", "gpt-4o"), ("seed", 2), ("groups.sts.examples", 6), ("groups.short-long.tasks", 5),
    ("groups.long-short", {"tasks": 2, "examples": 3}), ("validation.min_words_ratio", 0.7),
    ("validation.rules", {"copied_query": "flag"}), ("validation.query_length_tolerance", 4),
    ("llm.temperature", 0.7), ("llm.max_tokens", 999), ("brainstorm.tasks_per_call", 10),
    ("languages", {"mode": "custom", "weights": {"English": 1, "French": 1}}), ("prompts_dir", "my-prompts"),
])
def test_fingerprint_changes_with_what_changes_output(path, value):
    assert fingerprint(path, value) != fingerprint()


def test_fingerprint_is_stable_across_key_order():
    reordered = copy.deepcopy(BASE)
    reordered["groups"] = dict(reversed(list(BASE["groups"].items())))
    assert parse_config(reordered).fingerprint() == fingerprint()


def test_paper_language_weights():
    weights = paper_language_weights()
    assert len(weights) == 93 == len(ALL_LANGUAGES) == len(set(ALL_LANGUAGES))
    assert sum(weights.values()) == pytest.approx(100.0)
    assert weights["English"] == 43.1 and weights["Polish"] == 3.0 and weights["Arabic"] == 2.7
    assert sum(weights[lang] for lang in OTHER_LANGUAGES) == pytest.approx(19.8)
    assert parse_config(BASE).language_weights() == weights


def test_custom_language_weights():
    cfg = parse_config(with_("languages", {"mode": "custom", "weights": {"English": 3, "Thai": 1, "Welsh": 0}}))
    assert cfg.language_weights() == {"English": 3.0, "Thai": 1.0}
    message = error(with_("languages", {"mode": "custom", "weights": {"English": 1, "Klingon": 1}}))
    assert "Klingon" in message and "languages" in message
    assert "needs a [languages.weights]" in error(with_("languages", {"mode": "custom"}))
    assert ">= 0" in error(with_("languages", {"mode": "custom", "weights": {"English": -1, "Thai": 2}}))


def test_language_weights_too_large_to_add_up_are_one_line_and_exit_2(tmp_path):
    """Each weight is finite but their sum is not: `estimate` (like `run`) printed a traceback."""
    text = (REPO / "configs" / "ci.toml").read_text()
    start = text.index("[languages.weights]")
    cfg = tmp_path / "huge.toml"
    weights = "[languages.weights]\nEnglish = 1e308\nGerman = 1e308\n"
    cfg.write_text(text[:start] + weights + text[text.index("[output]"):])
    r = subprocess.run([sys.executable, "-m", "synthgen", "estimate", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "finite sum (sum inf)" in r.stderr


def test_an_empty_prompts_dir_is_refused_not_read_as_the_packaged_prompts():
    assert "prompts_dir" in error(with_("prompts_dir", ""))


@pytest.mark.parametrize("key", ["llm.model", "llm.api_key_env", "llm.model_path", "llm.batch.completion_window"])
def test_an_empty_string_setting_is_refused_in_one_line(key):
    assert error(with_(key, "")).endswith(f"{key}: String should have at least 1 character")


def test_language_weights_without_custom_mode_are_refused():
    # they would be ignored: the run would silently use the paper's mix
    message = error(with_("languages", {"weights": {"English": 1, "Thai": 1}}))
    assert "mode = 'custom'" in message


def test_bitext_needs_two_languages():
    message = error(with_("languages", {"mode": "custom", "weights": {"English": 1, "Thai": 0}}))
    assert "bitext" in message and "two languages" in message
    data = with_("languages", {"mode": "custom", "weights": {"English": 1}})
    data["groups"]["bitext"]["examples"] = 0
    assert parse_config(data).language_weights() == {"English": 1.0}


def test_validation_rules():
    cfg = parse_config(with_("validation.rules", {"copied_query": "flag", "query_length": "off"}))
    assert cfg.validation.policy("copied_query") == "flag"
    assert cfg.validation.policy("query_length") == "off"
    assert cfg.validation.policy("too_short") == RULE_DEFAULTS["too_short"] == "reject"
    message = error(with_("validation.rules", {"copied_qeury": "flag"}))
    assert "validation.rules" in message and "copied_qeury" in message
    assert "validation.rules.copied_query" in error(with_("validation.rules", {"copied_query": "warn"}))


@pytest.mark.parametrize("name", ["ci", "paper"])
def test_shipped_configs_load(name):
    cfg = load_config(REPO / "configs" / f"{name}.toml")
    assert cfg.active_groups()


def test_a_config_saved_with_a_bom_and_crlf_estimates_like_the_plain_file(tmp_path):
    """Windows editors save TOML with a UTF-8 BOM and CRLF line ends: the same run, not a TOML error."""
    plain = (Path(__file__).parents[1] / "configs" / "ci.toml").read_bytes()
    (tmp_path / "plain.toml").write_bytes(plain)
    (tmp_path / "windows.toml").write_bytes(b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n"))
    out = [subprocess.run([sys.executable, "-m", "synthgen", "estimate", "--config", str(tmp_path / name),
                           "--json"], capture_output=True, text=True, timeout=120) for name in ("plain.toml",
                                                                                          "windows.toml")]
    assert [r.returncode for r in out] == [0, 0], out[1].stderr
    assert json.loads(out[1].stdout) == json.loads(out[0].stdout)
