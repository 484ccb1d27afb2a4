"""The scripted server's /v1/files: uploads and batch results kept in memory, served back raw.

The content route can drip its body over batch_download_drip_s, so a client's download of a
large result file can be seen to be slow, cut or timed out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from synthgen.testing.app import _error
from synthgen.testing.batch_store import FileStore, StoredFile

_JSON = "application/json"
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_DRIP_CHUNKS = 8


def json_response(data: dict[str, Any]) -> web.Response:
    return web.Response(body=json.dumps(data).encode(), content_type=_JSON)


def page_of(request: web.Request, items: list[dict[str, Any]], default_limit: int,
            max_limit: int) -> web.Response:
    """One page of a list answer with OpenAI's cursor fields (`after`, `limit`, `has_more`)."""
    try:
        limit = int(request.query.get("limit", default_limit))
    except ValueError:
        limit = 0
    if not 1 <= limit <= max_limit:
        return _error(400, f"limit must be between 1 and {max_limit}.", "invalid_request_error",
                      param="limit")
    after = request.query.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    page = items[:limit]
    return json_response({"object": "list", "data": page,
                          "first_id": page[0]["id"] if page else None,
                          "last_id": page[-1]["id"] if page else None,
                          "has_more": len(items) > limit})


class FileRoutes:
    """Handlers for /v1/files: upload, list, retrieve, delete, content."""

    def __init__(self, store: FileStore, drip_s: float, reply_delay_s: float = 0.0) -> None:
        self.store, self.drip_s, self.reply_delay_s = store, drip_s, reply_delay_s

    def _file(self, request: web.Request) -> StoredFile | web.Response:
        file_id = request.match_info["file_id"]
        stored = self.store.get(file_id)
        if stored is None:
            return _error(404, f"No such File object: {file_id}", "invalid_request_error",
                          param="id")
        return stored

    async def upload(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except ValueError:
            return _error(400, "Expected a multipart/form-data body.", "invalid_request_error")
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, web.FileField):
            return _error(400, "'file' is a required file field.", "invalid_request_error",
                          "missing_required_parameter", param="file")
        if purpose not in _PURPOSES:
            return _error(400, f"'purpose' must be one of {', '.join(_PURPOSES)}.",
                          "invalid_request_error", param="purpose")
        self.store.uploads += 1
        stored = self.store.add(upload.filename or "upload", str(purpose), upload.file.read())
        if self.reply_delay_s:  # the file exists; the client does not know it yet
            await asyncio.sleep(self.reply_delay_s)
        return json_response(stored.to_json())

    async def list(self, request: web.Request) -> web.Response:
        purpose = request.query.get("purpose")
        items = [f.to_json() for f in self.store.files.values()
                 if purpose is None or f.purpose == purpose]
        if request.query.get("order", "desc") == "desc":
            items.reverse()
        return page_of(request, items, default_limit=10_000, max_limit=10_000)

    async def retrieve(self, request: web.Request) -> web.Response:
        stored = self._file(request)
        return stored if isinstance(stored, web.Response) else json_response(stored.to_json())

    async def delete(self, request: web.Request) -> web.Response:
        stored = self._file(request)
        if isinstance(stored, web.Response):
            return stored
        del self.store.files[stored.id]
        return json_response({"id": stored.id, "object": "file", "deleted": True})

    async def content(self, request: web.Request) -> web.StreamResponse:
        stored = self._file(request)
        if isinstance(stored, web.Response):
            return stored
        data = stored.data
        if not self.drip_s or not data:
            return web.Response(body=data, content_type="application/octet-stream")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        size = -(-len(data) // _DRIP_CHUNKS)
        chunks = range(0, len(data), size)
        for start in chunks:
            await asyncio.sleep(self.drip_s / len(chunks))
            await response.write(data[start:start + size])
        await response.write_eof()
        return response
