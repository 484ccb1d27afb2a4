"""What a user watching a run sees: a rich bar on a terminal, log lines elsewhere (fake clock)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from synthgen.config import load_config
from synthgen.pipeline import RunOptions, run_stage
from synthgen.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _simulate(progress: Progress, clock: Clock, resumed: int = 20, items: int = 30) -> None:
    """A resumed stage of 100 items: `resumed` done earlier, then one item every 0.5 s."""
    c = progress.start("generate", 100, 8)
    c.done = c.accepted = resumed
    for i in range(items):
        clock.now += 0.5
        c.done += 1
        c.accepted += 1
        c.requests += 1
        c.prompt_tokens += 400
        c.rate_limited = 2
        c.retries = 3
        c.in_flight = 8
        c.cost = 0.01 * (i + 1)
        progress.tick()
    progress.stop()


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_terminal_shows_a_bar_with_done_total_eta_and_rates():
    buf, clock = io.StringIO(), Clock()
    console = Console(file=buf, force_terminal=True, width=220)
    _simulate(Progress(console=console, clock=clock), clock)
    raw = buf.getvalue()
    assert "\x1b[" in raw and "━" in raw  # drawn as a terminal bar
    final = " ".join(_plain(raw).replace("\r", "\n").strip().splitlines()[-2:])
    assert "generate" in final and "50/100" in final
    # 50 items left at 2 items/s measured this session (the 20 resumed items do not count)
    assert "ETA 0:00:25" in final
    for part in ("50 accepted", "0 rejected", "req/s", "tokens in", "in flight 8/8", "429s 2",
                 "retries 3", "cost=$0.3000"):
        assert part in final, part


def test_without_a_terminal_plain_lines_every_interval():
    buf, clock = io.StringIO(), Clock()
    _simulate(Progress(stream=buf, interval=5.0, clock=clock), clock)
    lines = buf.getvalue().splitlines()
    assert "\x1b[" not in buf.getvalue()
    # 15 s of ticks at a 5 s interval (the first tick prints at once), plus the final line
    assert len(lines) == 4
    assert lines[-1].startswith("generate: 50/100 done, 50 accepted, 0 rejected | 2.0 req/s")
    assert "429s 2, retries 3 cost=$0.3000 (projected $0.6000), 15s" in lines[-1]


def test_quiet_prints_nothing_even_on_a_terminal():
    buf, clock = io.StringIO(), Clock()
    console = Console(file=buf, force_terminal=True)
    _simulate(Progress(quiet=True, console=console, clock=clock), clock)
    assert buf.getvalue() == ""


def test_unknown_total_still_shows_counts():
    buf, clock = io.StringIO(), Clock()
    p = Progress(console=Console(file=buf, force_terminal=True, width=220), clock=clock)
    c = p.start("brainstorm", None, 4)
    c.done = 3
    p.tick(force=True)
    p.stop()
    assert "3 accepted" not in _plain(buf.getvalue())  # nothing accepted yet
    assert re.search(r"\b3/\?", _plain(buf.getvalue()))


def test_without_a_terminal_the_line_keeps_coming_while_nothing_commits(make_server, write_config, tmp_path):
    # every brainstorm call hangs 2 s: the line was written on commits only, so a stalled run
    # (a hanging server, a long Retry-After) looked dead in CI logs
    srv = make_server(rate_hang=1.0, hang_seconds=2.0)
    buf = io.StringIO()
    cfg = load_config(write_config(srv.base_url))
    outcome = run_stage("brainstorm", cfg, RunOptions(out=tmp_path / "run"), Progress(stream=buf, interval=0.2))
    assert outcome.code == 0
    assert buf.getvalue().count("brainstorm: 0/4 done") >= 4, buf.getvalue()
