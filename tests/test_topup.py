"""`groups.<g>.examples` is the number of ACCEPTED examples wanted: top-up rounds fill the gaps
rejects leave, within bounds, and a group that cannot reach its target is reported short."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from synthgen.cli import app
from synthgen.config import load_config
from synthgen.estimate import estimate_run
from synthgen.pipeline import RunOptions, run_all

from helpers import examples, manifest, read_jsonl, rejects


def _accepted(run) -> Counter:
    return Counter(x["group"] for x in examples(run))


def test_a_run_with_short_answers_reaches_every_groups_target_exactly(make_server, write_config, tmp_path):
    srv = make_server(rate_short=0.3)
    cfg = load_config(write_config(srv.base_url))
    outcomes = run_all(cfg, RunOptions(out=tmp_path / "run", quiet=True))
    assert [o.code for o in outcomes] == [0, 0], [o.message for o in outcomes]
    run = tmp_path / "run"
    too_short = [x for x in rejects(run) if x["stage"] == "generate" and x["reason"] == "too_short"]
    assert too_short, "the fault produced no reject: the test would prove nothing"
    assert _accepted(run) == {g: cfg.groups[g].examples for g in cfg.active_groups()}
    m = manifest(run)
    assert m["stages"]["generate"]["items_committed"] > sum(cfg.groups[g].examples for g in cfg.active_groups())
    assert m["stages"]["generate"]["shortfall"] == {}
    assert "short of target" not in outcomes[-1].message
    # the stage's last line adds up: items = accepted + rejected + surplus (the surplus was left out)
    surplus = sum(x["stage"] == "generate" and x["reason"] == "surplus" for x in rejects(run))
    done, accepted, rejected, n = map(int, re.match(r"generate: (\d+)/\d+ items, (\d+) accepted, (\d+) rejected, "
                                                    r"(\d+) surplus", outcomes[-1].message).groups())
    assert done == accepted + rejected + n and n == surplus > 0


CONFIG = """
seed = 3
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 8
[groups.short-long]
tasks = 3
examples = 10
[groups.sts]
examples = 12
[generate]
max_rounds = 2
max_extra_share = {share}
[languages]
mode = "custom"
[languages.weights]
English = 1
[output]
shard_size = 7
"""


def _run(srv, tmp_path: Path, share: float, *args: str):
    """`synthgen run` of CONFIG against `srv` with this max_extra_share: (run dir, CLI result)."""
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(url=srv.base_url, share=share))
    run = tmp_path / "run"
    return run, CliRunner().invoke(app, ["run", "-c", str(path), "-o", str(run), "-q", *args])


def test_a_group_always_rejected_stops_at_the_round_bound_and_is_reported_short(make_server, tmp_path):
    srv = make_server(rate_copy_query=1.0)  # every short-long answer copies its query: rejected
    run, r = _run(srv, tmp_path, 5.0)
    assert r.exit_code == 0, r.output
    assert "short of target after the top-up rounds: short-long 0/10" in r.output
    assert _accepted(run) == {"sts": 12}
    m = manifest(run)
    assert m["stages"]["generate"]["shortfall"] == {"short-long": {"accepted": 0, "target": 10}}
    # the planned 10, then rounds sized by the accept rate floor (10%): 100, then the 10 left of
    # the 110 extra calls the share allows (5.0 x 22 planned)
    by_group = Counter(x["group"] for x in rejects(run) if x["stage"] == "generate")
    assert by_group["short-long"] == 10 + 100 + 10
    stats = CliRunner().invoke(app, ["stats", str(run), "--json"])
    assert json.loads(stats.stdout)["generate"]["shortfall"] == {"short-long": {"accepted": 0, "target": 10}}


def test_extra_calls_are_bounded_by_the_configured_share(make_server, tmp_path):
    srv = make_server(rate_copy_query=1.0)
    run, r = _run(srv, tmp_path, 0.5)
    assert r.exit_code == 0, r.output
    m = manifest(run)
    planned = 22
    assert m["stages"]["generate"]["items_committed"] == planned + 11  # floor(0.5 * 22) extra


def test_limit_keeps_its_meaning_no_top_up(make_server, tmp_path):
    srv = make_server(rate_copy_query=1.0)
    run, r = _run(srv, tmp_path, 5.0, "--limit", "6")
    assert r.exit_code == 0, r.output
    assert manifest(run)["stages"]["generate"]["items_committed"] == 6


KILL_CONFIG = """
seed = 9
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 4
[groups.sts]
examples = 60
[groups.bitext]
examples = 40
[generate]
max_rounds = 3
[output]
shard_size = 9
"""


def _final(run) -> tuple[list, list]:
    ex = sorted((x["id"], x["S1"]) for x in examples(run))
    rj = sorted((x["id"], x["reason"]) for x in rejects(run))
    return ex, rj


def test_sigkill_during_a_top_up_round_then_rerun_matches_an_uninterrupted_run(make_server, tmp_path):
    quick = make_server(rate_wrong_language=0.4)
    path = tmp_path / "c.toml"
    path.write_text(KILL_CONFIG.format(url=quick.base_url))
    ref = tmp_path / "ref"
    r = CliRunner().invoke(app, ["generate", "-c", str(path), "-o", str(ref), "-q"])
    assert r.exit_code == 0, r.output
    planned = 100
    assert manifest(ref)["stages"]["generate"]["items_committed"] > planned + 5

    slow = make_server(rate_wrong_language=0.4, latency_ms=60)
    path.write_text(KILL_CONFIG.format(url=slow.base_url))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "synthgen", "generate", "-c", str(path), "-o", str(run), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    # kill once the server has answered a few of round 1's requests (past the planned 100)
    while slow.app.state.by_status.get(200, 0) < planned + 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-500:]
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    answered_before = slow.app.state.by_status.get(200, 0)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]
    assert _final(run) == _final(ref)
    # bought twice: at most the requests in flight at the kill (concurrency 4)
    assert slow.app.state.snapshot()["repeated_requests"] <= 4
    assert slow.app.state.by_status.get(200, 0) >= answered_before
    for part in (run / "examples").glob("part-*.jsonl"):
        assert part.read_bytes().endswith(b"\n")
    assert read_jsonl(run / "examples") == read_jsonl(ref / "examples")


def test_estimate_shows_the_extra_calls_expected_at_a_reject_rate(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(url="http://127.0.0.1:9/v1", share=0.5))
    est = estimate_run(load_config(path), reject_rate=0.2)
    # 22 planned; at 20% rejects about 22 / 0.8 - 22 = 5.5 -> 6 more, within the 11 the share allows
    assert est["generate"]["topup_calls"] == 6
    est = estimate_run(load_config(path), reject_rate=0.9)
    assert est["generate"]["topup_calls"] == 11
    r = CliRunner().invoke(app, ["estimate", "-c", str(path), "--reject-rate", "0.2"])
    assert r.exit_code == 0, r.output
    assert "6 more calls" in r.output


def test_estimate_prints_the_batch_cost_beside_the_online_one(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(url="http://127.0.0.1:9/v1", share=0.5)
                    + "[prices.scripted]\ninput_per_1m = 1.0\noutput_per_1m = 2.0\n")
    est = estimate_run(load_config(path))
    assert est["cost_usd_max_batch"] == round(est["cost_usd_max"] / 2, 4) > 0
    r = CliRunner().invoke(app, ["estimate", "-c", str(path)])
    assert f"${est['cost_usd_max_batch']} in all" in r.output and f"${est['cost_usd_max']} in all" in r.output


STAGE1 = """
seed = 5
prompts_dir = "{prompts}"
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 4
[groups.short-long]
tasks = 45
examples = 2
[brainstorm]
max_rounds = {rounds}
[languages]
mode = "custom"
[languages.weights]
English = 1
"""


def _few_tasks_per_call(tmp_path, url: str, rounds: int):
    """`synthgen brainstorm` with a prompt asking for about 3 tasks a call, tasks_per_call 20: a
    model that answers with far fewer tasks than it is asked for. (run dir, CLI result)"""
    import shutil
    from synthgen.prompts import prompts_dir
    shutil.copytree(prompts_dir(), tmp_path / "p")
    template = tmp_path / "p" / "brainstorm" / "short-long.txt"
    template.write_text(template.read_text().replace("about {num_tasks} elements", "about 3 elements"))
    path = tmp_path / "c.toml"
    path.write_text(STAGE1.format(prompts=tmp_path / "p", url=url, rounds=rounds))
    run = tmp_path / "run"
    return run, CliRunner().invoke(app, ["brainstorm", "-c", str(path), "-o", str(run), "-q"])


def test_brainstorm_rounds_are_sized_by_the_tasks_a_call_yields_and_reach_the_quota(make_server, tmp_path):
    run, r = _few_tasks_per_call(tmp_path, make_server().base_url, 3)
    assert r.exit_code == 0, r.output
    assert "fewer distinct tasks" not in r.output
    assert len(read_jsonl(run / "tasks")) == 45
    assert manifest(run)["stages"]["brainstorm"]["shortfall"] == {}


def test_a_brainstorm_short_of_its_quota_is_in_run_json(make_server, tmp_path):
    run, r = _few_tasks_per_call(tmp_path, make_server().base_url, 0)
    assert r.exit_code == 0, r.output
    got = len(read_jsonl(run / "tasks"))
    assert got < 45 and f"short-long {got}/45" in r.output
    assert manifest(run)["stages"]["brainstorm"]["shortfall"] == {"short-long": {"accepted": got, "target": 45}}


def test_surplus_holds_only_examples_that_pass_the_checks(make_server, tmp_path):
    # most answers too short: a round sized by the low accept rate runs far past the target, and
    # the answers past it that fail a check are rejects, not "good examples past the target"
    from synthgen.validate import count_words, required_words
    srv = make_server(rate_short=0.7)
    run, r = _run(srv, tmp_path, 5.0)
    assert r.exit_code == 0, r.output
    surplus = [x for x in rejects(run) if x["stage"] == "generate" and x["reason"] == "surplus"]
    assert surplus and any(x["reason"] == "too_short" for x in rejects(run))
    for x in surplus:
        doc = "positive_document" if x["group"] == "short-long" else "S2"
        need = required_words(x["group"], doc, x["placeholders"]) or 0
        assert count_words(x["output"][doc]) >= need, x


def test_a_group_always_rejected_does_not_take_the_extra_calls_another_group_needs(make_server, tmp_path):
    # short-long accepts nothing (it would take all 22 extra calls the share allows: 10 / 10%);
    # sts lost a few answers and needs a few calls: it is served first and reaches its target
    srv = make_server(rate_copy_query=1.0, rate_wrong_language=0.3)
    run, r = _run(srv, tmp_path, 1.0)
    assert r.exit_code == 0, r.output
    assert any(x["group"] == "sts" and x["reason"] == "wrong_language" for x in rejects(run))
    assert _accepted(run) == {"sts": 12}
    assert manifest(run)["stages"]["generate"]["shortfall"] == {"short-long": {"accepted": 0, "target": 10}}
    assert manifest(run)["stages"]["generate"]["items_committed"] == 22 + 22
