"""The client against servers that misbehave: bodies that are not JSON, dripped and huge answers,
budgets checked before each send, and the truth about how many attempts were made."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import tracemalloc

import pytest
from aiohttp import web

from synthgen.config import LLMConfig, load_config
from synthgen.errors import FatalLLMError
from synthgen.llm.client import LLMClient, RequestFailed
from synthgen.pipeline import RunOptions, run_all

from helpers_http import rewriting_proxy, serve_app

MESSAGES = [{"role": "user", "content": "write a query"}]


class FakeSleep:
    """Stands in for asyncio.sleep in the retry layer: records each wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def chat(url: str, *, sleep=None, before_send=None, seeds=(1,), **cfg):
    cfg.setdefault("model", "scripted")

    async def go():
        client = LLMClient(LLMConfig(**cfg), [url], "sk-test", sleep=sleep or FakeSleep())
        try:
            results = [await client.chat(MESSAGES, seed=s, before_send=before_send) for s in seeds]
            return client, results
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("fault", ["rate_html", "rate_empty_body", "rate_cut_envelope"])
def test_a_200_that_is_not_a_chat_completion_is_asked_again(make_server, fault):
    srv = make_server(**{fault: 1.0})  # the first request of each content key gets the bad body
    client, [result] = chat(srv.base_url, max_attempts=3)
    assert result.content and result.finish_reason == "stop"
    assert client.retries == 1 and srv.requests == 2


