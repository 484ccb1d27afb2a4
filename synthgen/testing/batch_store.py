"""The scripted Batch API's memory: files, each batch's state and result lines, counters.

Part of ServerState (its `batches`), so /_stats shows the counters and /_reset forgets it all.
Touched only from the server's event loop. Imports nothing of the server, to keep state.py free
of import cycles.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

ENDPOINT = "/v1/chat/completions"
_BATCH_FILE_LIFE_S = 30 * 86400  # OpenAI keeps batch files 30 days unless told otherwise
_TIMES = ("in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
          "expired_at", "cancelling_at", "cancelled_at")


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        expires = self.created_at + _BATCH_FILE_LIFE_S if self.purpose.startswith("batch") else None
        return {"id": self.id, "object": "file", "bytes": len(self.data),
                "created_at": self.created_at, "expires_at": expires, "filename": self.filename,
                "purpose": self.purpose, "status": "processed", "status_details": None}


class FileStore:
    """Every file by id, in upload order; `uploads` counts client uploads only."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self.uploads = 0

    def add(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile(f"file-{uuid.uuid4().hex[:24]}", filename, purpose, data,
                            int(time.time()))
        self.files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)


class BatchJob:
    """One batch: what was asked, where it stands, and the result lines written so far."""

    def __init__(self, input_file_id: str, window: str, window_s: int,
                 metadata: dict[str, str] | None) -> None:
        self.id = f"batch_{uuid.uuid4().hex[:24]}"
        self.input_file_id, self.window, self.metadata = input_file_id, window, metadata
        self.created_at = int(time.time())
        self.times: dict[str, int] = {"expires_at": self.created_at + window_s}
        self.status = "validating"
        self.model: str | None = None
        self.errors: list[dict[str, Any]] = []
        self.counts = {"total": 0, "completed": 0, "failed": 0}
        self.usage = [0, 0]  # prompt, completion tokens of the answered lines
        self.output: list[str] = []
        self.error_lines: list[str] = []
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self.cancel = asyncio.Event()
        self.task: asyncio.Task | None = None

    def stamp(self, status: str) -> None:
        self.status = status
        self.times[f"{status}_at"] = int(time.time())

    def line_ids(self, custom_id: str) -> tuple[str, str]:
        """(batch_req id, request id) of a line, stable within the batch."""
        h = hashlib.blake2b(f"{self.id}\x00{custom_id}".encode(), digest_size=24).hexdigest()
        return f"batch_req_{h[:24]}", f"req_{h[24:]}"

    def to_json(self, with_usage: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "object": "batch", "endpoint": ENDPOINT, "model": self.model,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id, "completion_window": self.window,
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": self.created_at,
            **{name: self.times.get(name) for name in _TIMES},
            "request_counts": dict(self.counts), "metadata": self.metadata,
        }
        if with_usage:
            prompt, completion = self.usage
            out["usage"] = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens": completion,
                            "output_tokens_details": {"reasoning_tokens": 0},
                            "total_tokens": prompt + completion}
        return out


class BatchStore:
    """Files, batches and the counters tests read: file_uploads, batch_creations, batch_lines."""

    def __init__(self) -> None:
        self.files = FileStore()
        self.batches: dict[str, BatchJob] = {}
        self.batch_creations = 0
        self.batch_lines: Counter = Counter()  # answered, line_error, missing, expired
        self.submitted: Counter = Counter()  # custom_id -> batches that carried it
        self.seen: set[bytes] = set()

    @property
    def file_uploads(self) -> int:
        return self.files.uploads

    def stop(self) -> None:
        """Stop the batches still running (the server is shutting down or resetting)."""
        for job in self.batches.values():
            if job.task is not None:
                job.task.cancel()

    def reset(self) -> None:
        """Stop running batches and forget everything, as a fresh server would."""
        self.stop()
        self.files.files.clear()
        self.files.uploads = 0
        self.batches.clear()
        self.batch_creations = 0
        self.batch_lines.clear()
        self.submitted.clear()
        self.seen.clear()

    def first_sight(self, digest: bytes) -> bool:
        """True the first time a batch carries this content key (line faults hit only then)."""
        if digest in self.seen:
            return False
        self.seen.add(digest)
        return True

    def snapshot(self) -> dict[str, Any]:
        return {
            "file_uploads": self.file_uploads,
            "batch_creations": self.batch_creations,
            "batch_lines": dict(sorted(self.batch_lines.items())),
            "by_status": dict(sorted(Counter(j.status for j in self.batches.values()).items())),
            "submitted_lines": sum(self.submitted.values()),
            "repeated_custom_ids": sum(n - 1 for n in self.submitted.values()),
        }
