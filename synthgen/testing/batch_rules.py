"""The scripted Batch API's rules: valid options, valid input files, which lines fail.

Pure functions, kept apart from the HTTP layer (batches.py) so the rules read plainly; nothing here
imports the server, so options.py can use the option check without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthgen.testing.options import FakeServerOptions

# a batch reports at most this many validation errors, as a long bad file would drown the reader
MAX_ERRORS = 50


def check_batch_options(opts: FakeServerOptions) -> None:
    """Raise ValueError for a batch option out of range (called from FakeServerOptions)."""
    for name in ("batch_rate_line_error", "batch_rate_missing"):
        value = getattr(opts, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    share = opts.batch_rate_line_error + opts.batch_rate_missing
    if share > 1.0:
        raise ValueError("batch_rate_line_error + batch_rate_missing must not exceed 1, "
                         f"got {share}")
    for name in ("batch_delay_s", "batch_download_drip_s", "batch_reply_delay_s"):
        if getattr(opts, name) < 0:
            raise ValueError(f"{name} must not be negative")
    if opts.batch_expire_after is not None and opts.batch_expire_after < 0:
        raise ValueError(f"batch_expire_after must not be negative, got {opts.batch_expire_after}")


@dataclass
class BatchLine:
    """One request of an input file, as validated."""

    custom_id: str
    body: dict[str, Any]


def _error(line: int | None, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _check_line(number: int, raw: bytes, endpoint: str) -> BatchLine | dict[str, Any]:
    """The request on one line, or the error that makes the file invalid."""
    try:
        item = json.loads(raw)
    except ValueError:
        return _error(number, "invalid_json_line", f"Line {number} is not valid JSON.")
    if not isinstance(item, dict):
        return _error(number, "invalid_json_line", f"Line {number} is not a JSON object.")
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return _error(number, "missing_required_parameter",
                      f"Line {number} has no custom_id string.", "custom_id")
    if item.get("method") != "POST":
        return _error(number, "invalid_method", f"Line {number}: method must be POST.", "method")
    if item.get("url") != endpoint:
        return _error(number, "invalid_url",
                      f"Line {number}: url must be the batch endpoint {endpoint}.", "url")
    body = item.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _error(number, "missing_required_parameter",
                      f"Line {number}: body needs a 'messages' list.", "body.messages")
    return BatchLine(custom_id, body)


def parse_input(data: bytes, endpoint: str) -> tuple[list[BatchLine], list[dict[str, Any]]]:
    """(requests, errors) of an input file; any error fails the whole batch, as at OpenAI."""
    raw_lines = data.split(b"\n")
    if raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()  # the newline that ends the last line
    if not raw_lines:
        return [], [_error(None, "empty_file", "The input file has no requests.")]
    lines: list[BatchLine] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_lines, start=1):
        checked = _check_line(number, raw, endpoint)
        if isinstance(checked, dict):
            errors.append(checked)
        elif checked.custom_id in seen:
            errors.append(_error(number, "duplicate_custom_id",
                                 f"Line {number}: custom_id {checked.custom_id!r} is used twice.",
                                 "custom_id"))
        else:
            seen.add(checked.custom_id)
            lines.append(checked)
        if len(errors) >= MAX_ERRORS:
            break
    return lines, errors


def scripted_validation_error() -> dict[str, Any]:
    """The error of a batch failed on purpose (batch_fail_validation)."""
    return _error(None, "invalid_request", "The batch failed validation (scripted fault).")


def line_fault(opts: FakeServerOptions, custom_id: str, body_digest: bytes) -> str | None:
    """'error_500', 'error_object', 'missing' or None, drawn from custom_id + body.

    The two error kinds are the two shapes an error-file line takes at OpenAI: an HTTP error
    response, or an `error` object with no response.
    """
    h = hashlib.blake2b(custom_id.encode() + b"\x00" + body_digest, digest_size=8).digest()
    u = int.from_bytes(h[:4], "big") / 2**32
    if u < opts.batch_rate_line_error:
        return "error_500" if h[4] & 1 else "error_object"
    if u < opts.batch_rate_line_error + opts.batch_rate_missing:
        return "missing"
    return None
