"""Export of runs that are not one finished single-machine run: unfinished, and merged shards."""

from __future__ import annotations

import json
import subprocess
import sys

from synthgen.config import load_config
from synthgen.export import ExportOptions, export_run
from synthgen.merge import merge
from synthgen.pipeline import RunOptions, run_all, run_stage
from synthgen.plan import Shard

from export_helpers import read_lines, small_config


def synthgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, timeout=300)


def committed(run) -> list[dict]:
    """Records the journal says are committed: published parts, then the open part up to its offset."""
    import sqlite3

    out = []
    for path in sorted((run / "examples").glob("part-*.jsonl")):
        out += read_lines(path)
    db = sqlite3.connect(run / "journal" / "state.sqlite")
    part, offset = db.execute("SELECT part, offset FROM writers WHERE kind='examples'").fetchone()
    db.close()
    data = (run / "examples" / f"part-{part:05d}.jsonl.tmp").read_bytes()[:offset]
    return out + [json.loads(line) for line in data.splitlines()]


def stopped_run(tmp_path, base_url):
    """A run stopped by its request budget in stage 2, its only part still open."""
    cfg = load_config(small_config(tmp_path / "cfg.toml", base_url, sl=30, shard_size=100))
    run = tmp_path / "run"
    assert run_stage("brainstorm", cfg, RunOptions(out=run, quiet=True)).code == 0
    assert run_stage("generate", cfg, RunOptions(out=run, quiet=True, max_requests=20)).code == 3
    return run


def test_unfinished_run_is_refused_unless_allowed_then_read_up_to_the_last_commit(tmp_path, server):
    run = stopped_run(tmp_path, server.base_url)
    tmp_parts = list((run / "examples").glob("part-*.jsonl.tmp"))
    assert tmp_parts and not list((run / "examples").glob("part-*.jsonl")), "the open part holds everything"
    want = committed(run)
    assert want
    # a writer's lines past the committed offset (not yet committed, maybe torn) are never read
    late = dict(want[0], id="not-committed", user_query="NOT COMMITTED")
    with open(tmp_parts[0], "ab") as f:
        f.write((json.dumps(late) + "\n").encode() + b'{"id": "torn", "gro')

    r = synthgen("export", str(run), "--format", "flagembedding", "--out", str(tmp_path / "refused"))
    assert r.returncode == 2 and "--allow-partial" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "refused").exists()

    r = synthgen("export", str(run), "--format", "flagembedding", "--out", str(tmp_path / "fe"), "--allow-partial")
    assert r.returncode == 0, r.stderr
    export = json.loads((tmp_path / "fe" / "export.json").read_text())
    got = []
    for f in export["files"]:
        got += read_lines(tmp_path / "fe" / f["path"])
    assert len(got) == len(want) == export["examples"]["train"]
    assert "NOT COMMITTED" not in (tmp_path / "fe" / "train" / "short-long.jsonl").read_text()
    assert export["status"] != "complete"


def test_partial_export_is_the_journal_snapshot_while_a_writer_moves_on(tmp_path, server):
    """A live run may publish its open part, and open the next, while the export reads."""
    run = stopped_run(tmp_path, server.base_url)
    want = committed(run)
    (tmp_part,) = (run / "examples").glob("part-*.jsonl.tmp")
    with open(tmp_part, "a") as f:  # written, not committed
        f.write(json.dumps(dict(want[0], id="uncommitted", user_query="UNCOMMITTED")) + "\n")
    tmp_part.rename(tmp_part.with_suffix(""))  # published after the journal's offset was read
    later = dict(want[0], id="later", user_query="LATER PART")
    (run / "examples" / "part-00001.jsonl.tmp").write_text(json.dumps(later) + "\n")
    s = export_run(run, "sentence-transformers", tmp_path / "st", ExportOptions(allow_partial=True))
    assert s["examples"]["train"] == len(want)
    text = (tmp_path / "st" / "train" / "triplets.jsonl").read_text()
    assert "LATER PART" not in text and "UNCOMMITTED" not in text


