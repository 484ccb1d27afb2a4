"""The scripted server's Batch API: /v1/files and /v1/batches, kept in memory (state.BatchStore).

A batch's lines get the chat route's answers one by one over batch_delay_s, so a cancel can land
mid-way; line faults hit only a body's first sight: sent again, a line heals.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from typing import Any

from aiohttp import web

from synthgen.testing.app import CHAT as ENDPOINT
from synthgen.testing.app import FakeApp, drip, error, prompt_tokens
from synthgen.testing.state import BatchStore, request_digests

_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_DONE = ("completed", "failed", "expired", "cancelled")
_TIMES = ("in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
          "expired_at", "cancelling_at", "cancelled_at")
MAX_ERRORS = 50  # validation errors a batch reports: a long bad file would drown the reader
_EXPIRED = {"code": "batch_expired",
            "message": "This request could not be executed before the completion window expired."}
_ERROR_500 = {"message": "The server had an error (scripted fault).", "type": "server_error",
              "param": None, "code": None}
_ERROR_OBJECT = {"code": "server_error", "message": "The request failed (scripted fault)."}
_dump = json.JSONEncoder(ensure_ascii=False).encode


def _line_error(line: int | None, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _check_line(n: int, raw: bytes, seen: dict[str, Any]) -> tuple[str, dict[str, Any]] | dict[str, Any]:
    """(custom_id, body) of one input line, or the error that makes the file invalid."""
    try:
        item = json.loads(raw)
    except ValueError:
        return _line_error(n, "invalid_json_line", f"Line {n} is not valid JSON.")
    if not isinstance(item, dict):
        return _line_error(n, "invalid_json_line", f"Line {n} is not a JSON object.")
    custom_id, body = item.get("custom_id"), item.get("body")
    for bad, code, what, param in (
            (not isinstance(custom_id, str) or not custom_id, "missing_required_parameter",
             " has no custom_id string.", "custom_id"),
            (item.get("method") != "POST", "invalid_method", ": method must be POST.", "method"),
            (item.get("url") != ENDPOINT, "invalid_url", f": url must be the batch endpoint {ENDPOINT}.",
             "url"),
            (not isinstance(body, dict) or not isinstance(body.get("messages"), list),
             "missing_required_parameter", ": body needs a 'messages' list.", "body.messages"),
            (isinstance(custom_id, str) and custom_id in seen, "duplicate_custom_id",
             f": custom_id {custom_id!r} is used twice.", "custom_id")):
        if bad:
            return _line_error(n, code, f"Line {n}{what}", param)
    return custom_id, body


def parse_input(data: bytes) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """(requests, errors) of an input file; any error fails the whole batch, as at OpenAI."""
    raw_lines = data.split(b"\n")
    if not raw_lines[-1].strip():
        raw_lines.pop()  # the newline that ends the last line
    if not raw_lines:
        return [], [_line_error(None, "empty_file", "The input file has no requests.")]
    lines: dict[str, tuple[str, dict[str, Any]]] = {}
    errors: list[dict[str, Any]] = []
    for n, raw in enumerate(raw_lines, start=1):
        checked = _check_line(n, raw, lines)
        if isinstance(checked, dict):
            errors.append(checked)
        else:
            lines[checked[0]] = checked
        if len(errors) >= MAX_ERRORS:
            break
    return list(lines.values()), errors


def _window_seconds(window: object) -> int | None:
    """'24h' -> 86400; OpenAI takes only 24h, other hosts take other hour counts."""
    if isinstance(window, str) and window.endswith("h") and window[:-1].isdigit() and int(window[:-1]):
        return int(window[:-1]) * 3600
    return None


def _page(request: web.Request, items: list[dict[str, Any]], default_limit: int,
          max_limit: int) -> web.Response:
    """One page of a list answer with OpenAI's cursor fields (`after`, `limit`, `has_more`)."""
    try:
        limit = int(request.query.get("limit", default_limit))
    except ValueError:
        limit = 0
    if not 1 <= limit <= max_limit:
        return error(400, f"limit must be between 1 and {max_limit}.", param="limit")
    after = request.query.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return web.json_response({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                              "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})


def _stamp(batch: dict[str, Any], status: str) -> None:
    batch["status"] = status
    batch[f"{status}_at"] = int(time.time())


def _result(batch_id: str, custom_id: str, status: int | None = None, body: Any = None,
            err: Any = None) -> str:
    """A result file line; its batch_req and request ids are stable within the batch."""
    h = hashlib.blake2b(f"{batch_id}\x00{custom_id}".encode(), digest_size=24).hexdigest()
    response = None if status is None else {"status_code": status, "request_id": f"req_{h[24:]}",
                                            "body": body}
    return _dump({"id": f"batch_req_{h[:24]}", "custom_id": custom_id, "response": response,
                  "error": err}) + "\n"


class BatchRoutes:
    """Handlers for /v1/files and /v1/batches, and the task that runs each batch."""

    def __init__(self, fake: FakeApp) -> None:
        self.fake, self.opts = fake, fake.options

    @property
    def store(self) -> BatchStore:  # looked up each time: /_reset replaces it
        return self.fake.state.batches

    async def upload(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except ValueError:
            return error(400, "Expected a multipart/form-data body.")
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, web.FileField):
            return error(400, "'file' is a required file field.", code="missing_required_parameter",
                         param="file")
        if purpose not in _PURPOSES:
            return error(400, f"'purpose' must be one of {', '.join(_PURPOSES)}.", param="purpose")
        self.store.file_uploads += 1
        info = self.store.add_file(upload.filename or "upload", str(purpose), upload.file.read())
        if self.opts.batch_reply_delay_s:  # the file exists; the client does not know it yet
            await asyncio.sleep(self.opts.batch_reply_delay_s)
        return web.json_response(info)

    async def list_files(self, request: web.Request) -> web.Response:
        purpose = request.query.get("purpose")  # newest first, OpenAI's default order
        items = [f for f in reversed(self.store.files.values()) if purpose is None or f["purpose"] == purpose]
        return _page(request, items, default_limit=10_000, max_limit=10_000)

    def _find(self, request: web.Request) -> dict[str, Any]:
        """The File or Batch object the path names; raises the 404 answer if there is none."""
        file_id, batch_id = request.match_info.get("file_id"), request.match_info.get("batch_id")
        found = self.store.files.get(file_id) if file_id else self.store.batches.get(str(batch_id))
        if found is None:
            answer = (error(404, f"No such File object: {file_id}", param="id") if file_id
                      else error(404, f"No batch found with id '{batch_id}'.", param="batch_id"))
            raise web.HTTPNotFound(text=answer.text, content_type="application/json")
        return found

    async def retrieve(self, request: web.Request) -> web.Response:
        return web.json_response(self._find(request))

    async def delete_file(self, request: web.Request) -> web.Response:
        found = self._find(request)
        del self.store.files[found["id"]], self.store.data[found["id"]]
        return web.json_response({"id": found["id"], "object": "file", "deleted": True})

    async def content(self, request: web.Request) -> web.StreamResponse:
        """The file's bytes; dripped over batch_download_drip_s, so a slow download can be seen."""
        found = self._find(request)
        data, seconds = self.store.data[found["id"]], self.opts.batch_download_drip_s
        if not seconds or not data:
            return web.Response(body=data, content_type="application/octet-stream")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        await drip(response, data, 8, seconds)
        await response.write_eof()
        return response

    async def create(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            return error(400, "Request body is not valid JSON.")
        if not isinstance(data, dict) or not isinstance(data.get("input_file_id"), str):
            return error(400, "'input_file_id' is a required string.", code="missing_required_parameter",
                         param="input_file_id")
        source = self.store.files.get(data["input_file_id"])
        metadata = data.get("metadata")
        window_s = _window_seconds(data.get("completion_window"))
        if source is None:
            return error(404, f"No such File object: {data['input_file_id']}", param="input_file_id")
        if source["purpose"] != "batch":
            return error(400, "The input file must be uploaded with purpose 'batch'.", param="input_file_id")
        if data.get("endpoint") != ENDPOINT:
            return error(400, f"This server runs batches for {ENDPOINT} only.", param="endpoint")
        if window_s is None:
            return error(400, "completion_window must look like '24h'.", param="completion_window")
        if metadata is not None and not (isinstance(metadata, dict) and len(metadata) <= 16 and all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
            return error(400, "metadata must map at most 16 string keys to strings.", param="metadata")
        self.store.batch_creations += 1
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": f"batch_{uuid.uuid4().hex[:24]}", "object": "batch", "endpoint": ENDPOINT, "model": None,
            "errors": None, "input_file_id": source["id"], "completion_window": data["completion_window"],
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
            **dict.fromkeys(_TIMES), "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": metadata, "expires_at": now + window_s}
        if self.opts.usage:
            batch["usage"] = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
                              "total_tokens": 0}
        self.store.batches[batch["id"]] = batch
        self.store.cancels[batch["id"]] = asyncio.Event()
        self.store.tasks.append(asyncio.get_running_loop().create_task(self._run(batch)))
        if self.opts.batch_reply_delay_s:  # the batch exists; the client does not know it yet
            await asyncio.sleep(self.opts.batch_reply_delay_s)
        return web.json_response(batch)

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if batch["status"] in _DONE:
            return error(400, f"Cannot cancel a batch with status '{batch['status']}'.")
        if batch["status"] != "cancelling":
            _stamp(batch, "cancelling")
            self.store.cancels[batch["id"]].set()
        return web.json_response(batch)

    async def list_batches(self, request: web.Request) -> web.Response:
        return _page(request, list(reversed(self.store.batches.values())), default_limit=20, max_limit=100)

    async def _run(self, batch: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # let create answer 'validating' first
        lines, errors = parse_input(self.store.data.get(batch["input_file_id"], b""))
        if self.opts.batch_fail_validation and not errors:
            errors = [_line_error(None, "invalid_request", "The batch failed validation (scripted fault).")]
        if errors:
            batch["errors"] = {"object": "list", "data": errors}
            _stamp(batch, "failed")
            return
        output: list[str] = []
        failed: list[str] = []
        status = "cancelled"
        if not self.store.cancels[batch["id"]].is_set():
            batch["model"] = lines[0][1].get("model")
            batch["request_counts"]["total"] = len(lines)
            self.store.submitted.update(custom_id for custom_id, _ in lines)
            _stamp(batch, "in_progress")
            status = await self._work(batch, lines, output, failed)
        # the result files (none when empty, as OpenAI leaves the id null)
        _stamp(batch, "finalizing")
        for key, rows, name in (("output_file_id", output, "output"), ("error_file_id", failed, "error")):
            if rows:
                name = f"{batch['id']}_{name}.jsonl"
                batch[key] = self.store.add_file(name, "batch_output", "".join(rows).encode())["id"]
        _stamp(batch, status)

    async def _work(self, batch: dict[str, Any], lines: list[tuple[str, dict[str, Any]]],
                    output: list[str], failed: list[str]) -> str:
        """Answer the lines over batch_delay_s; the status the batch ends in. Line i is due at
        start + i * step and waits only when ahead of that schedule (a timed wait per line made a
        5,000-line batch with batch_delay_s=0.2 take 8.5 s, not 0.66 s)."""
        loop, cancel = asyncio.get_running_loop(), self.store.cancels[batch["id"]]
        start, step = loop.time(), self.opts.batch_delay_s / len(lines)
        for i in range(len(lines) + 1):  # each line's due time, then the end's
            if i == self.opts.batch_expire_after and i < len(lines):
                # lines not reached go to the error file as batch_expired, as OpenAI writes them
                failed += [_result(batch["id"], c, err=_EXPIRED) for c, _ in lines[i:]]
                batch["request_counts"]["failed"] += len(lines) - i
                self.store.batch_lines["expired"] += len(lines) - i
                return "expired"
            wait = start + i * step - loop.time()
            if i and not cancel.is_set():  # a wait, or a turn of the loop so other requests get served
                with contextlib.suppress(asyncio.TimeoutError):
                    await (asyncio.wait_for(cancel.wait(), wait) if wait > 0 else asyncio.sleep(0))
            if cancel.is_set():
                return "cancelled"
            if i < len(lines):
                self._line(batch, *lines[i], output, failed)
        return "completed"

    def _line(self, batch: dict[str, Any], custom_id: str, body: dict[str, Any], output: list[str],
              failed: list[str]) -> None:
        """Answer one line into the output file, or as a fault into the error file or neither."""
        fault, counted = self._line_fault(custom_id, body), self.store.batch_lines
        batch["request_counts"]["failed" if fault in ("error_500", "error_object") else "completed"] += 1
        if fault == "missing":  # the server thinks it answered; the line is in neither file
            counted["missing"] += 1
        elif fault is not None:
            counted["line_error"] += 1
            failed.append(_result(batch["id"], custom_id, 500, {"error": _ERROR_500}) if fault == "error_500"
                          else _result(batch["id"], custom_id, err=_ERROR_OBJECT))
        else:
            counted["answered"] += 1
            answer = json.loads(self.fake.completion(body, request_digests(body)[1], prompt_tokens(body)))
            if "usage" in batch and "usage" in answer:
                for total, used in (("input", "prompt"), ("output", "completion"), ("total", "total")):
                    batch["usage"][f"{total}_tokens"] += answer["usage"][f"{used}_tokens"]
            output.append(_result(batch["id"], custom_id, 200, answer))

    def _line_fault(self, custom_id: str, body: dict[str, Any]) -> str | None:
        """'error_500' or 'error_object' (an error-file line's two shapes at OpenAI), 'missing', None."""
        content, digest = request_digests(body)
        opts, seen = self.opts, self.store.seen
        first = content not in seen
        seen.add(content)
        if not first or not (opts.batch_rate_line_error or opts.batch_rate_missing):
            return None
        h = hashlib.blake2b(custom_id.encode() + b"\x00" + digest, digest_size=8).digest()
        u = int.from_bytes(h[:4], "big") / 2**32
        if u < opts.batch_rate_line_error:
            return "error_500" if h[4] & 1 else "error_object"
        return "missing" if u < opts.batch_rate_line_error + opts.batch_rate_missing else None


def add_batch_routes(app: web.Application, fake: FakeApp) -> None:
    """Register /v1/files and /v1/batches on `app` (FakeApp.make's, which checks the API key)."""
    routes = BatchRoutes(fake)
    for method, path, handler in (
            ("POST", "/v1/files", routes.upload), ("GET", "/v1/files", routes.list_files),
            ("GET", "/v1/files/{file_id}", routes.retrieve),
            ("DELETE", "/v1/files/{file_id}", routes.delete_file),
            ("GET", "/v1/files/{file_id}/content", routes.content),
            ("POST", "/v1/batches", routes.create), ("GET", "/v1/batches", routes.list_batches),
            ("GET", "/v1/batches/{batch_id}", routes.retrieve),
            ("POST", "/v1/batches/{batch_id}/cancel", routes.cancel)):
        app.router.add_route(method, path, handler)
