"""Read a chat request the way an LLM would: what kind of answer, which keys, languages, lengths.

String matching on fragments synthgen's templates (prompts/) contain: "Brainstorm", quoted keys,
"must be in <Language>", "at least N words"; the Plan it makes is what textgen writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthgen.taxonomy import ALL_LANGUAGES, GROUPS, QUERY_LENGTHS

DEFAULT_DOC_WORDS = (40, 80)
# short-short asks for "a phrase, or one or two sentences" and states no word count
SHORT_PAIR_KEYS = ("input", "positive_document")
SHORT_PAIR_WORDS = (8, 30)
_KNOWN_LANGUAGES = {lang.lower() for lang in ALL_LANGUAGES}
_LANG = r"([A-Z][\w-]*(?: [A-Z][\w-]*)?)"
# templates wrap lines anywhere, so every space in a fragment matches any whitespace
_MUST_BE_IN = re.compile(r"must\s+be\s+in\s+" + _LANG)
_S1_IN = re.compile(r'S1"?\s+must\s+be\s+in\s+' + _LANG)
_S23_IN = re.compile(r'S2"?\s+and\s+"?S3"?\s+must\s+be\s+in\s+' + _LANG)
_AT_LEAST = re.compile(r"at\s+least\s+(\d+)\s+words")
_LESS_THAN = re.compile(r"less\s+than\s+(\d+)\s+words")
_PYTHON_LIST = re.compile(r"python\s+list")  # searched in the lower-cased prompt
_ABOUT_N = re.compile(r"about\s+(\d+)\s+(?:elements|items|tasks)")
# the query_length placeholder values and the query word counts they ask for
_QUERY_WORDS = [(re.compile(r"\s+".join(phrase.split())), words)
                for phrase, words in zip(QUERY_LENGTHS, ((3, 4), (5, 10), (10, 10)), strict=True)]
# longest first, ties in taxonomy order (sorted is stable; no set, whose order varies by process)
_GROUP_KEYS = sorted(dict.fromkeys(g.output_keys for g in GROUPS.values()), key=len, reverse=True)


@dataclass
class FieldSpec:
    """One key of the JSON object to write: what sort of value, in which language, how long."""

    key: str
    kind: str  # doc | short | sentence | number
    language: str = "English"
    words: tuple[int, int] = (8, 20)


@dataclass
class Plan:
    """What to answer: a task list (brainstorm), a JSON object (fields), or plain text."""

    kind: str  # brainstorm | object | text
    fields: list[FieldSpec] = field(default_factory=list)
    wrap_tasks: bool = False  # brainstorm answer as {"tasks": [...]} instead of a bare list
    task_style: str = "retrieval"  # retrieval | classification | matching
    num_tasks: int = 20  # "about N elements"


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def schema_of(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema of a response_format of type json_schema, else None."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


def _language(pattern: re.Pattern[str], prompt: str, default: str) -> str:
    """The first stated language we know ("must be in JSON" is not one), else the first stated."""
    found = []
    for match in pattern.finditer(prompt):
        name = match.group(1)
        first = name.split(" ")[0]  # "German Please" -> "German"
        for candidate in (name, first):
            if candidate.lower() in _KNOWN_LANGUAGES:
                return candidate
        found.append(first)
    return found[0] if found else default


def doc_words(prompt: str, default: tuple[int, int]) -> tuple[int, int]:
    """Word count range for documents: N..1.3N for "at least N words"."""
    at_least = [int(n) for n in _AT_LEAST.findall(prompt)]
    if at_least:
        n = min(max(at_least), 5000)  # the largest is the document's; smaller ones the query's
        return n, max(n, int(n * 1.3))
    less = [int(n) for n in _LESS_THAN.findall(prompt)]
    if less:
        return max(1, max(less) // 2), max(1, max(less) - 1)
    return default


def detect_keys(prompt: str) -> tuple[str, ...] | None:
    """Output keys of the group whose keys all stand in double quotes, as synthgen's templates
    write them (most keys wins); substring tests are far cheaper than a regex over a long prompt."""
    return next((keys for keys in _GROUP_KEYS if all(f'"{k}"' in prompt for k in keys)), None)


def _kind(key: str, schema_type: Any) -> str:
    """What to write for a key; synthgen's schemas ask for strings, other types but numbers get one."""
    if schema_type == "number":
        return "number"
    if "document" in key or key in ("input_text", "input"):
        return "doc"
    if "query" in key or "label" in key:
        return "short"
    return "sentence"


def read_request(body: dict[str, Any]) -> Plan:
    """Decide what to answer from the request body alone (pure, so answers are reproducible)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    # the last user message carries the instructions in synthgen's templates
    users = [m for m in messages if m.get("role") == "user"]
    prompt = message_text(users[-1]) if users else "\n".join(message_text(m) for m in messages)
    schema = schema_of(body.get("response_format"))
    is_object = schema is not None and schema.get("type", "object") == "object"
    props = schema.get("properties") if is_object else None
    low = prompt.lower()
    asks_object = '"tasks"' in prompt and "brainstorm" in low
    if asks_object or ("python" in low and _PYTHON_LIST.search(low)):  # literal tests first
        style = next((s for s in ("classification", "matching") if s in low), "retrieval")
        tasks = (props or {}).get("tasks")
        about = _ABOUT_N.search(low)
        return Plan("brainstorm", task_style=style,
                    wrap_tasks=asks_object or (isinstance(tasks, dict) and tasks.get("type") == "array"),
                    num_tasks=min(max(1, int(about.group(1))), 500) if about else 20)
    if isinstance(props, dict) and props:
        typed = [(k, v.get("type", "string") if isinstance(v, dict) else "string") for k, v in props.items()]
    else:
        keys = detect_keys(prompt)
        if keys is None:
            return Plan("object", [FieldSpec("answer", "sentence")]) if "json" in low else Plan("text")
        typed = [(k, "string") for k in keys]
    lang = _language(_MUST_BE_IN, prompt, "English")
    src, tgt = _language(_S1_IN, prompt, lang), _language(_S23_IN, prompt, lang)
    docs = doc_words(prompt, SHORT_PAIR_WORDS if tuple(k for k, _ in typed) == SHORT_PAIR_KEYS
                     else DEFAULT_DOC_WORDS)
    queries = next((words for pattern, words in _QUERY_WORDS if pattern.search(prompt)), (3, 10))
    specs = []
    for key, schema_type in typed:
        kind = _kind(key, schema_type)
        words = {"doc": docs, "short": queries if key == "user_query" else (2, 4)}.get(kind, (8, 20))
        language = src if key == "S1" else tgt if key in ("S2", "S3") else lang
        specs.append(FieldSpec(key, kind, language, words))
    return Plan("object", specs)
