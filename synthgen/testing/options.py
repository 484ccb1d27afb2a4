"""What the scripted server does (faults, quotas, latency, batches) and the CLI flags, derived
from the dataclass fields so the two cannot drift apart."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

# faults drawn once per content key, on its first request only: they split [0, 1) between them
FIRST_SIGHT = ("429", "500", "hang", "html", "empty_body", "cut_envelope", "400")


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class FakeServerOptions:
    """Behaviour of FakeLLMServer. Every rate is a probability in [0, 1], drawn from a hash."""

    # first-sight faults: only the first request seen for a content key (messages + model)
    rate_429: float = _opt(0.0, "answer HTTP 429 with Retry-After")
    retry_after: float = _opt(0.05, "seconds in Retry-After for rate_429 (fractional allowed)")
    rate_500: float = _opt(0.0, "answer HTTP 500")
    rate_hang: float = _opt(0.0, "sleep hang_seconds before answering")
    hang_seconds: float = _opt(30.0, "how long a hanging request sleeps")
    rate_html: float = _opt(0.0, "answer 200 with an HTML page (a proxy's error page)")
    rate_empty_body: float = _opt(0.0, "answer 200 with an empty body")
    rate_cut_envelope: float = _opt(0.0, "answer 200 with the JSON envelope cut in half")
    rate_400: float = _opt(0.0, "answer HTTP 400 (the request is refused; clients do not retry)")
    # content faults: chosen by hash of the full request, seed included
    rate_truncate: float = _opt(0.0, "cut the content mid-JSON, finish_reason stop")
    rate_length: float = _opt(0.0, "cut the content, finish_reason length")
    rate_wrong_language: float = _opt(0.0, "write fields in another language than asked")
    rate_short: float = _opt(0.0, "documents of only 3-5 words")
    rate_copy_query: float = _opt(0.0, "copy the query (or label) into the document")
    rate_near_duplicate: float = _opt(0.0, "answer a near-copy from a small fixed pool")
    rate_fenced: float = _opt(0.0, "wrap the JSON in ```json fences with chatter around")
    rate_repeat_task: float = _opt(0.0, "chance that a brainstormed task repeats an earlier one")
    # quotas over all requests, in a sliding window
    quota_rpm: float | None = _opt(None, "requests allowed per window (default window 60 s)")
    quota_tpm: float | None = _opt(None, "tokens (prompt + completion) allowed per window")
    quota_window_seconds: float = _opt(60.0, "length of the quota window")
    latency_ms: float = _opt(0.0, "sleep this long before every answer")
    usage: bool = _opt(True, "report usage in responses")
    json_schema: bool = _opt(True, "accept response_format json_schema (else HTTP 400)")
    api_key: str | None = _opt(None, "require Authorization: Bearer <key>")
    echo_auth: bool = _opt(False, "repeat the request's Authorization header in every error body")
    drip_seconds: float = _opt(0.0, "spread each answer's body over this many seconds")
    answer_bytes: int = _opt(0, "pad each answer with spaces to this many bytes, sent chunked")
    idle_exit_seconds: float | None = _opt(None, "stop after this long without a request")
    # batch API
    batch_delay_s: float = _opt(0.2, "seconds a valid batch spends in_progress, spread over lines")
    batch_fail_validation: bool = _opt(False, "every batch fails validation")
    batch_expire_after: int | None = _opt(None, "a batch expires after answering this many lines")
    batch_rate_line_error: float = _opt(0.0, "share of batch lines answered in the error file")
    batch_rate_missing: float = _opt(0.0, "share of batch lines in neither result file")
    batch_download_drip_s: float = _opt(0.0, "send file content slowly over this many seconds")
    batch_reply_delay_s: float = _opt(0.0, "answer uploads and batch creations this late "
                                      "(the object exists at once)")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if "rate_" in f.name and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value}")
        # rates that split one draw between them
        for names in ([f"rate_{n}" for n in FIRST_SIGHT], ["batch_rate_line_error", "batch_rate_missing"]):
            total = sum(getattr(self, name) for name in names)
            if total > 1.0:
                raise ValueError(f"{' + '.join(names)} must not exceed 1, got {total}")
        for name in ("retry_after", "hang_seconds", "latency_ms", "drip_seconds", "answer_bytes",
                     "batch_delay_s", "batch_download_drip_s", "batch_reply_delay_s", "batch_expire_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        for name in ("quota_rpm", "quota_tpm", "quota_window_seconds", "idle_exit_seconds"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")


@dataclass
class ServerCommand:
    """Everything `python -m synthgen.testing` needs: where to listen and how to behave."""

    host: str
    port: int
    options: FakeServerOptions


_TYPES = {"float": float, "int": int, "str": str}


def options_from_cli_args(argv: Sequence[str] | None = None,
                          prog: str = "python -m synthgen.testing") -> ServerCommand:
    """Parse the flags (one per option: --rate-429, --latency-ms, --no-usage, ...) into host, port
    and FakeServerOptions; a bad value raises ValueError."""
    parser = argparse.ArgumentParser(prog=prog, description="Scripted OpenAI-compatible server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    for f in fields(FakeServerOptions):
        flag, help_text = "--" + f.name.replace("_", "-"), f.metadata["help"]
        if f.name.removeprefix("rate_") in FIRST_SIGHT:
            help_text += ", the first time a request is seen (its retry is answered)"
        if f.type == "bool" and f.default:
            parser.add_argument("--no-" + flag[2:], dest=f.name, action="store_false",
                                help="do not " + help_text)
        elif f.type == "bool":
            parser.add_argument(flag, dest=f.name, action="store_true", help=help_text)
        else:
            kind = _TYPES[str(f.type).split("|")[0].strip()]
            parser.add_argument(flag, dest=f.name, type=kind, default=f.default,
                                metavar=kind.__name__.upper(), help=f"{help_text} (default {f.default})")
    parsed = vars(parser.parse_args(argv))
    host, port = parsed.pop("host"), parsed.pop("port")
    return ServerCommand(host=host, port=port, options=FakeServerOptions(**parsed))
