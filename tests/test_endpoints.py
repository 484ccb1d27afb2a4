"""Endpoint pool: balanced, routes around failures, never stuck."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from synthgen.config import LLMConfig
from synthgen.llm.client import LLMClient
from synthgen.llm.endpoints import EndpointPool

from helpers import rejects, run_cli
from helpers_http import serve_app

A, B, C = "http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1", "http://127.0.0.1:8003/v1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_idle_pool_goes_round_robin() -> None:
    pool = EndpointPool([A, B, C])
    picks = []
    for _ in range(6):
        url = pool.pick()
        picks.append(url)
        pool.release(url)
    assert picks == [A, B, C, A, B, C]


def test_least_in_flight_wins() -> None:
    pool = EndpointPool([A, B, C])
    held = [pool.pick() for _ in range(6)]
    assert Counter(held) == {A: 2, B: 2, C: 2}
    pool.release(B)
    pool.release(B)
    assert pool.pick() == B  # B now has the fewest requests in flight


def test_faster_server_gets_more_work() -> None:
    latency = {A: 0.002, B: 0.02}

    async def main() -> Counter[str]:
        pool = EndpointPool([A, B])
        served: Counter[str] = Counter()
        sem = asyncio.Semaphore(8)

        async def request() -> None:
            async with sem:
                url = pool.pick()
                await asyncio.sleep(latency[url])
                served[url] += 1
                pool.release(url)

        await asyncio.gather(*(request() for _ in range(200)))
        return served

    served = asyncio.run(main())
    assert served[A] > 2 * served[B]


def picks(pool: EndpointPool, n: int = 4) -> set[str]:
    """The servers `n` idle requests go to."""
    out = set()
    for _ in range(n):
        url = pool.pick()
        pool.release(url)
        out.add(url)
    return out


def test_failed_endpoint_sits_out_a_doubling_cooldown() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], cooldown_s=10, max_cooldown_s=35, clock=clock)
    cooldowns = []
    for _ in range(4):  # each time A is tried again after its cooldown, and fails again
        cooldowns.append(pool.mark_failed(A))
        clock.t += cooldowns[-1]
    assert cooldowns == [10, 20, 35, 35]
    pool.mark_failed(A)
    assert picks(pool, 5) == {B}
    clock.t += 34.9
    assert picks(pool) == {B}
    clock.t += 0.2
    assert picks(pool) == {A, B}  # back after its cooldown, without anyone calling mark_ok


def test_requests_in_flight_when_a_replica_goes_down_are_one_failure() -> None:
    # 8 requests were on A when it went down: A sits out 30 s and gets work again, not 600 s
    clock = Clock()
    pool = EndpointPool([A, B], cooldown_s=30, max_cooldown_s=600, clock=clock)
    assert [pool.mark_failed(A) for _ in range(8)] == [30] * 8
    clock.t += 30.1
    assert picks(pool) == {A, B}


def test_mark_ok_restores_and_resets_the_backoff() -> None:
    clock = Clock()
    pool = EndpointPool([A, B], cooldown_s=10, clock=clock)
    clock.t += pool.mark_failed(A)
    assert pool.mark_failed(A) == 20
    pool.mark_ok(A)
    assert picks(pool) == {A, B}
    assert pool.mark_failed(A) == 10


def test_all_cooling_uses_the_one_that_recovers_first() -> None:
    clock = Clock()
    pool = EndpointPool([A, B, C], cooldown_s=10, clock=clock)
    clock.t += pool.mark_failed(A)
    pool.mark_failed(A)  # failed again after its 10 s: 20 s
    pool.mark_failed(B)  # 10 s
    clock.t += 1
    pool.mark_failed(C)  # 10 s, but ends a second after B's
    assert [pool.pick() for _ in range(3)] == [B, B, B]


@pytest.mark.parametrize("url,needle", [
    ("http://[::1/v1", "is not a valid URL"),
    ("http://user:pw@127.0.0.1:9/v1", "carries user:password@"),
    ("http://127.0.0.1:99999/v1", "is not a valid URL"),
    ("http://10.0.0.256:8000/v1", "is not a valid URL (Invalid IPv4 address"),  # was a traceback
    ("ftp://127.0.0.1/v1", "is not an http(s) URL"),
    ("http://127.0.0.1:9/openai/v1/?api-version=2024-10-21", "carries a query"),  # was a bare 404
])
def test_a_bad_base_url_is_one_line_and_exit_2(tmp_path, write_config, url, needle) -> None:
    cfg = write_config(url)
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "pw@" not in r.stderr


def test_a_replica_that_hangs_sits_out_like_one_that_fails(make_server) -> None:
    # a hung request ends at timeout_s; its replica must not be handed the next requests
    hung = []

    async def hang(request: web.Request) -> web.Response:
        hung.append(1)
        await asyncio.sleep(60)
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", hang)
    fast = make_server(latency_ms=100)

    async def go(urls: list[str]) -> list:
        client = LLMClient(LLMConfig(model="scripted", concurrency=4, timeout_s=0.5), urls, "no-key")
        try:
            msgs = [[{"role": "user", "content": f"item {i}"}] for i in range(80)]
            return await asyncio.gather(*(client.chat(m, seed=1) for m in msgs))
        finally:
            await client.aclose()

    with serve_app(app) as stuck:
        results = asyncio.run(go([fast.base_url, stuck]))
    assert len(results) == 80 and {r.endpoint for r in results} == {fast.base_url}
    assert len(hung) <= 4  # only the requests it held when it stopped answering


def test_a_loopback_endpoint_is_not_sent_through_the_environments_proxy(tmp_path, server,
                                                                        write_config) -> None:
    """Behind a corporate proxy (HTTP(S)_PROXY set, NO_PROXY not naming 127.0.0.1) a local vLLM
    must still be reached: the proxy's loopback is not this machine's."""
    with socket.socket() as s:  # a port nothing listens on: the "proxy" refuses every connection
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead, http_proxy=dead, https_proxy=dead)
    cfg = write_config(server.base_url, max_attempts=1)
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert "generate:" in r.stderr and "accepted" in r.stderr


def test_a_proxy_asking_for_credentials_mid_run_stops_the_run_instead_of_rejecting_every_item(
        tmp_path, server, write_config) -> None:
    """A corporate proxy whose credentials lapse answers 407 to everything: no item may be
    committed as request_failed (a rerun would never ask for it again)."""
    seen = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(1)
        if len(seen) > 12:  # brainstorm's 4 calls and some of stage 2 answered, then the proxy refuses
            return web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="corp"'})
        async with aiohttp.ClientSession() as session, session.post(
                server.base_url + "/chat/completions", data=await request.read(),
                headers={"Content-Type": "application/json"}) as r:
            return web.json_response(await r.json())

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    with serve_app(app) as url:
        r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(write_config(url)),
                            "--out", str(tmp_path / "run"), "--quiet"], capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 1 and "407" in r.stderr.strip().splitlines()[-1], r.stderr
    assert not [x for x in rejects(tmp_path / "run") if x["reason"] == "request_failed"]


@pytest.mark.parametrize("name,value", [("HTTP_PROXY", "htp://alice:pw123@proxy.corp:3128"),
                                        ("ALL_PROXY", "socks4://proxy.corp:1080")])
def test_a_proxy_variable_of_an_unusable_scheme_is_one_line_not_a_traceback(tmp_path, server, write_config,
                                                                              name, value) -> None:
    r = run_cli(write_config(server.base_url), tmp_path / "run", **{name: value})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "proxy.corp" in lines[0] and "ALL_PROXY" in lines[0], r.stderr
    assert "pw123" not in r.stderr


def test_a_bad_openai_base_url_is_named_as_the_variable_it_came_from(tmp_path) -> None:
    """No llm.base_url in the config: the URL is OPENAI_BASE_URL's, and the message must say so."""
    ci = (Path(__file__).parents[1] / "configs" / "ci.toml").read_text()
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("\n".join(line for line in ci.splitlines() if not line.startswith("base_url")))
    env = {**os.environ, "OPENAI_BASE_URL": "127.0.0.1:8000/v1"}  # the scheme forgotten
    r = subprocess.run([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "synthgen: error: OPENAI_BASE_URL '127.0.0.1:8000/v1' is not an http(s) URL"
