"""The whole pipeline against the scripted server, through the real openai SDK."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgen.cli import app
from synthgen.config import load_config
from synthgen.pipeline import RunOptions, run_all, run_stage
from synthgen.plan import Shard
from synthgen.taxonomy import GROUPS

from helpers import examples, manifest, read_jsonl, rejects


def _run(cfg_path: Path, out: Path, **kw):
    cfg = load_config(cfg_path)
    return run_all(cfg, RunOptions(out=out, quiet=True, **kw))


def test_full_run_writes_every_group_with_provenance(server, write_config, tmp_path):
    outcomes = _run(write_config(server.base_url), tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    recs = examples(tmp_path / "run")
    assert {r["group"] for r in recs} == set(GROUPS)
    for r in recs:
        for key in GROUPS[r["group"]].output_keys:
            assert isinstance(r[key], str) and r[key].strip()
        assert r["model"] == "scripted" and r["id"] and r["task"]
        assert r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0
        if r["group"] == "bitext":
            assert r["placeholders"]["src_lang"] != r["placeholders"]["tgt_lang"]
        if GROUPS[r["group"]].brainstorm:
            assert "language" in r["placeholders"]
    m = manifest(tmp_path / "run")
    gen = m["stages"]["generate"]
    assert gen["status"] == "complete"
    assert gen["items_committed"] == 10 + 6 + 3 + 3 + 4 + 4
    assert gen["accepted"] == len(recs)
    assert gen["accepted"] + gen["rejected"] == gen["items_committed"]
    assert m["tokens"]["responses"] == server.requests
    tasks = read_jsonl(tmp_path / "run" / "tasks")
    assert {t["group"] for t in tasks} == {"short-long", "long-short", "short-short", "long-long"}
    assert len(tasks) == 4 + 3 + 2 + 2
    # no in-progress files are left once a stage completes
    assert not list((tmp_path / "run").glob("*/*.tmp"))


def test_same_config_same_output(make_server, write_config, tmp_path):
    a, b = make_server(), make_server()
    _run(write_config(a.base_url, name="a.toml"), tmp_path / "a")
    _run(write_config(b.base_url, name="b.toml"), tmp_path / "b")
    strip = lambda recs: [{k: v for k, v in r.items()} for r in recs]  # noqa: E731
    assert strip(examples(tmp_path / "a")) == strip(examples(tmp_path / "b"))


def test_shards_rotate_at_exact_size(server, write_config, tmp_path):
    _run(write_config(server.base_url, shard_size=7), tmp_path / "run")
    parts = sorted((tmp_path / "run" / "examples").glob("part-*.jsonl"))
    sizes = [sum(1 for _ in open(p)) for p in parts]
    assert all(s == 7 for s in sizes[:-1]) and 1 <= sizes[-1] <= 7


def test_limit_then_resume_equals_full_run(make_server, write_config, tmp_path):
    full_srv, part_srv = make_server(), make_server()
    _run(write_config(full_srv.base_url, name="f.toml"), tmp_path / "full")
    cfg = write_config(part_srv.base_url, name="p.toml")
    _run(cfg, tmp_path / "part", limit=5)
    assert manifest(tmp_path / "part")["stages"]["generate"]["items_committed"] == 5
    assert manifest(tmp_path / "part")["stages"]["generate"]["status"] == "partial"
    _run(cfg, tmp_path / "part")
    assert examples(tmp_path / "part") == examples(tmp_path / "full")
    # nothing was requested twice
    assert part_srv.stats()["repeated_requests"] == 0
    assert part_srv.requests == full_srv.requests


def test_rerun_of_finished_run_requests_nothing(server, write_config, tmp_path):
    cfg = write_config(server.base_url)
    _run(cfg, tmp_path / "run")
    before = server.requests
    outcomes = _run(cfg, tmp_path / "run")
    assert all(o.code == 0 for o in outcomes)
    assert server.requests == before


def test_changed_config_is_refused_unless_forced(server, write_config, tmp_path):
    from synthgen.pipeline import RunError

    _run(write_config(server.base_url), tmp_path / "run", limit=3)
    changed = write_config(server.base_url, name="changed.toml", seed=8)
    with pytest.raises(RunError, match="different config.*seed"):
        _run(changed, tmp_path / "run")
    # throughput settings may change freely
    _run(write_config(server.base_url, name="faster.toml", concurrency=3), tmp_path / "run", limit=4)
    outcomes = _run(changed, tmp_path / "run", force=True)
    assert outcomes[-1].code == 0


def test_shards_split_the_plan_disjointly(make_server, write_config, tmp_path):
    srv = make_server()
    cfg = write_config(srv.base_url)
    _run(cfg, tmp_path / "full")
    stage1 = tmp_path / "full"
    for k in range(3):
        o = run_stage("generate", load_config(cfg), RunOptions(out=tmp_path / f"s{k}", quiet=True,
                                                               shard=Shard(k, 3), tasks_from=stage1))
        assert o.code == 0
    parts = [examples(tmp_path / f"s{k}") + rejects(tmp_path / f"s{k}") for k in range(3)]
    ids = [{r["id"] for r in p} for p in parts]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    full_ids = {r["id"] for r in examples(stage1) + rejects(stage1) if r.get("stage", "generate") == "generate"}
    assert ids[0] | ids[1] | ids[2] == full_ids


def test_transient_faults_are_retried(make_server, write_config, tmp_path):
    srv = make_server(rate_429=0.3, rate_500=0.2, retry_after=0.01)
    outcomes = _run(write_config(srv.base_url), tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    m = manifest(tmp_path / "run")
    assert m["stages"]["generate"]["items_committed"] == 30
    assert "request_failed" not in m["stages"]["generate"]["rejected_by_reason"]
    assert srv.stats()["by_status"].get("429", 0) > 0


def test_hung_request_times_out_and_is_retried(make_server, write_config, tmp_path):
    srv = make_server(rate_hang=0.1, hang_seconds=30)
    cfg = write_config(srv.base_url, timeout=1)
    outcomes = _run(cfg, tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    assert manifest(tmp_path / "run")["stages"]["generate"]["items_committed"] == 30


def test_cut_answers_are_retried_then_rejected_with_reason(make_server, write_config, tmp_path):
    srv = make_server(rate_length=1.0)
    outcomes = _run(write_config(srv.base_url), tmp_path / "run")
    assert len(outcomes) == 1 and outcomes[0].code == 1 and "no usable task" in outcomes[0].message
    rej = [r for r in rejects(tmp_path / "run") if r["stage"] == "brainstorm"]
    assert rej and all(r["reason"] == "truncated" for r in rej)
    # 1 attempt + max_output_retries (2) per item, every one journaled; one call per group and
    # then max_rounds (3) top-up rounds for the groups still without tasks
    assert all(r["attempts"] == 3 for r in rej)
    assert len(rej) == 4 * (1 + 3)
    assert srv.requests == 4 * (1 + 3) * 3


def test_server_without_json_schema_falls_back(make_server, write_config, tmp_path):
    srv = make_server(json_schema=False)
    outcomes = _run(write_config(srv.base_url), tmp_path / "run")
    assert [o.code for o in outcomes] == [0, 0]
    assert len(examples(tmp_path / "run")) > 20


def test_bad_outputs_land_in_rejects_with_reasons(make_server, write_config, tmp_path):
    srv = make_server(rate_short=0.3, rate_copy_query=0.3, rate_truncate=0.2)
    cfg = write_config(srv.base_url, sl=30, extra="")
    _run(cfg, tmp_path / "run")
    # surplus: good examples past a group's target in a top-up round (not defects)
    rej = [r for r in rejects(tmp_path / "run") if r["stage"] == "generate" and r["reason"] != "surplus"]
    reasons = {r["reason"] for r in rej}
    assert "too_short" in reasons and "copied_query" in reasons
    for r in rej:
        assert r["detail"] and (r.get("output") is not None or r.get("raw") is not None)
    m = manifest(tmp_path / "run")["stages"]["generate"]
    assert sum(m["rejected_by_reason"].values()) == len(rej)
    assert m["accepted"] == len(examples(tmp_path / "run"))


def test_api_key_never_written(make_server, write_config, tmp_path, monkeypatch):
    secret = "sk-test-SECRET-value-123456"
    srv = make_server(api_key=secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    _run(write_config(srv.base_url), tmp_path / "run")
    assert len(examples(tmp_path / "run")) > 0
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_exact_duplicates_rejected_and_survive_resume(make_server, write_config, tmp_path):
    srv = make_server(rate_near_duplicate=0.0)
    cfg_path = write_config(srv.base_url)
    cfg = load_config(cfg_path)
    run_all(cfg, RunOptions(out=tmp_path / "run", quiet=True, limit=6))
    # feed a record back through the checks over the reopened journal: the same example, in
    # other case and spacing, must be refused as a copy of the first
    from synthgen.journal import Journal
    from synthgen.quality.checks import ExampleChecker

    first = examples(tmp_path / "run")[0]
    again = {k: "  " + first[k].upper() + " " for k in GROUPS[first["group"]].output_keys}
    j = Journal(tmp_path / "run")
    verdict = ExampleChecker(cfg.validation.rules_for_checks(), j).check_example(
        first["group"], again, first["placeholders"], "other")
    assert verdict.finding is not None and verdict.finding.reason == "duplicate"
    assert verdict.duplicate_of == first["id"]
    j.close()


def test_outage_stops_the_run_and_a_rerun_finishes_it(make_server, write_config, tmp_path):
    clean, flaky = make_server(), make_server(rate_500=0.3)
    _run(write_config(clean.base_url, name="c.toml"), tmp_path / "clean")
    cfg = write_config(flaky.base_url, name="f.toml", max_attempts=1)
    outcomes = _run(cfg, tmp_path / "run")
    assert outcomes[-1].code == 1 and "rerun the same command" in outcomes[-1].message
    # nothing was rejected for the outage: the failed items are simply not done yet
    assert all(r["reason"] != "request_failed" for r in rejects(tmp_path / "run"))
    for _ in range(5):
        outcomes = _run(cfg, tmp_path / "run")
        if outcomes[-1].code == 0:
            break
    assert outcomes[-1].code == 0
    assert examples(tmp_path / "run") == examples(tmp_path / "clean")


def test_unreachable_endpoint_fails_with_one_clear_message(write_config, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = write_config(f"http://127.0.0.1:{port}/v1", max_attempts=2)
    outcomes = _run(cfg, tmp_path / "run")
    assert outcomes[-1].code == 1
    assert "connection error" in outcomes[-1].message and "still failing" in outcomes[-1].message


def test_server_without_usage_gets_offline_token_estimates(make_server, write_config, tmp_path):
    srv = make_server(usage=False)
    _run(write_config(srv.base_url), tmp_path / "run")
    gen = manifest(tmp_path / "run")["stages"]["generate"]["tokens"]
    assert gen["responses"] == 30 and gen["estimated_usage_responses"] == 30
    assert gen["prompt_tokens"] > 30 * 100 and gen["completion_tokens"] > 30 * 10
    rec = examples(tmp_path / "run")[0]
    assert rec["usage"]["prompt_tokens"] > 100
    # and `stats` says the figures are estimates, not the server's
    assert manifest(tmp_path / "run")["tokens"]["estimated_usage_responses"] == 30 + manifest(tmp_path / "run")[
        "stages"]["brainstorm"]["tokens"]["estimated_usage_responses"]
    out = CliRunner().invoke(app, ["stats", str(tmp_path / "run")], env={"COLUMNS": "200"}).stdout
    assert re.search(r"in \d+ responses \(\d+ without the server's usage: counted here\)", out), out


def test_edited_prompt_template_is_a_config_change(server, write_config, tmp_path):
    import shutil

    from synthgen.pipeline import RunError
    from synthgen.prompts import prompts_dir

    mine = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), mine)
    cfg = write_config(server.base_url, extra=f'prompts_dir = "{mine}"\n'.replace("\\", "/"))
    # prompts_dir is a top-level key: put it before the first table
    text = cfg.read_text()
    cfg.write_text(f'prompts_dir = "{mine}"\n' + text.replace(f'prompts_dir = "{mine}"\n', ""))
    _run(cfg, tmp_path / "run", limit=3)
    path = mine / "generate" / "sts.txt"
    path.write_text(path.read_text() + "\nKeep it short.\n")
    with pytest.raises(RunError, match="prompts/generate/sts|generate/sts"):
        _run(cfg, tmp_path / "run")


def test_shards_made_with_copies_of_the_prompts_at_other_paths_merge(server, write_config, tmp_path):
    """Two machines hold the same edited templates under different paths: the shards are one run."""
    import shutil

    from synthgen.merge import merge
    from synthgen.prompts import prompts_dir

    first = write_config(server.base_url)
    _run(first, tmp_path / "stage1")
    for k, where in enumerate(("alice", "bob")):
        shutil.copytree(prompts_dir(), tmp_path / where / "prompts")
        cfg = tmp_path / f"{where}.toml"
        cfg.write_text(f'prompts_dir = "{tmp_path / where / "prompts"}"\n'.replace("\\", "/") + first.read_text())
        outcomes = _run(cfg, tmp_path / f"part-{k}", shard=Shard(k, 2), tasks_from=tmp_path / "stage1")
        assert [o.code for o in outcomes] == [0]
    merge(tmp_path / "merged", [tmp_path / "part-0", tmp_path / "part-1"])  # refused before
    assert len(examples(tmp_path / "merged")) == len(examples(tmp_path / "stage1"))


def test_endpoint_refusing_every_request_stops_the_run(make_server, write_config, tmp_path):
    # a server that rejects the JSON-schema format is handled; one that rejects everything else
    # (here: an unknown parameter in extra_body) must stop the run, not reject every item
    srv = make_server()
    cfg = write_config(srv.base_url)
    cfg.write_text(cfg.read_text().replace("max_attempts = 6", 'max_attempts = 6\nextra_body = { stream = true }'))
    outcomes = _run(cfg, tmp_path / "run")
    assert outcomes[-1].code == 1 and "refused before any worked" in outcomes[-1].message
    assert srv.requests < 10


def test_settling_the_heap_collects_start_up_garbage_before_freezing_the_rest():
    # the run's collections skip start-up's objects, but garbage left by start-up (a cycle
    # nobody holds) is freed first, not frozen for the life of the process
    import gc
    import weakref

    from synthgen.pipeline import settle_heap

    class Node:
        pass

    lost = Node()
    lost.me = lost  # a cycle: only a collection frees it
    gone = weakref.ref(lost)
    del lost
    frozen_before = gc.get_freeze_count()
    try:
        settle_heap()
        assert gone() is None
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()


def test_once_an_item_fails_every_attempt_the_items_behind_it_send_nothing(make_server, write_config, tmp_path):
    # the run stops on the first item still failing: the launched items waiting for a slot or a
    # retry used to spend all their attempts too (with a hanging server, timeout_s each: hours)
    import asyncio

    from aiohttp import web

    from helpers_http import serve_app

    calls = []

    async def down(request: web.Request) -> web.Response:
        calls.append(1)
        await asyncio.sleep(0.3)  # slow to fail, as a gateway timing out is
        return web.json_response({"error": {"message": "upstream down"}}, status=503)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", down)
    run = tmp_path / "run"
    ok = write_config(make_server().base_url, name="ok.toml", concurrency=2, max_attempts=2)
    assert run_stage("brainstorm", load_config(ok), RunOptions(out=run, quiet=True)).code == 0
    with serve_app(app) as url:
        cfg = write_config(url, name="down.toml", concurrency=2, max_attempts=2)
        outcome = run_stage("generate", load_config(cfg), RunOptions(out=run, quiet=True))
    assert outcome.code == 1 and "503" in outcome.message and "rerun the same command" in outcome.message
    assert len(calls) < 20  # the 30 items of the plan, two attempts each, were 60


def test_an_edited_template_that_fixes_a_value_is_not_checked_against_the_sampled_one(
        server, write_config, tmp_path):
    """A user's template asking for English and 30 words: answers are judged by that prompt, not
    rejected as too short for a sampled num_words (or in the wrong language) it never stated."""
    import shutil

    from synthgen.prompts import prompts_dir

    mine = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), mine)
    path = mine / "generate" / "short-long.txt"
    path.write_text(path.read_text().replace("{num_words}", "30").replace("{language}", "English"))
    cfg = write_config(server.base_url)
    cfg.write_text(f'prompts_dir = "{mine}"\n'.replace("\\", "/") + cfg.read_text())
    _run(cfg, tmp_path / "run")
    recs = [r for r in examples(tmp_path / "run") if r["group"] == "short-long"]
    assert len(recs) == 10
    assert all(set(r["placeholders"]) == {"query_type", "query_length", "clarity", "difficulty"} for r in recs)
    assert not [r for r in rejects(tmp_path / "run") if r["group"] == "short-long" and r["stage"] == "generate"]
