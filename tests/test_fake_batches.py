"""The scripted server's Batch API (/v1/files, /v1/batches), through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import openai
import pytest
from openai.types.chat import ChatCompletion

from synthgen.testing import FakeLLMServer, FakeServerOptions, options_from_cli_args

TASK = """You have been assigned a retrieval task: {task}
Write one example as a JSON object with the keys "user_query", "positive_document" and
"hard_negative_document". The query should be less than 5 words. The documents should be at
least 50 words long. The query and the documents must be in English. Do not copy the query."""
TOPICS = ["Find recipes for a dish", "Retrieve news about a company", "Match a bug report",
          "Find a court ruling", "Retrieve a product manual", "Find papers on a method",
          "Match a travel question", "Retrieve song lyrics", "Find tax rules", "Match a symptom"]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "example", "schema": {
    "type": "object", "properties": {k: {"type": "string"} for k in (
        "user_query", "positive_document", "hard_negative_document")},
    "required": ["user_query", "positive_document", "hard_negative_document"]}}}
ENDPOINT = "/v1/chat/completions"
DONE = ("completed", "failed", "expired", "cancelled")


def _client(srv: FakeLLMServer, **kw) -> openai.OpenAI:
    kw.setdefault("api_key", "test")
    return openai.OpenAI(base_url=srv.base_url, max_retries=0, **kw)


def _body(i: int, seed: int = 3) -> dict:
    body = {"model": "scripted", "seed": seed, "temperature": 1.0,
            "messages": [{"role": "user", "content": TASK.format(task=TOPICS[i % len(TOPICS)])}]}
    if i % 2:
        body["response_format"] = SCHEMA
    return body


def _requests(bodies: dict[str, dict]) -> bytes:
    lines = [json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body})
             for cid, body in bodies.items()]
    return ("\n".join(lines) + "\n").encode()


def _submit(client: openai.OpenAI, data: bytes, **kw):
    upload = client.files.create(file=("requests.jsonl", data), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT,
                                 completion_window="24h", **kw)


def _wait(client: openai.OpenAI, batch_id: str, until=DONE, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in until or time.monotonic() > deadline:
            return batch
        time.sleep(0.02)


def _lines(client: openai.OpenAI, file_id: str | None) -> dict[str, dict]:
    """custom_id -> result line of an output or error file (empty when there is no file)."""
    if file_id is None:
        return {}
    rows = [json.loads(x) for x in client.files.content(file_id).text.splitlines()]
    return {row["custom_id"]: row for row in rows}


def _online(client: openai.OpenAI, body: dict) -> dict:
    return client.chat.completions.create(**body).model_dump()


def _run(client: openai.OpenAI, bodies: dict[str, dict], **kw):
    batch = _wait(client, _submit(client, _requests(bodies), **kw).id)
    return batch, _lines(client, batch.output_file_id), _lines(client, batch.error_file_id)


def test_batch_answers_equal_online_answers(make_server):
    srv = make_server(rate_fenced=0.3, rate_length=0.2)  # content faults ride along, both ways
    client = _client(srv)
    bodies = {f"item-{i}": _body(i) for i in range(8)}
    created = _submit(client, _requests(bodies), metadata={"stage": "generate", "wave": "1"})
    assert created.status == "validating" and created.request_counts.total == 0
    batch = _wait(client, created.id)
    assert batch.status == "completed" and batch.metadata == {"stage": "generate", "wave": "1"}
    assert batch.request_counts.model_dump() == {"total": 8, "completed": 8, "failed": 0}
    assert batch.error_file_id is None and batch.errors is None
    assert batch.created_at <= batch.in_progress_at <= batch.completed_at < batch.expires_at
    output = _lines(client, batch.output_file_id)
    assert set(output) == set(bodies)
    finishes = set()
    for cid, row in output.items():
        assert row["id"].startswith("batch_req_") and row["error"] is None
        assert row["response"]["status_code"] == 200
        answer = ChatCompletion.model_validate(row["response"]["body"]).model_dump()
        assert answer == _online(client, bodies[cid])
        finishes.add(answer["choices"][0]["finish_reason"])
    assert finishes == {"stop", "length"}  # the faulted answers matched too
    usage = sum(row["response"]["body"]["usage"]["total_tokens"] for row in output.values())
    assert batch.usage.total_tokens == usage
    out_file = client.files.retrieve(batch.output_file_id)
    assert out_file.purpose == "batch_output" and out_file.status == "processed"


def test_invalid_input_file_fails_the_batch(make_server):
    client = _client(make_server())
    good = json.dumps({"custom_id": "a", "method": "POST", "url": ENDPOINT, "body": _body(0)})
    lines = [good, "{not json", json.dumps({"method": "POST", "url": ENDPOINT, "body": _body(1)}),
             json.dumps({"custom_id": "b", "method": "POST", "url": "/v1/embeddings",
                         "body": _body(2)}), good]
    batch = _wait(client, _submit(client, "\n".join(lines).encode()).id)
    assert batch.status == "failed" and batch.failed_at is not None
    found = [(e.line, e.code) for e in batch.errors.data]
    assert found == [(2, "invalid_json_line"), (3, "missing_required_parameter"),
                     (4, "invalid_url"), (5, "duplicate_custom_id")]
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.request_counts.total == 0


def test_fail_validation_fault_fails_a_valid_file(make_server):
    client = _client(make_server(batch_fail_validation=True))
    batch, output, errors = _run(client, {"a": _body(0)})
    assert batch.status == "failed" and batch.errors.data[0].code == "invalid_request"
    assert output == {} and errors == {}


def test_expiry_keeps_the_answered_lines(make_server):
    client = _client(make_server(batch_expire_after=3))
    bodies = {f"item-{i}": _body(i) for i in range(5)}
    batch, output, errors = _run(client, bodies)
    assert batch.status == "expired" and batch.expired_at is not None
    assert sorted(output) == ["item-0", "item-1", "item-2"]
    assert sorted(errors) == ["item-3", "item-4"]
    assert {row["error"]["code"] for row in errors.values()} == {"batch_expired"}
    assert batch.request_counts.model_dump() == {"total": 5, "completed": 3, "failed": 2}


def test_line_errors_go_to_the_error_file_and_heal_when_sent_again(make_server):
    srv = make_server(batch_rate_line_error=0.5)
    client = _client(srv)
    bodies = {f"item-{i}": _body(i) for i in range(10)}
    batch, output, errors = _run(client, bodies)
    assert batch.status == "completed" and errors and output
    assert set(output) | set(errors) == set(bodies) and not set(output) & set(errors)
    assert batch.request_counts.failed == len(errors)
    shapes = {row["response"]["status_code"] if row["response"] else row["error"]["code"]
              for row in errors.values()}
    assert shapes == {500, "server_error"}  # both shapes OpenAI writes
    retry, healed, still = _run(client, {cid: bodies[cid] for cid in errors})
    assert retry.status == "completed" and still == {} and set(healed) == set(errors)
    for cid, row in healed.items():
        answer = ChatCompletion.model_validate(row["response"]["body"]).model_dump()
        assert answer == _online(client, bodies[cid])
    lines = srv.stats()["batches"]["batch_lines"]
    assert lines == {"answered": 10, "line_error": len(errors)}


def test_missing_lines_are_in_neither_file(make_server):
    srv = make_server(batch_rate_missing=0.4)
    client = _client(srv)
    bodies = {f"item-{i}": _body(i) for i in range(10)}
    batch, output, errors = _run(client, bodies)
    missing = set(bodies) - set(output)
    assert batch.status == "completed" and errors == {} and missing
    assert srv.stats()["batches"]["batch_lines"]["missing"] == len(missing)
    _, found, _ = _run(client, {cid: bodies[cid] for cid in missing})
    assert set(found) == missing


def test_cancel_keeps_the_lines_done_so_far(make_server):
    # 60 s over 4 lines: the first line is answered at once, the next one 15 s later
    client = _client(make_server(batch_delay_s=60))
    bodies = {f"item-{i}": _body(i) for i in range(4)}
    created = _submit(client, _requests(bodies))
    started = _wait(client, created.id, until=("in_progress",))
    assert started.request_counts.model_dump() == {"total": 4, "completed": 1, "failed": 0}
    cancelling = client.batches.cancel(created.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    batch = _wait(client, created.id)
    assert batch.status == "cancelled" and batch.cancelled_at is not None
    output = _lines(client, batch.output_file_id)
    assert list(output) == ["item-0"] and batch.request_counts.completed == 1
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(created.id)


def test_slow_download_arrives_whole_or_trips_the_read_timeout(make_server):
    client = _client(make_server(batch_download_drip_s=1.0))
    data = _requests({f"item-{i}": _body(i) for i in range(6)})
    upload = client.files.create(file=("requests.jsonl", data), purpose="batch")
    assert client.files.content(upload.id, timeout=30).read() == data
    # eight chunks over a second: 125 ms between reads, against a 30 ms read timeout
    with pytest.raises(openai.APITimeoutError):
        client.files.content(upload.id, timeout=0.03)


def test_files_round_trip_and_lists_page(make_server):
    client = _client(make_server())
    data = _requests({"a": _body(0)})
    first = client.files.create(file=("one.jsonl", data), purpose="batch")
    assert (first.bytes, first.filename, first.purpose, first.status) == (
        len(data), "one.jsonl", "batch", "processed")
    assert client.files.retrieve(first.id) == first
    assert client.files.content(first.id).read() == data
    other = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    batches = [client.batches.create(input_file_id=first.id, endpoint=ENDPOINT,
                                     completion_window="24h") for _ in range(3)]
    for b in batches:
        _wait(client, b.id)
    batch_files = [f for f in client.files.list(purpose="batch")]
    assert [f.id for f in batch_files] == [first.id]  # outputs are batch_output, not batch
    assert other.id in {f.id for f in client.files.list()}
    # limit=1 makes the SDK follow the `after` cursor page by page
    assert [b.id for b in client.batches.list(limit=1)] == [b.id for b in reversed(batches)]
    deleted = client.files.delete(other.id)
    assert deleted.deleted and deleted.id == other.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(other.id)


def test_create_refuses_unusable_input(make_server):
    client = _client(make_server())
    notes = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint=ENDPOINT,
                              completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.batches.create(input_file_id=notes.id, endpoint=ENDPOINT,
                              completion_window="24h")
    batch_file = client.files.create(file=("r.jsonl", _requests({"a": _body(0)})),
                                     purpose="batch")
    with pytest.raises(openai.BadRequestError, match="chat/completions"):
        client.batches.create(input_file_id=batch_file.id, endpoint="/v1/embeddings",
                              completion_window="24h")
    for bad in ({"completion_window": "soon"}, {"metadata": {"wave": 1}}):
        with pytest.raises(openai.BadRequestError):
            client.batches.create(**{"input_file_id": batch_file.id, "endpoint": ENDPOINT,
                                     "completion_window": "24h", **bad})
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("r.jsonl", b"{}"), purpose="bogus")
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.batches.list(limit=500)
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert client.batches.list().data == []
    # other hosts take other windows; the expiry follows the window asked for
    longer = client.batches.create(input_file_id=batch_file.id, endpoint=ENDPOINT,
                                   completion_window="48h")
    assert longer.expires_at - longer.created_at == 48 * 3600


def test_batch_routes_need_the_api_key(make_server):
    srv = make_server(api_key="sk-batch-secret-123")
    with pytest.raises(openai.AuthenticationError):
        _client(srv, api_key="wrong").files.create(file=("a.jsonl", b"{}"), purpose="batch")
    with pytest.raises(openai.AuthenticationError):
        _client(srv, api_key="wrong").batches.list()
    batch, output, _ = _run(_client(srv, api_key="sk-batch-secret-123"), {"a": _body(0)})
    assert batch.status == "completed" and list(output) == ["a"]


def test_counters_count_uploads_creations_and_repeats(make_server):
    srv = make_server()
    client = _client(srv)
    bodies = {"a": _body(0), "b": _body(1)}
    _run(client, bodies)
    _run(client, {"a": bodies["a"]})  # a second submission of item a
    root = srv.base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(root + "/_stats") as resp:
        counts = json.load(resp)["batches"]
    assert counts == srv.stats()["batches"]
    assert (counts["file_uploads"], counts["batch_creations"]) == (2, 2)
    assert (counts["submitted_lines"], counts["repeated_custom_ids"]) == (3, 1)
    assert counts["by_status"] == {"completed": 2}
    assert srv.app.state.batches.submitted == {"a": 2, "b": 1}
    assert srv.stats()["requests"] == 0  # batch lines are not online chat requests
    srv.reset()
    assert srv.stats()["batches"]["file_uploads"] == 0
    assert client.files.list().data == []


def test_batch_options_are_checked_and_become_flags():
    with pytest.raises(ValueError, match="batch_rate_missing"):
        FakeServerOptions(batch_rate_missing=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        FakeServerOptions(batch_rate_missing=0.6, batch_rate_line_error=0.6)
    with pytest.raises(ValueError, match="batch_delay_s"):
        FakeServerOptions(batch_delay_s=-1)
    command = options_from_cli_args(["--batch-expire-after", "3", "--batch-fail-validation",
                                     "--batch-download-drip-s", "0.5"])
    opts = command.options
    assert (opts.batch_expire_after, opts.batch_fail_validation,
            opts.batch_download_drip_s) == (3, True, 0.5)


def test_async_client_over_aiohttp_runs_a_batch(make_server):
    """synthgen's client is async; the aiohttp transport encodes multipart its own way."""
    srv = make_server(batch_download_drip_s=0.2)
    bodies = {"a": _body(0), "b": _body(1)}

    async def run() -> tuple[str, dict[str, dict]]:
        async with openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0,
                                      http_client=openai.DefaultAioHttpClient()) as client:
            upload = await client.files.create(file=("r.jsonl", _requests(bodies)),
                                               purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT,
                                                completion_window="24h")
            while batch.status not in DONE:
                await asyncio.sleep(0.02)
                batch = await client.batches.retrieve(batch.id)
            content = await client.files.content(batch.output_file_id)
            rows = [json.loads(x) for x in content.text.splitlines()]
            return batch.status, {row["custom_id"]: row for row in rows}

    status, output = asyncio.run(run())
    assert status == "completed" and set(output) == set(bodies)
    online = _client(srv).chat.completions.create(**bodies["b"]).model_dump()
    assert ChatCompletion.model_validate(output["b"]["response"]["body"]).model_dump() == online


def test_unknown_file_or_batch_is_a_404_the_sdk_names():
    with FakeLLMServer() as srv:
        client = _client(srv)
        for call, message in ((lambda: client.files.retrieve("file-nope"), "No such File object: file-nope"),
                              (lambda: client.files.content("file-nope"), "No such File object: file-nope"),
                              (lambda: client.files.delete("file-nope"), "No such File object: file-nope"),
                              (lambda: client.batches.retrieve("batch_nope"), "No batch found with id"),
                              (lambda: client.batches.cancel("batch_nope"), "No batch found with id")):
            with pytest.raises(openai.NotFoundError, match=message):
                call()
