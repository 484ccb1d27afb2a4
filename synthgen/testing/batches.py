"""The scripted server's Batch API: /v1/files and /v1/batches, kept in memory.

A batch runs as a task on the server's loop: `validating`, then `in_progress` with its lines
answered one by one, spread over batch_delay_s so a cancel can land mid-way, then `completed`
(or `failed`, `expired`, `cancelled`). Each line is answered by the chat route's own completion
code, so a batch answer equals the online answer for the same body, content faults included.
Line faults (error file, missing lines) hit only the first sight of a body, so a line sent again
in a later batch heals, as an online retry does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from synthgen.testing.app import FakeApp, _error, _tokens
from synthgen.testing.batch_files import FileRoutes, json_response, page_of
from synthgen.testing.batch_rules import (
    BatchLine,
    line_fault,
    parse_input,
    scripted_validation_error,
)
from synthgen.testing.batch_store import ENDPOINT, BatchJob, BatchStore
from synthgen.testing.reading import message_text
from synthgen.testing.state import request_digests

_DONE = ("completed", "failed", "expired", "cancelled")
_EXPIRED = {"code": "batch_expired",
            "message": "This request could not be executed before the completion window expired."}
_ERROR_500 = {"message": "The server had an error (scripted fault).", "type": "server_error",
              "param": None, "code": None}
_ERROR_OBJECT = {"code": "server_error", "message": "The request failed (scripted fault)."}
_dump = json.JSONEncoder(ensure_ascii=False).encode


def online_answer(fake: FakeApp, body: dict[str, Any]) -> bytes:
    """The chat route's answer for `body`; the one place that reaches into app.py's internals."""
    _, digest = request_digests(body)
    prompt_tokens = 0
    for m in body["messages"]:
        if isinstance(m, dict):
            content = m.get("content")
            prompt_tokens += _tokens(content if type(content) is str else message_text(m))
    return fake._completion(body, digest, prompt_tokens)


def _window_seconds(window: object) -> int | None:
    """'24h' -> 86400; OpenAI takes only 24h, other hosts take other hour counts."""
    if isinstance(window, str) and window.endswith("h") and window[:-1].isdigit():
        hours = int(window[:-1])
        return hours * 3600 if hours > 0 else None
    return None


def _metadata_ok(metadata: object) -> bool:
    if metadata is None:
        return True
    return (isinstance(metadata, dict) and len(metadata) <= 16
            and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()))


class BatchRoutes:
    """Handlers for /v1/batches and the processor that runs each batch."""

    def __init__(self, fake: FakeApp, store: BatchStore) -> None:
        self.fake, self.store, self.opts = fake, store, fake.options

    def _show(self, job: BatchJob) -> web.Response:
        return json_response(job.to_json(self.opts.usage))

    async def create(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            return _error(400, "Request body is not valid JSON.", "invalid_request_error")
        if not isinstance(data, dict) or not isinstance(data.get("input_file_id"), str):
            return _error(400, "'input_file_id' is a required string.", "invalid_request_error",
                          "missing_required_parameter", param="input_file_id")
        source = self.store.files.get(data["input_file_id"])
        if source is None:
            return _error(404, f"No such File object: {data['input_file_id']}",
                          "invalid_request_error", param="input_file_id")
        if source.purpose != "batch":
            return _error(400, "The input file must be uploaded with purpose 'batch'.",
                          "invalid_request_error", param="input_file_id")
        if data.get("endpoint") != ENDPOINT:
            return _error(400, f"This server runs batches for {ENDPOINT} only.",
                          "invalid_request_error", param="endpoint")
        window_s = _window_seconds(data.get("completion_window"))
        if window_s is None:
            return _error(400, "completion_window must look like '24h'.",
                          "invalid_request_error", param="completion_window")
        if not _metadata_ok(data.get("metadata")):
            return _error(400, "metadata must map at most 16 string keys to strings.",
                          "invalid_request_error", param="metadata")
        self.store.batch_creations += 1
        job = BatchJob(source.id, data["completion_window"], window_s, data.get("metadata"))
        self.store.batches[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        if self.opts.batch_reply_delay_s:  # the batch exists; the client does not know it yet
            await asyncio.sleep(self.opts.batch_reply_delay_s)
        return self._show(job)

    def _job(self, request: web.Request) -> BatchJob | web.Response:
        batch_id = request.match_info["batch_id"]
        job = self.store.batches.get(batch_id)
        if job is None:
            return _error(404, f"No batch found with id '{batch_id}'.", "invalid_request_error",
                          param="batch_id")
        return job

    async def retrieve(self, request: web.Request) -> web.Response:
        job = self._job(request)
        return job if isinstance(job, web.Response) else self._show(job)

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if isinstance(job, web.Response):
            return job
        if job.status in _DONE:
            return _error(400, f"Cannot cancel a batch with status '{job.status}'.",
                          "invalid_request_error")
        if job.status != "cancelling":
            job.stamp("cancelling")
            job.cancel.set()
        return self._show(job)

    async def list(self, request: web.Request) -> web.Response:
        items = [j.to_json(self.opts.usage) for j in reversed(self.store.batches.values())]
        return page_of(request, items, default_limit=20, max_limit=100)

    async def _run(self, job: BatchJob) -> None:
        await asyncio.sleep(0)  # let create answer 'validating' first
        source = self.store.files.get(job.input_file_id)
        lines, errors = parse_input(source.data if source else b"", ENDPOINT)
        if self.opts.batch_fail_validation and not errors:
            errors = [scripted_validation_error()]
        if errors:
            job.errors = errors
            job.stamp("failed")
            return
        if job.cancel.is_set():
            self._finish(job, "cancelled")
            return
        job.model = lines[0].body.get("model")
        job.counts["total"] = len(lines)
        self.store.submitted.update(line.custom_id for line in lines)
        job.stamp("in_progress")
        self._finish(job, await self._work(job, lines))

    async def _work(self, job: BatchJob, lines: list[BatchLine]) -> str:
        """Answer the lines over batch_delay_s; the status the batch ends in.

        Line i is due at start + i * step and waits only when ahead of that schedule. A timed
        wait per line cost ~1.7 ms each: a 5,000-line batch with batch_delay_s=0.2 took 8.5 s
        from create to completed; on this schedule 0.66 s (2 s asked: 2.2 s), same run.
        """
        loop = asyncio.get_running_loop()
        start, step = loop.time(), self.opts.batch_delay_s / len(lines)
        expire_after = self.opts.batch_expire_after
        for i, line in enumerate(lines):
            if i == expire_after:
                self._expire(job, lines[i:])
                return "expired"
            if i and await self._cancelled(job, start + i * step - loop.time()):
                return "cancelled"
            self._answer(job, line)
        done = await self._cancelled(job, start + len(lines) * step - loop.time())
        return "cancelled" if done else "completed"

    @staticmethod
    async def _cancelled(job: BatchJob, wait: float) -> bool:
        """Wait up to `wait` seconds, or one turn of the loop so other requests get served;
        True if a cancel came in meanwhile."""
        if job.cancel.is_set():
            return True
        if wait > 0:
            try:
                await asyncio.wait_for(job.cancel.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
        else:
            await asyncio.sleep(0)
        return job.cancel.is_set()

    def _answer(self, job: BatchJob, line: BatchLine) -> None:
        content, digest = request_digests(line.body)
        fault = None
        if self.store.first_sight(content) and (self.opts.batch_rate_line_error
                                                 or self.opts.batch_rate_missing):
            fault = line_fault(self.opts, line.custom_id, digest)
        line_id, request_id = job.line_ids(line.custom_id)
        result: dict[str, Any] = {"id": line_id, "custom_id": line.custom_id}
        if fault == "missing":  # the server thinks it answered; the line is in neither file
            self.store.batch_lines["missing"] += 1
            job.counts["completed"] += 1
        elif fault is not None:
            if fault == "error_500":
                result["response"] = {"status_code": 500, "request_id": request_id,
                                      "body": {"error": _ERROR_500}}
                result["error"] = None
            else:
                result["response"], result["error"] = None, _ERROR_OBJECT
            self.store.batch_lines["line_error"] += 1
            job.counts["failed"] += 1
            job.error_lines.append(_dump(result) + "\n")
        else:
            body = json.loads(online_answer(self.fake, line.body))
            usage = body.get("usage") or {}
            job.usage[0] += usage.get("prompt_tokens", 0)
            job.usage[1] += usage.get("completion_tokens", 0)
            result["response"] = {"status_code": 200, "request_id": request_id, "body": body}
            result["error"] = None
            self.store.batch_lines["answered"] += 1
            job.counts["completed"] += 1
            job.output.append(_dump(result) + "\n")

    def _expire(self, job: BatchJob, rest: list[BatchLine]) -> None:
        """Lines not reached go to the error file as batch_expired, as OpenAI writes them."""
        for line in rest:
            line_id, _ = job.line_ids(line.custom_id)
            job.error_lines.append(_dump({"id": line_id, "custom_id": line.custom_id,
                                          "response": None, "error": _EXPIRED}) + "\n")
        job.counts["failed"] += len(rest)
        self.store.batch_lines["expired"] += len(rest)

    def _finish(self, job: BatchJob, status: str) -> None:
        """Write the result files (none when empty, as OpenAI leaves the id null) and end."""
        job.stamp("finalizing")
        files = self.store.files
        if job.output:
            job.output_file_id = files.add(f"{job.id}_output.jsonl", "batch_output",
                                           "".join(job.output).encode()).id
        if job.error_lines:
            job.error_file_id = files.add(f"{job.id}_error.jsonl", "batch_output",
                                          "".join(job.error_lines).encode()).id
        job.stamp(status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_batch_routes(app: web.Application, fake: FakeApp) -> None:
    """Register /v1/files and /v1/batches on `app`, kept in `fake.state.batches`."""
    store = fake.state.batches
    files = FileRoutes(store.files, fake.options.batch_download_drip_s, fake.options.batch_reply_delay_s)
    batches = BatchRoutes(fake, store)

    def guarded(handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            fake.last_activity = time.monotonic()
            denied = fake._auth(request)
            return denied if denied is not None else await handler(request)
        return handle

    routes = (("POST", "/v1/files", files.upload), ("GET", "/v1/files", files.list),
              ("GET", "/v1/files/{file_id}", files.retrieve),
              ("DELETE", "/v1/files/{file_id}", files.delete),
              ("GET", "/v1/files/{file_id}/content", files.content),
              ("POST", "/v1/batches", batches.create), ("GET", "/v1/batches", batches.list),
              ("GET", "/v1/batches/{batch_id}", batches.retrieve),
              ("POST", "/v1/batches/{batch_id}/cancel", batches.cancel))
    for method, path, handler in routes:
        app.router.add_route(method, path, guarded(handler))

    async def stop_batches(_: web.Application) -> None:
        store.stop()

    app.on_cleanup.append(stop_batches)
