"""Shared fixtures: every test works in its own tmp dir, with no OPENAI_* from the user's shell."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from synthgen.testing.options import FakeServerOptions
from synthgen.testing.server import FakeLLMServer

REPO = Path(__file__).resolve().parent.parent

@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.startswith("OPENAI_"):
            monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture
def server():
    """A fresh scripted server per test (counts start at zero)."""
    with FakeLLMServer(FakeServerOptions(idle_exit_seconds=300)) as srv:
        yield srv


@pytest.fixture
def make_server():
    started = []

    def make(**options) -> FakeLLMServer:
        options.setdefault("idle_exit_seconds", 300)
        srv = FakeLLMServer(FakeServerOptions(**options))
        srv.start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


SMALL = """
seed = {seed}

[llm]
model = "scripted"
base_url = "{base_url}"
concurrency = {concurrency}
timeout_s = {timeout}
max_attempts = {max_attempts}

[groups.short-long]
tasks = 4
examples = {sl}

[groups.long-short]
tasks = 3
examples = 6

[groups.short-short]
tasks = 2
examples = 3

[groups.long-long]
tasks = 2
examples = 3

[groups.sts]
examples = 4

[groups.bitext]
examples = 4

[languages]
mode = "custom"

[languages.weights]
English = 4
German = 1
French = 1
Spanish = 1
Italian = 1
Portuguese = 1
Dutch = 1
Polish = 1
Russian = 1
Japanese = 1
Chinese = 1

[output]
shard_size = {shard_size}
"""


@pytest.fixture
def write_config(tmp_path):
    """Write a small all-groups config pointing at `base_url`; `extra` is appended TOML."""

    def write(base_url: str, name: str = "cfg.toml", extra: str = "", **kw) -> Path:
        values = dict(seed=7, base_url=base_url, concurrency=8, timeout=10, max_attempts=6, sl=10, shard_size=10)
        values.update(kw)
        path = tmp_path / name
        path.write_text(SMALL.format(**values) + textwrap.dedent(extra))
        return path

    return write
