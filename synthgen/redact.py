"""Keep secrets out of everything synthgen prints or stores: a server may echo the Authorization
header in an error body, an exception may carry `user:password@` URLs, so such texts pass through
`redact` before they reach stderr, a rejects file, run.json or the journal."""

from __future__ import annotations

import re

# "Bearer <token>", "sk-..." style keys, and user:password@ in URLs
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)(\s+|%20)[A-Za-z0-9._~+/=\-]{6,}")
_KEYLIKE = re.compile(r"\b(sk|rk|pk|key|sess|org)-[A-Za-z0-9_\-]{8,}")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]*:[^/\s@]*@")
_MASK = "[redacted]"

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret (the API key) so that `redact` removes it wherever it appears."""
    if value and len(value) >= 4 and value not in ("no-key", "local"):
        _secrets.add(value)


def drop_secrets(s: str) -> str:
    """`s` with every known secret masked and nothing else changed (a model's answer, whose
    token-shaped words may be the data)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in s:
            s = s.replace(secret, _MASK)
    return s


def redact(text: object) -> str:
    """`text` as a string with every known secret and anything shaped like a token masked."""
    s = drop_secrets(text if isinstance(text, str) else str(text))
    s = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", s)
    s = _KEYLIKE.sub(_MASK, s)
    return _USERINFO.sub(lambda m: m.group(1) + _MASK + "@", s)