def test_merged_shards_export_the_same_as_the_single_machine_run(tmp_path, make_server):
    srv = make_server(rate_near_duplicate=0.2)
    cfg = load_config(small_config(tmp_path / "cfg.toml", srv.base_url, sl=30))
    run_all(cfg, RunOptions(out=tmp_path / "single", quiet=True))
    parts = []
    for k in range(2):
        out = tmp_path / f"part{k}"
        assert run_stage("generate", cfg, RunOptions(out=out, quiet=True, shard=Shard(k, 2),
                                                     tasks_from=tmp_path / "single")).code == 0
        parts.append(out)
    merge(tmp_path / "merged", parts)
    opts = ExportOptions(eval_fraction=0.3, seed=5)
    for fmt in ("sentence-transformers", "flagembedding", "mteb", "parquet"):
        single = export_run(tmp_path / "single", fmt, tmp_path / f"x-single-{fmt}", opts)
        merged = export_run(tmp_path / "merged", fmt, tmp_path / f"x-merged-{fmt}", opts)
        assert single["examples"]["eval"] > 0
        assert [f["path"] for f in single["files"]] == [f["path"] for f in merged["files"]]
        for f in single["files"]:
            if f["path"].endswith("README.md"):  # the card names the shard ("0/1" or "merged")
                continue
            a = (tmp_path / f"x-single-{fmt}" / f["path"]).read_bytes()
            b = (tmp_path / f"x-merged-{fmt}" / f["path"]).read_bytes()
            if f["path"].endswith(".parquet"):
                import pyarrow.parquet as pq

                a = pq.read_table(tmp_path / f"x-single-{fmt}" / f["path"]).to_pylist()
                b = pq.read_table(tmp_path / f"x-merged-{fmt}" / f["path"]).to_pylist()
            assert a == b, (fmt, f["path"])


def test_merge_allow_partial_keeps_the_committed_examples_of_an_open_part(tmp_path, server):
    cfg = load_config(small_config(tmp_path / "cfg.toml", server.base_url, sl=30, shard_size=100))
    single = tmp_path / "single"
    run_all(cfg, RunOptions(out=single, quiet=True))
    p0, p1 = tmp_path / "p0", tmp_path / "p1"
    assert run_stage("generate", cfg, RunOptions(out=p0, quiet=True, shard=Shard(0, 2), tasks_from=single)).code == 0
    # shard 1 stopped by its budget: everything it committed is still in its open part
    assert run_stage("generate", cfg, RunOptions(out=p1, quiet=True, shard=Shard(1, 2), tasks_from=single,
                                                 max_requests=10)).code == 3
    want = committed(p1)
    assert want and not list((p1 / "examples").glob("part-*.jsonl"))
    r = synthgen("merge", str(tmp_path / "m"), str(p0), str(p1), "--allow-partial")
    assert r.returncode == 0, r.stderr
    ids = lambda run: {rec["id"] for path in (run / "examples").glob("part-*.jsonl")  # noqa: E731
                       for rec in read_lines(path)}
    assert ids(tmp_path / "m") == ids(p0) | {rec["id"] for rec in want}


def test_texts_with_unicode_line_separators_stay_one_row_a_line(tmp_path, make_server):
    """An engine's text with U+2028, U+2029 or NEL (\\x85): json.dumps leaves them raw, and str.splitlines()
    (the training example's reader, and many others) would cut the row there."""
    from typer.testing import CliRunner

    from synthgen.cli import app

    from helpers import examples
    from test_batch_offline import STANDIN

    cfg = tmp_path / "c.toml"
    cfg.write_text('seed = 21\n[llm]\nmodel = "scripted"\nbase_url = "http://127.0.0.1:9/v1"\n'
                   "[groups.sts]\nexamples = 6\n[output]\nshard_size = 16\n")
    run, outbox, cluster = tmp_path / "run", tmp_path / "outbox", make_server()
    for _ in range(6):
        r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"])
        assert r.exit_code == 0, r.output
        new = [p for p in outbox.glob("*.jsonl") if not p.name.endswith(".out.jsonl")
               and not p.with_suffix(".out.jsonl").exists()]
        if not new:
            break
        for req in new:
            out = req.with_suffix(".out.jsonl")
            subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(out), "--url", cluster.base_url],
                           check=True, timeout=120)
            lines = [json.loads(line) for line in out.read_text().splitlines()]
            for line in lines:
                msg = line["response"]["body"]["choices"][0]["message"]
                fields = json.loads(msg["content"])
                fields.update({k: fields[k].replace(" ", sep, 1) for k, sep in
                               (("S1", "\u2028"), ("S2", "\u2029"), ("S3", "\x85"))})
                msg["content"] = json.dumps(fields)
            out.write_text("".join(json.dumps(line) + "\n" for line in lines))
            r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), str(out)])
            assert r.exit_code == 0, r.output
    texts = {ex["S1"] for ex in examples(run)}
    assert texts and all("\u2028" in t for t in texts)
    for fmt in ("sentence-transformers", "flagembedding", "mteb"):
        summary = export_run(run, fmt, tmp_path / fmt, ExportOptions(eval_fraction=0.5))
        for f in summary["files"]:
            if f["path"].endswith(".jsonl"):
                lines = (tmp_path / fmt / f["path"]).read_text(encoding="utf-8").splitlines()
                assert len(lines) == f["rows"], f["path"]
                assert all(json.loads(line) for line in lines)
    queries = read_lines(tmp_path / "mteb" / "sts" / "queries.jsonl")
    assert {q["query"] for q in queries} <= texts