def test_the_failure_says_how_many_attempts_were_really_made():
    calls = []

    async def html(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(text="<html><body>Bad Gateway</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", html)
    sleep = FakeSleep()
    with serve_app(app) as url:
        with pytest.raises(RequestFailed) as err:
            chat(url, sleep=sleep, max_attempts=3)
    assert not err.value.permanent and err.value.reason == "request_failed"
    assert "text/html" in str(err.value) and "tried 3 times" in str(err.value)
    assert len(calls) == 3 and len(sleep.waits) == 2


def test_timeout_bounds_a_slowly_dripped_answer(make_server):
    srv = make_server(drip_seconds=30)  # bytes keep coming, so no read timeout would ever fire
    started = time.monotonic()
    with pytest.raises(RequestFailed) as err:
        chat(srv.base_url, timeout_s=0.5, max_attempts=2)
    assert "timeout_s" in str(err.value) and "tried 2 times" in str(err.value)
    assert time.monotonic() - started < 10  # two bounded attempts, far from 2 x 30 s


def test_a_dripped_answer_inside_the_timeout_is_read_whole(make_server):
    srv = make_server(drip_seconds=0.3)
    _, [result] = chat(srv.base_url, timeout_s=10)
    assert result.content and result.finish_reason == "stop"


def test_an_answer_over_the_cap_is_rejected_without_being_held_in_memory(make_server):
    srv = make_server(answer_bytes=48 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(RequestFailed) as err:
            chat(srv.base_url, max_response_bytes=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.permanent and err.value.reason == "response_too_large"
    assert srv.requests == 1  # not asked again: the next answer would be as large
    assert peak < 12 * 1024 * 1024, peak


@pytest.mark.parametrize("status", [500, 429, 400])
def test_an_endless_error_body_is_not_read_past_the_cap(status):
    # the SDK reads an error's body whole to build its exception: a server streaming one without
    # end took the run to 9 GB of RSS before timeout_s stopped it
    sent = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            for _ in range(256):  # at most 256 MB: the old client read it all, then asked again
                await response.write(b"x" * 2**20)
                sent.append(1)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", endless)
    tracemalloc.start()
    try:
        with serve_app(app) as url:
            with pytest.raises(RequestFailed) as err:
                chat(url, max_attempts=3, max_response_bytes=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.permanent and err.value.reason == "response_too_large"
    assert f"HTTP {status} answer over llm.max_response_bytes" in str(err.value)
    assert len(sent) < 64 and peak < 12 * 2**20, (len(sent), peak)


def test_a_padded_answer_under_the_cap_is_accepted(make_server):
    srv = make_server(answer_bytes=300_000)
    _, [result] = chat(srv.base_url, max_response_bytes=1024 * 1024)
    assert result.content and result.finish_reason == "stop"


def test_before_send_runs_before_every_attempt_that_really_goes(make_server):
    srv = make_server(rate_500=1.0)  # the first request of the prompt fails, later ones do not
    sent = []
    client, results = chat(srv.base_url, before_send=lambda: sent.append(srv.requests), seeds=(1, 2))
    assert len(results) == 2 and client.retries == 1
    assert sent == [0, 1, 2] and srv.requests == 3


def test_what_before_send_raises_stops_the_request_before_it_is_sent(make_server):
    srv = make_server()

    class Budget(Exception):
        pass

    def refuse():
        raise Budget("over budget")

    with pytest.raises(Budget):
        chat(srv.base_url, before_send=refuse)
    assert srv.requests == 0


def test_a_400_rejects_the_item_at_once(make_server):
    srv = make_server(rate_400=1.0)
    with pytest.raises(RequestFailed) as err:
        chat(srv.base_url)
    assert err.value.permanent and "HTTP 400" in str(err.value) and srv.requests == 1


def test_a_refused_connection_names_the_host_and_not_the_key():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleep = FakeSleep()
    with pytest.raises(RequestFailed) as err:
        chat(f"http://127.0.0.1:{port}/v1", sleep=sleep, max_attempts=2)
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "tried 2 times" in text and "sk-test" not in text
    assert not err.value.permanent and len(sleep.waits) == 1


def test_a_gzip_answer_is_decoded():
    import gzip
    import json

    answer = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}

    async def chat_gz(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(json.dumps(answer).encode()),
                            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat_gz)
    with serve_app(app) as url:
        _, [result] = chat(url)
    assert result.content == "ok" and result.usage_estimated  # no usage given: counted locally


def test_an_answer_after_a_utf8_bom_is_read():
    # orjson refuses the BOM: every paid answer was dropped as "not a chat completion", then the run failed
    async def with_bom(request: web.Request) -> web.Response:
        body = b'\xef\xbb\xbf{"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}'
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", with_bom)
    with serve_app(app) as url:
        client, [result] = chat(url)
    assert result.content == "ok" and client.retries == 0


def test_an_answer_with_a_garbled_message_or_usage_is_read_not_a_crash():
    # a server with its own idea of the format: the message a string, usage a list, counts as text
    answers = iter([{"choices": [{"message": "ok", "finish_reason": 3}], "usage": ["1", "2"], "model": 5},
                    {"choices": [{"message": {"content": "fine"}}],
                     "usage": {"prompt_tokens": "12", "completion_tokens": True}},
                    # content parts (Mistral's Magistral) were read as no content: a bad_json for every answer
                    {"choices": [{"message": {"content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]},
                        {"type": "text", "text": '{"a": '}, {"type": "text", "text": "1}"}, 7]}}]}])

    async def chat_odd(request: web.Request) -> web.Response:
        return web.json_response(next(answers))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat_odd)
    with serve_app(app) as url:
        _, [first, second, parts] = chat(url, seeds=(1, 2, 3))
    assert (first.content, first.finish_reason, first.model) == (None, None, None)
    assert second.content == "fine" and second.usage_estimated and second.completion_tokens == 1
    assert parts.content == '{"a": 1}'


def test_a_run_against_a_server_reporting_absurd_usage_finishes(make_server, write_config, tmp_path):
    # 10**19 tokens is no count (and did not fit the journal's INTEGER: a traceback, a dead run)
    app = rewriting_proxy(make_server().base_url,
                          lambda answer, _: answer.update(usage={"prompt_tokens": 10**19, "completion_tokens": 5}))
    with serve_app(app) as url:
        outcomes = run_all(load_config(write_config(url)), RunOptions(out=tmp_path / "run", quiet=True))
    assert [o.code for o in outcomes] == [0, 0]
    tokens = json.loads((tmp_path / "run" / "run.json").read_text())["stages"]["generate"]["tokens"]
    assert tokens["estimated_usage_responses"] == tokens["responses"] and tokens["prompt_tokens"] < 10**6


def test_a_run_whose_answers_hold_half_a_surrogate_pair_finishes(make_server, write_config, tmp_path):
    # '\ud83d' without its other half (an emoji cut by a model) decoded into a str that no file can
    # hold: a UnicodeEncodeError traceback ended the run at its first hash or write
    def break_escape(answer: dict, _) -> None:
        message = answer["choices"][0]["message"]
        if '"tasks"' not in message["content"]:  # generate's answers only: stage 1 gives the tasks
            message["content"] = message["content"].replace('": "', '": "\\ud83d ', 1)

    with serve_app(rewriting_proxy(make_server().base_url, break_escape)) as url:
        outcomes = run_all(load_config(write_config(url)), RunOptions(out=tmp_path / "run", quiet=True))
    assert [o.code for o in outcomes] == [0, 0]
    rejects = [json.loads(line) for f in (tmp_path / "run" / "rejects").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    assert rejects and {r["reason"] for r in rejects if r["stage"] == "generate"} == {"bad_json"}


def test_a_text_of_zero_width_and_control_characters_only_is_an_empty_field(make_server, write_config, tmp_path):
    # strip() keeps U+200B, U+FEFF, bidi marks and NUL: such a field counted as one word and went
    # into examples/ and the exports as a text with nothing to read
    def blank_first_field(answer: dict, _) -> None:
        message = answer["choices"][0]["message"]
        if '"tasks"' not in message["content"]:
            blank = '": "\\u200b\\ufeff \\u202e\\u0000"'
            message["content"] = re.sub(r'": "[^"]*"', lambda _: blank, message["content"], count=1)

    with serve_app(rewriting_proxy(make_server().base_url, blank_first_field)) as url:
        outcomes = run_all(load_config(write_config(url)), RunOptions(out=tmp_path / "run", quiet=True))
    assert [o.code for o in outcomes] == [0, 0]
    rejects = [json.loads(line) for f in (tmp_path / "run" / "rejects").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    assert {r["reason"] for r in rejects if r["stage"] == "generate"} == {"empty_field"}
    assert not list((tmp_path / "run" / "examples").glob("*.jsonl"))


ANSWER = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}


async def _cut_off(request: web.Request, status: int = 200) -> web.StreamResponse:
    """An answer that promises 999 bytes, sends the start of a JSON body and drops the connection."""
    response = web.StreamResponse(status=status,
                                  headers={"Content-Type": "application/json", "Content-Length": "999"})
    await response.prepare(request)
    await response.write(b'{"id": "x", "choices": [')
    request.transport.close()
    return response


@pytest.mark.parametrize("fault", ["cut_200", "cut_500", "bad_gzip"])
def test_a_body_that_breaks_off_or_will_not_decode_is_asked_again(fault):
    # the SDK wraps errors of the send only; these come from reading the body and once crashed the run
    calls = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        if len(calls) > 1:
            return web.json_response(ANSWER)
        if fault == "bad_gzip":  # says gzip, is not
            return web.json_response(ANSWER, headers={"Content-Encoding": "gzip"})
        return await _cut_off(request, 200 if fault == "cut_200" else 500)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", flaky)
    with serve_app(app) as url:
        client, [result] = chat(url, max_attempts=3)
    assert result.content == "ok" and client.retries == 1 and len(calls) == 2


def test_a_body_that_always_breaks_off_fails_in_one_line_after_every_attempt():
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _cut_off)
    with serve_app(app) as url:
        with pytest.raises(RequestFailed) as err:
            chat(url, max_attempts=2)
    assert not err.value.permanent and "tried 2 times" in str(err.value)
    assert "connection error" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("reply,said", [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "the reply is not valid HTTP (Bad status line"),  # base_url on the wrong port
    (b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * 200_000, "the reply is not valid HTTP (Too many headers"),
    (b"", "connection error: Server disconnected (tried"),  # hung up unanswered: was called a "timeout"
])
def test_a_reply_that_is_not_http_fails_in_one_line(reply, said):
    # aiohttp's parse errors come through the SDK unwrapped: they ended the run in a traceback
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(reply)
                except OSError:
                    pass  # the client gave up reading

    threading.Thread(target=serve, daemon=True).start()
    try:
        with pytest.raises(RequestFailed) as err:
            chat(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", max_attempts=2)
    finally:
        listener.close()
    assert not err.value.permanent and "tried 2 times" in str(err.value)
    assert said in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("status,body,said", [
    (404, "no such model: scripted\n", "/v1/chat/completions: Error code: 404 - no such model: scripted"),
    (401, '{"error": {"message": "Invalid key.\\nSee the docs."}}', "Invalid key. See the docs."),
    (502, "<html>\n<title>502 Bad Gateway</title>\n</html>", "<title>502 Bad Gateway</title>"),
])
def test_a_refusal_says_in_one_line_what_the_server_said(status, body, said):
    # a body without a `message` field (plain text, an HTML page) was dropped; a message of several
    # lines went to stderr as several lines
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(text=body, status=status)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", refuse)
    with serve_app(app) as url:
        with pytest.raises((FatalLLMError, RequestFailed)) as err:
            chat(url, max_attempts=2)
    assert said in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("redirect", [web.HTTPMovedPermanently, web.HTTPFound, web.HTTPSeeOther])
def test_a_redirect_that_turns_the_post_into_a_get_is_named_at_once(redirect):
    # httpx followed it as a GET without body and the run stopped on the new place's bare 405
    seen = []

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.method)
        raise redirect("/v2/chat/completions")

    async def refuse_get(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(text="Method Not Allowed", status=405)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", moved)
    app.router.add_get("/v2/chat/completions", refuse_get)
    with serve_app(app) as url:
        with pytest.raises(FatalLLMError) as err:
            chat(url, max_attempts=3)
    said = str(err.value)
    assert f"HTTP {redirect.status_code}: {url}/chat/completions redirects to /v2/chat/completions" in said
    assert "llm.base_url" in str(err.value) and seen == ["POST"]  # not asked again, no GET sent


def test_a_redirect_that_keeps_the_post_is_followed():
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect("/v2/chat/completions")

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", moved)
    app.router.add_post("/v2/chat/completions", answer)
    with serve_app(app) as url:
        _, [result] = chat(url)
    assert result.content == "{}"


def test_a_404_names_the_url_asked_so_a_base_url_without_v1_shows(make_server):
    # the line said only "HTTP 404: Error code: 404 - 404: Not Found"
    srv = make_server()
    root = srv.base_url.removesuffix("/v1")
    with pytest.raises(FatalLLMError) as err:
        chat(root)
    assert f"HTTP 404 from {root}/chat/completions: " in str(err.value)


def test_a_redirect_loop_stops_at_once():
    # it was asked again max_attempts times (20 redirects each), then "rerun the same command"
    calls = []

    async def loop(request: web.Request) -> web.Response:
        calls.append(1)
        raise web.HTTPTemporaryRedirect(request.path)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", loop)
    with serve_app(app) as url:
        with pytest.raises(FatalLLMError, match="redirects"):
            chat(url, max_attempts=3)
    assert len(calls) == 21  # one attempt: the first request and httpx's 20 redirects


def test_a_429_for_an_account_out_of_credit_stops_at_once():
    # OpenAI's insufficient_quota: each request was asked again max_attempts times, then the line
    # said "rerun the same command to continue", which met the same 429
    calls = []

    async def no_credit(request: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"error": {"message": "You exceeded your current quota, please check your plan.",
                                            "type": "insufficient_quota", "code": "insufficient_quota"}}, status=429)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", no_credit)
    with serve_app(app) as url:
        with pytest.raises(FatalLLMError, match="HTTP 429: .*exceeded your current quota"):
            chat(url, max_attempts=3)
    assert len(calls) == 1


