"""A server sending huge answers: a real run rejects those items, keeps them out of the journal,
and its memory does not follow the answer size."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import rejects

CONFIG = """
seed = 3
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 4
max_response_bytes = 65536
[groups.sts]
examples = 8
[generate]
max_rounds = 0
[output]
shard_size = 10
"""


def run(url: str, out) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in bytes) of a real `synthgen run` against `url`."""
    cfg = out.parent / f"{out.name}.toml"
    cfg.write_text(CONFIG.format(url=url))
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out", str(out),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), proc.stderr.read(), usage.ru_maxrss * 1024


def test_over_size_answers_are_rejected_not_journaled_and_not_held(make_server, tmp_path):
    plain = make_server()
    code, stderr, rss_plain = run(plain.base_url, tmp_path / "plain")
    assert code == 0, stderr
    huge = make_server(answer_bytes=48 * 1024 * 1024)
    out = tmp_path / "huge"
    code, stderr, rss_huge = run(huge.base_url, out)
    assert code == 0, stderr
    bad = rejects(out)
    assert len(bad) == 8 and all("max_response_bytes" in r["detail"] for r in bad)
    assert {r["reason"] for r in bad} == {"response_too_large"}
    assert huge.requests == 8  # each asked once: a retry would be as large
    assert (out / "journal" / "state.sqlite").stat().st_size < 2 * 1024 * 1024
    assert rss_huge < rss_plain + 16 * 1024 * 1024, (rss_plain, rss_huge)  # not 8 x 48 MB
