"""`synthgen validate` (re-check without the LLM) and `synthgen merge` (join shards)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from synthgen.config import load_config
from synthgen.errors import RunError
from synthgen.pipeline import RunOptions, run_all, run_stage
from synthgen.plan import Shard
from synthgen.revalidate import revalidate
from synthgen.run_dir import load_tasks

from helpers import examples, manifest, read_jsonl, rejects


def synthgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, timeout=300)


def test_validate_with_tighter_rule_filters_a_copy(tmp_path, server, write_config):
    cfg = write_config(server.base_url, sl=20)
    run_all(load_config(cfg), RunOptions(out=tmp_path / "run", quiet=True))
    before = sorted(p.read_bytes() for p in (tmp_path / "run" / "examples").glob("*.jsonl"))
    n = len(examples(tmp_path / "run"))

    # same rules: everything passes, --check exits 0
    r = synthgen("validate", str(tmp_path / "run"), "--check", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["passed"] == n

    # documents must now be three times as long as asked: most short-long examples fail
    tight = write_config(server.base_url, name="tight.toml", sl=20,
                         extra="[validation]\nmin_words_ratio = 1.5\n")
    r = synthgen("validate", str(tmp_path / "run"), "--config", str(tight), "--out", str(tmp_path / "filtered"), "--check")
    assert r.returncode == 1
    kept = examples(tmp_path / "filtered")
    dropped = read_jsonl(tmp_path / "filtered" / "rejects")
    assert len(kept) + len(dropped) == n and dropped
    assert {d["reason"] for d in dropped} == {"too_short"}
    assert all(d["stage"] == "validate" for d in dropped)
    # the run itself is untouched, and no LLM call was made
    assert sorted(p.read_bytes() for p in (tmp_path / "run" / "examples").glob("*.jsonl")) == before



def test_the_filtered_copy_keeps_the_runs_shard_size(tmp_path, server, write_config):
    # its parts held up to 1000 records (one per commit batch) whatever output.shard_size said
    run_all(load_config(write_config(server.base_url, sl=20, shard_size=4)), RunOptions(out=tmp_path / "run", quiet=True))
    report = revalidate(tmp_path / "run", out=tmp_path / "copy")
    sizes = [len(p.read_text().splitlines()) for p in sorted((tmp_path / "copy" / "examples").glob("part-*.jsonl"))]
    assert sum(sizes) == report["passed"] > 8 and set(sizes[:-1]) == {4} and 0 < sizes[-1] <= 4, sizes

def test_the_filtered_copy_is_a_run_that_stats_export_merge_and_validate_read(tmp_path, server, write_config):
    run_all(load_config(write_config(server.base_url, sl=20)), RunOptions(out=tmp_path / "run", quiet=True))
    tight = write_config(server.base_url, name="tight.toml", sl=20,
                         extra="[validation]\nmin_words_ratio = 1.5\n")
    copy = tmp_path / "filtered"
    r = synthgen("validate", str(tmp_path / "run"), "--config", str(tight), "--out", str(copy))
    assert r.returncode == 0, r.stderr
    kept = len(examples(copy))
    r = synthgen("stats", str(copy), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["generate"]["accepted"] == kept and json.loads(r.stdout)["warnings"] == []
    r = synthgen("export", str(copy), "--format", "sentence-transformers", "--out", str(tmp_path / "st"))
    assert r.returncode == 0 and f"exported {kept} train" in r.stdout, r.stderr
    r = synthgen("merge", str(tmp_path / "merged"), str(copy))
    assert r.returncode == 0, r.stderr
    assert len(examples(tmp_path / "merged")) == kept
    # the copy carries the rules it was filtered with: re-checking it finds nothing to drop
    r = synthgen("validate", str(copy), "--check", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["passed"] == kept, r.stderr

def test_validate_refuses_existing_output(tmp_path, server, write_config):
    run_all(load_config(write_config(server.base_url)), RunOptions(out=tmp_path / "run", quiet=True))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    r = synthgen("validate", str(tmp_path / "run"), "--out", str(tmp_path / "busy"))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "busy" / "x").read_text() == "keep me"


def test_merge_of_shards_equals_single_machine_run(tmp_path, make_server, write_config):
    srv = make_server(rate_near_duplicate=0.2)
    cfg = load_config(write_config(srv.base_url, sl=40))
    run_all(cfg, RunOptions(out=tmp_path / "single", quiet=True))
    parts = []
    for k in range(3):
        out = tmp_path / f"part{k}"
        assert run_stage("generate", cfg, RunOptions(out=out, quiet=True, shard=Shard(k, 3),
                                                     tasks_from=tmp_path / "single")).code == 0
        parts.append(str(out))
    r = synthgen("merge", str(tmp_path / "merged"), *parts)
    assert r.returncode == 0, r.stderr
    merged = examples(tmp_path / "merged")
    single = examples(tmp_path / "single")
    assert [m["id"] for m in merged] == [s["id"] for s in single]
    ids = [m["id"] for m in merged]
    assert len(ids) == len(set(ids))
    # every generate item is accounted for, once, as an example or a reject
    gen_rejects = [r for r in rejects(tmp_path / "merged") if r["stage"] in ("generate", "merge")]
    assert len(merged) + len(gen_rejects) == 40 + 6 + 3 + 3 + 4 + 4



def test_a_merged_run_json_carries_stage_1_and_the_parts_costs(tmp_path, server, write_config):
    # each CI job ran `synthgen run --shard K/2` (its own stage 1): stats of the merge read
    # "brainstorm: not started" and run.json's cost_by_model was {}
    extra = "[prices.scripted]\ninput_per_1m = 1.0\noutput_per_1m = 2.0\n"
    cfg = load_config(write_config(server.base_url, extra=extra))
    for k in range(2):
        assert [o.code for o in run_all(cfg, RunOptions(out=tmp_path / f"p{k}", quiet=True, shard=Shard(k, 2)))] == [0, 0]
    r = synthgen("merge", str(tmp_path / "m"), str(tmp_path / "p0"), str(tmp_path / "p1"))
    assert r.returncode == 0, r.stderr
    parts, merged = [manifest(tmp_path / f"p{k}") for k in range(2)], manifest(tmp_path / "m")
    assert merged["stages"]["brainstorm"]["status"] == "complete"
    assert merged["cost_by_model"]["scripted"] == pytest.approx(sum(m["cost_by_model"]["scripted"] for m in parts))
    assert merged["cost_usd"] > 0 and merged["cost_usd"] == pytest.approx(sum(m["cost_usd"] for m in parts))
    assert "brainstorm: complete" in synthgen("stats", str(tmp_path / "m")).stdout


def test_a_merged_run_reports_the_groups_its_shards_left_short(tmp_path, make_server, write_config):
    srv = make_server(rate_short=0.5)
    cfg = load_config(write_config(srv.base_url, sl=12, extra="[generate]\nmax_rounds = 0\n"))
    assert run_stage("brainstorm", cfg, RunOptions(out=tmp_path / "b", quiet=True)).code == 0
    parts = [tmp_path / f"p{k}" for k in range(2)]
    for k, out in enumerate(parts):
        opts = RunOptions(out=out, quiet=True, shard=Shard(k, 2), tasks_from=tmp_path / "b")
        assert run_stage("generate", cfg, opts).code == 0
    r = synthgen("merge", str(tmp_path / "m"), *map(str, parts))
    assert r.returncode == 0, r.stderr
    got = Counter(x["group"] for x in examples(tmp_path / "m"))
    short = {g: {"accepted": got[g], "target": cfg.groups[g].examples}
             for g in cfg.active_groups() if got[g] < cfg.groups[g].examples}
    merged = json.loads((tmp_path / "m" / "run.json").read_text())
    assert short and merged["stages"]["generate"]["shortfall"] == short
    line = ", ".join(f"{g} {v['accepted']}/{v['target']}" for g, v in short.items())
    assert f"short of target: {line}" in r.stdout
    r = synthgen("stats", str(tmp_path / "m"))
    assert r.returncode == 0 and r.stdout.count("short of target:") == len(short), r.stdout
    assert "elapsed None" not in r.stdout

def test_merge_refuses_incomplete_or_mixed_parts(tmp_path, make_server, write_config):
    srv = make_server()
    cfg = load_config(write_config(srv.base_url))
    run_all(cfg, RunOptions(out=tmp_path / "single", quiet=True))
    run_stage("generate", cfg, RunOptions(out=tmp_path / "p0", quiet=True, shard=Shard(0, 2), tasks_from=tmp_path / "single"))
    r = synthgen("merge", str(tmp_path / "m"), str(tmp_path / "p0"))
    assert r.returncode == 2 and "missing" in r.stderr
    other = load_config(write_config(srv.base_url, name="other.toml", seed=99))
    run_all(other, RunOptions(out=tmp_path / "o", quiet=True, shard=Shard(1, 2)))
    r = synthgen("merge", str(tmp_path / "m"), str(tmp_path / "p0"), str(tmp_path / "o"))
    assert r.returncode == 2 and "different configs" in r.stderr


def test_merge_refuses_a_merged_run_as_a_part_in_one_line(tmp_path, server, write_config):
    cfg = load_config(write_config(server.base_url))
    run_all(cfg, RunOptions(out=tmp_path / "single", quiet=True))
    assert synthgen("merge", str(tmp_path / "m"), str(tmp_path / "single")).returncode == 0
    for more in ([], [str(tmp_path / "single")]):  # a merged run alone, or beside a shard
        r = synthgen("merge", str(tmp_path / "again"), str(tmp_path / "m"), *more)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.strip() == f"synthgen: error: {tmp_path / 'm'} is a merged run, not a shard: merge the shards it was made from"


def test_merge_refuses_shards_generated_from_different_stage_1_tasks(tmp_path, make_server, write_config):
    # the same config brainstormed twice (each CI job its own `run --shard`): two task lists
    servers = (make_server(), make_server(rate_repeat_task=0.5))
    cfgs = [load_config(write_config(s.base_url, name=f"c{i}.toml")) for i, s in enumerate(servers)]
    for i, cfg in enumerate(cfgs):
        assert run_stage("brainstorm", cfg, RunOptions(out=tmp_path / f"b{i}", quiet=True)).code == 0
    assert load_tasks(tmp_path / "b0") != load_tasks(tmp_path / "b1")
    for k in range(2):
        opts = RunOptions(out=tmp_path / f"p{k}", quiet=True, shard=Shard(k, 2), tasks_from=tmp_path / f"b{k}")
        assert run_stage("generate", cfgs[0], opts).code == 0
    r = synthgen("merge", str(tmp_path / "m"), str(tmp_path / "p0"), str(tmp_path / "p1"))
    assert r.returncode == 2 and "different stage 1 tasks" in r.stderr, r.stderr
    assert not (tmp_path / "m").exists()
    # a shard resumed with another task list than it started from would mix the two
    with pytest.raises(RunError, match="not the ones this run's stage 2 started from"):
        run_stage("generate", cfgs[0], RunOptions(out=tmp_path / "p1", quiet=True, shard=Shard(1, 2),
                                                  tasks_from=tmp_path / "b0"))


def _sts_run(run, n: int, copies: dict[int, int]) -> None:
    """A run directory of n distinct STS examples; copies[i] = j makes example i repeat example j."""
    from synthgen.config import RunConfig

    cfg = RunConfig.model_validate({"groups": {"sts": {"examples": n}},
                                    "languages": {"mode": "custom", "weights": {"English": 1}}})
    (run / "examples").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": cfg.model_dump(mode="json")}))
    rows = []
    for i in range(n):
        j = copies.get(i, i)
        rows.append({"id": f"generate-{i}", "group": "sts", "task": "Retrieve semantically similar text.",
                     "placeholders": {"language": "English", "unit": "sentence", "high_score": "4.5",
                                      "low_score": "2.5", "difficulty": "college"},
                     "S1": f"The harbour of town number {j} reopened after the winter storms had passed.",
                     "S2": f"After the storms, the harbour in town {j} was opened again to all boats.",
                     "S3": f"Town {j} is known for a museum of old clocks and a quiet market square.",
                     "model": "scripted", "item_index": i, "attempts": 1, "flags": [], "langid": "ok"})
    (run / "examples" / "part-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_validate_finds_a_duplicate_across_its_commit_batches(tmp_path):
    # validate commits its dedup state every 1000 records (memory stays flat): a copy made far
    # after the example it repeats is still caught, and nothing else is
    from synthgen.revalidate import COMMIT_EVERY

    n = COMMIT_EVERY + 300
    _sts_run(tmp_path / "run", n, {COMMIT_EVERY + 150: 3})
    r = synthgen("validate", str(tmp_path / "run"), "--json", "--out", str(tmp_path / "copy"))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["checked"] == n and report["failed_by_reason"] == {"duplicate": 1}
    (dup,) = read_jsonl(tmp_path / "copy" / "rejects")
    assert dup["id"] == f"generate-{COMMIT_EVERY + 150}" and dup["duplicate_of"] == "generate-3"
    assert len(examples(tmp_path / "copy")) == n - 1
