"""llm.mode = "batch" through the real SDK's files and batches calls, against the scripted server:
the same examples and rejects as an online run; a SIGKILL at any phase never submits an item
twice; failed, expired, partial and cut batches end with every item committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web
from typer.testing import CliRunner

from synthgen.cli import app

from helpers import manifest, read_jsonl
from helpers_http import serve_app

CONFIG = """
seed = 4
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 8
mode = "{mode}"
[llm.batch]
max_requests = {per_file}
poll_interval_s = 0.05
max_poll_interval_s = 0.2
max_waves = {waves}
[groups.sts]
examples = 24
[groups.bitext]
examples = 16
[output]
shard_size = 10
"""


def _write(path: Path, url: str, mode: str = "batch", per_file: int = 15, waves: int = 3) -> Path:
    path.write_text(CONFIG.format(url=url, mode=mode, per_file=per_file, waves=waves))
    return path


def _records(run: Path) -> tuple[list, list]:
    key = lambda r: r["id"]  # noqa: E731
    return sorted(read_jsonl(run / "examples"), key=key), sorted(read_jsonl(run / "rejects"), key=key)


def _store(srv):
    return srv.app.state.batches


@pytest.fixture
def reference(make_server, tmp_path):
    """The same config run online, once per fault set."""
    def run(**faults):
        srv = make_server(**faults)
        ref = tmp_path / f"ref{len(list(tmp_path.glob('ref*')))}"
        cfg = _write(tmp_path / "online.toml", srv.base_url, mode="online")
        r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(ref), "-q"])
        assert r.exit_code == 0, r.output
        return _records(ref)
    return run


CONTENT_FAULTS = dict(rate_truncate=0.15, rate_wrong_language=0.1)


def test_a_batch_run_gives_the_same_examples_and_rejects_as_an_online_run(make_server, reference, tmp_path):
    expected = reference(**CONTENT_FAULTS)
    srv = make_server(**CONTENT_FAULTS)
    run = tmp_path / "run"
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    assert _records(run) == expected
    store = _store(srv)
    assert store.batch_creations >= 3  # 40 requests in files of 15, then waves for the cut answers
    assert srv.app.state.snapshot()["requests"] == 0  # nothing went through the online route
    m = manifest(run)
    assert m["batches"] and all(b["ingested"] for b in m["batches"])
    assert all(b["status"] == "completed" for b in m["batches"])


@pytest.mark.parametrize("faults", [
    dict(batch_rate_line_error=0.3),
    dict(batch_rate_missing=0.3),
    dict(batch_expire_after=7),
])
def test_lines_without_an_answer_go_into_the_next_wave(make_server, reference, tmp_path, faults):
    expected = reference(**CONTENT_FAULTS)
    srv = make_server(**CONTENT_FAULTS, **faults)
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["generate", "-c", str(_write(tmp_path / "b.toml", srv.base_url, waves=6)),
                                 "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    assert _records(run) == expected
    waves = {b["wave"] for b in manifest(run)["batches"]}
    assert len(waves) >= 2


def test_a_batch_that_fails_validation_stops_the_run_with_one_line(make_server, tmp_path):
    srv = make_server(batch_fail_validation=True)
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["generate", "-c", str(_write(tmp_path / "b.toml", srv.base_url, waves=2)),
                                 "-o", str(run), "-q"])
    assert r.exit_code == 1, r.output
    assert "batch waves" in r.output and "Traceback" not in r.output
    # the batch's own reason was never said: a user could not tell a wrong model from an outage
    assert "(batch failed: The batch failed validation (scripted fault).)" in r.output, r.output
    assert _store(srv).batch_creations == 2 * 3  # two waves of three files, nothing more
    assert manifest(run)["stages"]["generate"]["status"] == "request_failed"


def _kill_when(srv, proc, condition, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition(_store(srv)):
        assert proc.poll() is None, proc.stderr.read().decode()[-800:]
        assert time.monotonic() < deadline, "the run never reached the phase"
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


PHASES = {
    # the server has the file, the client has not yet heard its id
    "while uploading": (dict(batch_reply_delay_s=3.0), lambda s: s.file_uploads >= 1),
    # the batch exists, the client has not yet heard its id: the rerun must find it, not create another
    "while creating": (dict(batch_reply_delay_s=3.0), lambda s: s.batch_creations >= 1),
    "after create": (dict(batch_delay_s=2.0), lambda s: s.batch_creations >= 1),
    "while polling": (dict(batch_delay_s=2.0), lambda s: s.batch_creations >= 3),
    "while downloading": (dict(batch_download_drip_s=2.0),
                          lambda s: any(b["status"] == "completed" for b in list(s.batches.values()))),
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_sigkill_at_each_phase_then_rerun_submits_nothing_twice(make_server, reference, tmp_path, phase):
    faults, reached = PHASES[phase]
    expected = reference(**CONTENT_FAULTS)
    srv = make_server(**CONTENT_FAULTS, **faults)
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthgen", "generate", "-c", str(cfg), "-o", str(run), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    _kill_when(srv, proc, reached)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert _records(run) == expected
    store = _store(srv)
    # every batch created holds a distinct input file, and every line was answered once
    assert store.snapshot()["repeated_custom_ids"] == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_a_batch_is_in_progress_stops_the_run_and_the_rerun_reattaches(make_server, tmp_path, sig):
    # the signal only stopped the engine, which had not started: the run polled on for hours
    srv = make_server(batch_delay_s=600.0)
    cmd = [sys.executable, "-m", "synthgen", "generate", "-c", str(_write(tmp_path / "b.toml", srv.base_url)),
           "-o", str(tmp_path / "run"), "-q"]
    manifest_path = tmp_path / "run" / "run.json"
    for _ in range(2):
        before = manifest_path.stat().st_mtime_ns if manifest_path.exists() else 0
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        # the stage has begun (run.json rewritten: on a loaded machine the imports alone take seconds)
        # and its batches are out
        while len(_store(srv).batches) < 3 or not (manifest_path.exists()
                                                     and manifest_path.stat().st_mtime_ns > before):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-800:]
            time.sleep(0.05)
        time.sleep(1.5)  # polling (the rerun: the batches it found)
        proc.send_signal(sig)
        try:
            assert proc.wait(timeout=20) == 130
        finally:
            proc.kill()
        err = proc.stderr.read()
        assert "generate interrupted" in err and "Traceback" not in err, err[-800:]
    assert _store(srv).batch_creations == 3  # the rerun polled the same batches


def test_a_batch_cancelled_from_outside_is_healed_by_the_next_wave(make_server, reference, tmp_path):
    import openai

    expected = reference(**CONTENT_FAULTS)
    srv = make_server(**CONTENT_FAULTS, batch_delay_s=3.0)
    cfg = _write(tmp_path / "b.toml", srv.base_url, per_file=100)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "generate", "-c", str(cfg), "-o", str(run), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _store(srv).batches and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # some lines done, most not
    client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
    client.batches.cancel(next(iter(_store(srv).batches)))
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-800:]
    assert _records(run) == expected
    statuses = [b["status"] for b in manifest(run)["batches"]]
    assert statuses[0] == "cancelled" and "completed" in statuses[1:]


def test_cost_in_run_json_is_at_batch_prices(make_server, tmp_path):
    srv = make_server()
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    cfg.write_text(cfg.read_text() + "[prices.scripted]\ninput_per_1m = 2.0\noutput_per_1m = 8.0\nbatch_discount = 0.5\n")
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    m = manifest(run)
    t = m["tokens"]
    assert t["prompt_tokens"] > 0
    assert m["cost_usd"] == pytest.approx((t["prompt_tokens"] * 1.0 + t["completion_tokens"] * 4.0) / 1e6, rel=1e-4)


def test_stats_shows_each_batch(make_server, tmp_path):
    srv = make_server()
    run = tmp_path / "run"
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    import json

    report = json.loads(CliRunner().invoke(app, ["stats", str(run), "--json"]).stdout)
    assert len(report["batches"]) >= 3 and {b["status"] for b in report["batches"]} == {"completed"}
    text = CliRunner().invoke(app, ["stats", str(run)]).output
    assert "batches" in text and "completed" in text


def test_shards_on_one_account_upload_files_of_distinct_names(make_server, tmp_path):
    # a rerun finds an upload whose id a crash lost by name and size: shard 1's file must never
    # pass for shard 0's, and on the provider's file list each shard's files are told apart
    srv = make_server()
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    for k in (0, 1):
        r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(tmp_path / f"p{k}"),
                                     "--shard", f"{k}/2", "-q"])
        assert r.exit_code == 0, r.output
    names = [f["filename"] for f in _store(srv).files.values() if f["purpose"] == "batch"]
    assert len(names) >= 4 and len(set(names)) == len(names), names
    assert {n.split("-")[1] for n in names} == {"s0of2", "s1of2"}


@pytest.mark.parametrize("status,said", [
    (404, "has this endpoint a Batch API? vLLM and Ollama have none"),  # a chat-only server
    (500, "rerun the same command to continue"),  # a Batch API that keeps failing
])
def test_an_endpoint_without_a_working_batch_api_fails_in_one_line(tmp_path, status, said):
    # the SDK's error came out of the batch calls raw: a traceback
    async def files(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "no files here"}}, status=status)

    app_ = web.Application()
    app_.router.add_route("*", "/v1/files", files)
    with serve_app(app_) as url:
        cfg = _write(tmp_path / "b.toml", url)
        r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 1, r.output
    assert "Batch API call files.list failed: HTTP" in r.output and said in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_file_list_with_junk_entries_is_searched_past(tmp_path):
    # an entry that is not a file object ended the run in a traceback (AttributeError)
    async def files(request: web.Request) -> web.Response:
        if request.method == "GET":
            return web.json_response({"object": "list", "data": [{"id": "file-x"}, "junk", None, 5],
                                      "has_more": False})
        return web.json_response({"error": {"message": "uploads are off"}}, status=500)

    app_ = web.Application()
    app_.router.add_route("*", "/v1/files", files)
    r = _generate_once(app_, tmp_path)
    assert r.exit_code == 1, r.output
    assert "Batch API call files.create failed: HTTP 500" in r.output and "Traceback" not in r.output, r.output


def _counting(status_after: int, answer):
    """A handler answering `answer(request)` until called `status_after` times, then HTTP 500."""
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) > status_after:
            return web.json_response({"error": {"message": "enough"}}, status=500)
        return web.json_response(answer(request))
    return handler


def _generate_once(app_: web.Application, tmp_path: Path):
    """`synthgen generate` in batch mode against `app_`, each call tried once (max_attempts = 1)."""
    with serve_app(app_) as url:
        cfg = _write(tmp_path / "b.toml", url)
        cfg.write_text(cfg.read_text().replace('mode = "batch"', 'mode = "batch"\nmax_attempts = 1'))
        return CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(tmp_path / "run"), "-q"])


def test_a_file_list_that_always_has_more_is_not_listed_forever(tmp_path):
    # has_more true with `after` ignored: the same page was listed forever (a hang)
    page = {"object": "list", "data": [{"id": "file-a", "object": "file", "filename": "x", "bytes": 1}],
            "has_more": True}
    app_ = web.Application()
    app_.router.add_get("/v1/files", _counting(50, lambda _: page))
    r = _generate_once(app_, tmp_path)
    assert r.exit_code == 1, r.output
    assert "Batch API call files.create failed" in r.output and "Traceback" not in r.output, r.output


def test_a_batch_status_synthgen_does_not_know_is_not_polled_forever(tmp_path):
    empty = {"object": "list", "data": [], "has_more": False}
    batch = {"id": "batch_x", "object": "batch", "input_file_id": "file-a", "status": "paused",
             "expires_at": 1, "request_counts": {"total": 1, "completed": 0, "failed": 0}}
    app_ = web.Application()
    app_.router.add_get("/v1/files", _counting(99, lambda _: empty))
    app_.router.add_post("/v1/files", _counting(99, lambda _: {"id": "file-a", "object": "file"}))
    app_.router.add_get("/v1/batches", _counting(99, lambda _: empty))
    app_.router.add_post("/v1/batches", _counting(99, lambda _: batch))
    app_.router.add_get("/v1/batches/batch_x", _counting(50, lambda _: batch))
    r = _generate_once(app_, tmp_path)
    assert r.exit_code == 1, r.output
    assert "batch batch_x has status 'paused', unknown to synthgen" in r.output, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_file_list_failing_on_a_later_page_fails_in_one_line(tmp_path):
    # the SDK fetches page 2 on its own, outside the call that was guarded: a traceback
    def page(request):
        n = int(request.query.get("after", "file-0").removeprefix("file-")) + 1
        return {"object": "list", "data": [{"id": f"file-{n}", "object": "file"}], "has_more": True}
    app_ = web.Application()
    app_.router.add_get("/v1/files", _counting(3, page))
    r = _generate_once(app_, tmp_path)
    assert r.exit_code == 1, r.output
    assert "Batch API call files.list failed: HTTP 500" in r.output and "Traceback" not in r.output, r.output


def test_a_file_id_batches_create_does_not_know_is_not_reused_by_the_rerun(make_server, reference, tmp_path):
    # the rejected file id stayed in the journal: every rerun, also against a new base_url, 404ed again
    empty = {"object": "list", "data": [], "has_more": False}
    app_ = web.Application()
    app_.router.add_get("/v1/files", _counting(99, lambda _: empty))
    app_.router.add_post("/v1/files", _counting(99, lambda _: {"id": "file-gone", "object": "file"}))
    app_.router.add_get("/v1/batches", _counting(99, lambda _: empty))
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "No such File object"}}, status=404)
    app_.router.add_post("/v1/batches", refuse)
    run = tmp_path / "run"
    with serve_app(app_) as url:
        cfg = _write(tmp_path / "b.toml", url)
        r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 1 and "batches.create failed: HTTP 404" in r.output, r.output
    expected = reference()
    srv = make_server()
    cfg = _write(tmp_path / "b.toml", srv.base_url)
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    assert _records(run) == expected


def test_max_cost_counts_what_the_earlier_waves_cost_before_sending_the_next(make_server, tmp_path):
    """--max-cost reserves a wave's worst case on top of what the run has spent, the waves this
    session already sent included (they were left out: a budget of $1.34 ended at $2.61, exit 0)."""
    srv = make_server(rate_truncate=0.5)  # half the first answers asked again: waves 2 and 3, top-ups
    cfg = _write(tmp_path / "b.toml", srv.base_url, per_file=50)
    cfg.write_text(cfg.read_text().replace('mode = "batch"', 'mode = "batch"\nmax_tokens = 64')
                   + "[prices.scripted]\ninput_per_1m = 0.0\noutput_per_1m = 1000.0\n")
    budget = 40 * 64 * 500 / 1e6 * 1.05  # the first wave's worst case (40 requests) fits, no more
    run = tmp_path / "run"
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q", "--max-cost", str(budget)])
    assert r.exit_code == 3, r.output
    m = manifest(run)
    assert 0 < m["cost_usd"] <= budget
    assert [b["wave"] for b in m["batches"]] == [1]


def _scripted_app(middleware, **options) -> web.Application:
    """The scripted server's chat and batch routes behind `middleware` (a fault of the test's own)."""
    from synthgen.testing.app import FakeApp
    from synthgen.testing.batches import add_batch_routes
    from synthgen.testing.options import FakeServerOptions

    fake = FakeApp(FakeServerOptions(**options))
    app_ = fake.make()
    app_.middlewares.append(middleware)
    add_batch_routes(app_, fake)
    return app_


def test_an_output_file_download_failing_once_is_asked_again(make_server, reference, tmp_path):
    # the download was the one Batch API call not retried: a single 500 ended the run (exit 1)
    failed = []

    @web.middleware
    async def fail_first_download(request: web.Request, handler):
        if request.path.endswith("/content") and not failed:
            failed.append(request.path)
            return web.json_response({"error": {"message": "upstream hiccup"}}, status=500)
        return await handler(request)

    expected = reference()
    run = tmp_path / "run"
    with serve_app(_scripted_app(fail_first_download)) as url:
        r = CliRunner().invoke(app, ["generate", "-c", str(_write(tmp_path / "b.toml", url)), "-o", str(run), "-q"])
    assert failed and r.exit_code == 0, r.output
    assert _records(run) == expected


def test_max_requests_sends_a_wave_of_what_it_leaves_and_commits_those_answers(make_server, reference, tmp_path):
    # a wave larger than --max-requests was not sent at all (0 of 10 allowed), and the answers of a
    # wave before the budget stopped the run were never committed while the budget stood
    expected = reference()
    srv = make_server()
    cfg, run = _write(tmp_path / "b.toml", srv.base_url), tmp_path / "run"
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q", "--max-requests", "10"])
    assert r.exit_code == 3 and "budget reached: max_requests=10" in r.output, r.output
    assert [b["requests"] for b in manifest(run)["batches"]] == [10]
    assert manifest(run)["stages"]["generate"]["items_committed"] == 10
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(run), "-q"])
    assert r.exit_code == 0, r.output
    assert _records(run) == expected
    assert _store(srv).snapshot()["repeated_custom_ids"] == 0
