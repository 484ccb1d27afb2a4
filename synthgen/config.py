"""Run configuration: TOML validated by pydantic models that refuse unknown keys, since a typo
must be an error naming the key, not a silent default, when a run costs real money. The config
names the variable holding the API key (`llm.api_key_env`), never the key. README.md documents
every key."""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError, PromptError
from .prompts import load_template, stages_of
from .taxonomy import ALL_LANGUAGES, GROUPS, paper_language_weights
from .validate import RULE_DEFAULTS, Rules


class _Strict(BaseModel):
    # strict: TOML has real types, so `concurrency = true` or `timeout_s = "30"` is a mistake to
    # name, not a value to coerce; no inf or nan (TOML allows both), which no setting means
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class BatchConfig(_Strict):
    """llm.mode = "batch": OpenAI-compatible Batch API (files + batches)."""

    max_requests: int = Field(50_000, ge=1, le=50_000)
    max_bytes: int = Field(200 * 1024 * 1024, ge=1024)
    completion_window: str = Field("24h", min_length=1)
    poll_interval_s: float = Field(10.0, gt=0)
    max_poll_interval_s: float = Field(120.0, gt=0)
    max_waves: int = Field(3, ge=1, le=20)


class LLMConfig(_Strict):
    mode: Literal["online", "batch"] = "online"
    batch: BatchConfig = BatchConfig()
    backend: Literal["openai", "local"] = "openai"
    model: str = Field("gpt-4o-mini", min_length=1)  # "" would reach the endpoint as no model
    base_url: str | list[str] | None = None
    api_key_env: str = Field("OPENAI_API_KEY", min_length=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(2048, ge=16)
    timeout_s: float = Field(120.0, gt=0)
    max_response_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    concurrency: int = Field(16, ge=1, le=4096)
    adaptive_concurrency: bool = True
    max_attempts: int = Field(6, ge=1, le=50)
    max_output_retries: int = Field(2, ge=0, le=10)
    structured_output: Literal["auto", "json_schema", "json_object", "off"] = "auto"
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    model_path: str | None = Field(None, min_length=1)  # "" would be the current directory
    n_ctx: int = Field(2048, ge=256)
    extra_body: dict = Field(default_factory=dict)

    @field_validator("base_url", mode="before")
    @classmethod
    def _some_url(cls, value: object) -> object:
        # checked before the union, whose own message names its branches ("base_url.str: ...");
        # an empty list or string would silently fall back to OpenAI's URL
        urls = value if isinstance(value, list) else [value]
        fallback = "(leave base_url out to use OPENAI_BASE_URL or OpenAI's)"
        if value == []:
            raise ValueError(f"needs at least one URL {fallback}")
        if value is not None and not all(isinstance(url, str) for url in urls):
            raise ValueError("must be a URL string or a list of URL strings")
        if value is not None and not all(url.strip() for url in urls):
            raise ValueError(f"a URL is empty {fallback}")
        return value

    def base_urls(self) -> list[str] | None:
        return [self.base_url] if isinstance(self.base_url, str) else self.base_url


class GroupConfig(_Strict):
    examples: int = Field(0, ge=0)
    tasks: int | None = Field(None, ge=1)


class BrainstormConfig(_Strict):
    tasks_per_call: int = Field(20, ge=1, le=200)
    min_task_words: int = Field(4, ge=1)
    max_rounds: int = Field(3, ge=0, le=20)


class GenerateConfig(_Strict):
    max_rounds: int = Field(3, ge=0, le=20)
    max_extra_share: float = Field(0.5, ge=0.0, le=10.0)


class LanguagesConfig(_Strict):
    mode: Literal["paper", "custom"] = "paper"
    weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "LanguagesConfig":
        if self.mode == "paper" and self.weights:
            # silently sampling the paper's mix instead of the user's table would be a costly surprise
            raise ValueError("[languages.weights] is only used with mode = 'custom' (mode is 'paper')")
        if self.mode == "custom" and not self.weights:
            raise ValueError("languages.mode = 'custom' needs a [languages.weights] table")
        unknown = sorted(set(self.weights) - set(ALL_LANGUAGES))
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; names as in the paper's XLM-R list")
        total = sum(self.weights.values())  # finite weights may still add up to inf (1e308 twice)
        if self.weights and (any(w < 0 for w in self.weights.values()) or not 0 < total < math.inf):
            raise ValueError(f"language weights must be >= 0, not all zero, with a finite sum (sum {total})")
        return self


class OutputConfig(_Strict):
    shard_size: int = Field(10000, ge=1)


class ValidationConfig(_Strict):
    min_words_ratio: float = Field(0.5, ge=0.0, le=2.0)
    min_field_words: int = Field(1, ge=0)
    query_length_tolerance: int = Field(2, ge=0)
    near_duplicate_threshold: float = Field(0.85, ge=0.5, le=1.0)
    rules: dict[str, Literal["reject", "flag", "off"]] = Field(default_factory=dict)
    # same answers with or without the worker: not part of the fingerprint
    check_worker: Literal["auto", "on", "off"] = "auto"
    dedup_min_words: int = Field(8, ge=1)
    dedup_scope: Literal["group", "run"] = "group"

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(rules) - set(RULE_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known: {sorted(RULE_DEFAULTS)}")
        return rules

    def policy(self, rule: str) -> str:
        return self.rules.get(rule, RULE_DEFAULTS[rule])

    def rules_for_checks(self) -> Rules:
        return Rules(**self.model_dump(exclude={"check_worker"}))


class Price(_Strict):
    input_per_1m: float = Field(ge=0)
    output_per_1m: float = Field(ge=0)
    batch_input_per_1m: float | None = Field(None, ge=0)
    batch_output_per_1m: float | None = Field(None, ge=0)
    batch_discount: float = Field(0.5, ge=0, le=1)

    def rates(self, batch: bool) -> tuple[float, float]:
        """USD per million (prompt, completion) tokens, online or in a batch."""
        online = self.input_per_1m, self.output_per_1m
        if not batch:
            return online
        given = self.batch_input_per_1m, self.batch_output_per_1m
        return tuple(o * self.batch_discount if b is None else b  # type: ignore[return-value]
                     for o, b in zip(online, given))


class BudgetConfig(_Strict):
    max_cost: float | None = Field(None, gt=0)
    max_requests: int | None = Field(None, ge=1)


class RunConfig(_Strict):
    seed: int = 0
    llm: LLMConfig = LLMConfig()
    groups: dict[str, GroupConfig]
    brainstorm: BrainstormConfig = BrainstormConfig()
    generate: GenerateConfig = GenerateConfig()
    languages: LanguagesConfig = LanguagesConfig()
    output: OutputConfig = OutputConfig()
    validation: ValidationConfig = ValidationConfig()
    budget: BudgetConfig = BudgetConfig()
    prices: dict[str, Price] = Field(default_factory=dict)
    prompts_dir: str | None = Field(None, min_length=1)  # "" would silently mean the packaged ones

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, groups: dict[str, GroupConfig]) -> dict[str, GroupConfig]:
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown group(s) {unknown}; known: {list(GROUPS)}")
        if not any(g.examples for g in groups.values()):
            raise ValueError("no group asks for any examples")
        return groups

    @model_validator(mode="after")
    def _tasks_where_needed(self) -> "RunConfig":
        for name, g in self.groups.items():
            if g.examples and GROUPS[name].brainstorm and g.tasks is None:
                raise ValueError(f"groups.{name}.tasks is required (this group brainstorms tasks)")
            if g.tasks is not None and not GROUPS[name].brainstorm:
                raise ValueError(f"groups.{name}.tasks: group '{name}' has no brainstorm step")
        # checked here, not at the first bitext item, which may come after paid requests
        if "bitext" in self.active_groups() and len(self.language_weights()) < 2:
            raise ValueError("groups.bitext needs at least two languages with weight > 0 in [languages.weights]")
        return self

    def active_groups(self) -> list[str]:
        """Groups with examples to make, in taxonomy order (stable across dict orderings)."""
        return [g for g in GROUPS if g in self.groups and self.groups[g].examples > 0]

    def brainstorm_calls(self, group: str) -> int:
        tasks = self.groups[group].tasks or 0
        return math.ceil(tasks / self.brainstorm.tasks_per_call)

    def language_weights(self) -> dict[str, float]:
        if self.languages.mode == "paper":
            return paper_language_weights()
        return {k: v for k, v in self.languages.weights.items() if v > 0}

    def fingerprint_data(self) -> dict:
        """Everything that changes what a run produces, as plain JSON data, prompt templates
        included. Throughput and budget settings (concurrency, rate limits, endpoints, timeouts,
        budgets, prices) are left out on purpose: changing them on resume is safe and common."""
        data = json.loads(self.model_dump_json(
            include={"seed", "groups", "brainstorm", "generate", "languages", "validation", "prompts_dir"},
            exclude={"validation": {"check_worker"}}))
        data["llm"] = json.loads(self.llm.model_dump_json(
            include={"backend", "model", "temperature", "top_p", "max_tokens", "max_output_retries",
                     "extra_body", "model_path"}))
        # the templates' hashes count, not their path: shards made on machines where the copies lie
        # elsewhere merge, and a moved copy resumes (None, as before, keeps older fingerprints)
        root = Path(self.prompts_dir) if self.prompts_dir else None
        data["prompts_dir"], data["prompts"] = None, {}
        for g in self.active_groups():
            for stage in stages_of(g):
                try:
                    data["prompts"][f"{stage}/{g}"] = load_template(stage, g, root).sha256[:16]
                except PromptError:
                    data["prompts"][f"{stage}/{g}"] = "missing"
        return data

    def fingerprint(self) -> str:
        blob = json.dumps(self.fingerprint_data(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def parse_config(data: dict, source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
    # a misspelt key also shows up as a missing required one; the misspelling is the useful news
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    where = ".".join(str(p) for p in e["loc"])
    if e["type"] == "extra_forbidden":
        raise ConfigError(f"{source}: unknown config key '{where}'")
    msg = e["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    # whole-config checks have no location; their message names the keys itself
    raise ConfigError(f"{source}: {where}: {msg}{more}" if where else f"{source}: {msg}{more}")


def load_config(path: str | Path) -> RunConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a BOM (Windows editors) is no TOML error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(data, str(p))