@pytest.mark.parametrize("broken", [b"\\ud800", b"\xff\xfe"])
def test_an_answer_with_a_lone_surrogate_or_bytes_not_utf8_is_read_with_a_replacement_character(broken):
    # a token cut in half (llama.cpp, a proxy re-encoding) made the whole completion "not a chat
    # completion": asked again with the same seed it came back the same, and the run stopped for good
    calls = []

    async def broken_text(request: web.Request) -> web.Response:
        calls.append(1)
        body = b'{"choices": [{"message": {"content": "{\\"a\\": \\"x' + broken + b'y\\"}"}, "finish_reason": "stop"}]}'
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", broken_text)
    with serve_app(app) as url:
        client, [result] = chat(url, max_attempts=2)
    assert len(calls) == 1 and client.retries == 0
    assert result.content.startswith('{"a": "x\ufffd') and result.content.endswith('y"}')
    result.content.encode("utf-8")  # what the journal and the output files must hold


def test_a_200_holding_an_error_says_the_servers_message():
    # a proxy passing on an upstream failure as a 200: the run stopped on "89 bytes of
    # application/json that are not a chat completion", hiding what the server said
    async def error_200(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "Upstream provider overloaded", "code": 502}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", error_200)
    with serve_app(app) as url:
        with pytest.raises(RequestFailed) as err:
            chat(url, max_attempts=2)
    assert "HTTP 200 with an error in its body: Upstream provider overloaded (tried 2 times)" in str(err.value)


def test_a_refusal_is_kept_as_the_raw_text_of_its_reject(make_server, write_config, tmp_path):
    # content null beside `refusal`: the reject said bad_json "no JSON object" and kept no text at all
    def refuse(answer: dict, _) -> None:
        if '"tasks"' not in answer["choices"][0]["message"]["content"]:  # stage 1 gives the tasks
            answer["choices"][0]["message"].update(content=None, refusal="I can't help with that.")

    with serve_app(rewriting_proxy(make_server().base_url, refuse)) as url:
        run_all(load_config(write_config(url)), RunOptions(out=tmp_path / "run", quiet=True))
    rejects = [json.loads(line) for f in (tmp_path / "run" / "rejects").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    generate = [r for r in rejects if r["stage"] == "generate"]
    assert generate and {(r["reason"], r["raw"]) for r in generate} == {("bad_json", "I can't help with that.")}


def test_an_answer_held_back_by_a_content_filter_says_so_in_its_reject(make_server, write_config, tmp_path):
    # Azure's output filter: no content, finish_reason content_filter; the reject said only "no JSON object"
    def filtered(answer: dict, _) -> None:
        choice = answer["choices"][0]
        if '"tasks"' not in choice["message"]["content"]:  # stage 1 gives the tasks
            choice.update(finish_reason="content_filter", message={"role": "assistant", "content": None})

    with serve_app(rewriting_proxy(make_server().base_url, filtered)) as url:
        run_all(load_config(write_config(url)), RunOptions(out=tmp_path / "run", quiet=True))
    rejects = [json.loads(line) for f in (tmp_path / "run" / "rejects").glob("*.jsonl")
               for line in f.read_text().splitlines()]
    details = {r["detail"] for r in rejects if r["stage"] == "generate"}
    assert details == {"no JSON object in output (finish_reason=content_filter)"}


def test_prompts_refused_by_a_content_filter_before_any_answer_do_not_stop_the_run():
    # Azure's prompt filter answers a 400 at once while answers take seconds: at concurrency 64, the
    # 3 prompts of the first 64 it filtered (5%) came back first and stopped the run as "refused
    # before any worked", each item in flight lost
    async def filtered(request: web.Request) -> web.Response:
        return web.json_response({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                       "management policy.", "type": None, "param": "prompt", "code": "content_filter",
            "status": 400}}, status=400)

    async def go(url: str) -> list[Exception]:
        client = LLMClient(LLMConfig(model="scripted"), [url], "sk-test", sleep=FakeSleep())
        outcomes: list[Exception] = []
        try:
            for seed in range(4):
                with pytest.raises((RequestFailed, FatalLLMError)) as err:
                    await client.chat(MESSAGES, seed=seed)
                outcomes.append(err.value)
        finally:
            await client.aclose()
        return outcomes

    app = web.Application()
    app.router.add_post("/v1/chat/completions", filtered)
    with serve_app(app) as url:
        outcomes = asyncio.run(go(url))
    assert all(isinstance(e, RequestFailed) and e.permanent for e in outcomes), outcomes
    assert "content management policy" in str(outcomes[-1])
