"""A run that crosses to a cluster and back: requests exported as batch input files, answered by
a stand-in for vLLM's run_batch, ingested, committed: the same examples as an online run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from synthgen.batch.ingest import ingest_lines
from synthgen.cli import app
from synthgen.journal import Journal

from helpers import read_jsonl

CONFIG = """
seed = 21
[llm]
model = "scripted"
base_url = "{url}"
concurrency = 8
[groups.sts]
examples = 30
[groups.bitext]
examples = 20
[output]
shard_size = 16
"""

STANDIN = Path(__file__).parent / "standins" / "run_batch.py"


def _records(run: Path) -> tuple[list, list]:
    key = lambda r: r["id"]  # noqa: E731
    return sorted(read_jsonl(run / "examples"), key=key), sorted(read_jsonl(run / "rejects"), key=key)


def test_export_answer_elsewhere_ingest_commit_equals_the_online_run(make_server, tmp_path):
    online_srv = make_server(rate_truncate=0.2, rate_wrong_language=0.1)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=online_srv.base_url))
    ref = tmp_path / "ref"
    r = CliRunner().invoke(app, ["generate", "-c", str(cfg), "-o", str(ref), "-q"])
    assert r.exit_code == 0, r.output

    # the cluster: its own server; synthgen's endpoint is not reachable from here (nothing is sent)
    cluster = make_server(rate_truncate=0.2, rate_wrong_language=0.1)
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9/v1"))
    run, outbox = tmp_path / "run", tmp_path / "outbox"
    waves = 0
    while True:
        r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"])
        assert r.exit_code == 0, r.output
        if "requests written to" not in r.output:
            break
        waves += 1
        assert waves <= 12, r.output
        new = sorted(p for p in outbox.glob("*.jsonl") if not p.name.endswith(".out.jsonl")
                     and not p.with_suffix(".out.jsonl").exists())
        assert new, r.output
        for req in new:
            subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(req.with_suffix(".out.jsonl")),
                            "--url", cluster.base_url], check=True, timeout=120)
        r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run),
                                     *[str(p.with_suffix(".out.jsonl")) for p in new]])
        assert r.exit_code == 0, r.output
        assert "journaled" in r.output
        assert "run `synthgen batch-export --stage" in r.output  # the next step of this workflow
    assert waves >= 2, "truncated answers should have needed a second wave"
    assert "generate: " in r.output and "accepted" in r.output
    assert _records(run) == _records(ref)
    # every request line the cluster answered was distinct: nothing exported twice
    assert cluster.app.state.snapshot()["repeated_requests"] == 0


def test_ingest_journals_answers_and_counts_the_usage_an_engine_left_out(tmp_path):
    journal = Journal(tmp_path)
    answer = {"choices": [{"message": {"content": "hello world"}, "finish_reason": "stop"}], "model": "m"}
    counted = {**answer, "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    answers = [(200, answer), (200, counted), (400, {"error": {"message": "no"}}), (503, None)]
    lines = [orjson.dumps({"custom_id": f"g{n}-0", "response": {"status_code": status, "body": body}})
             for n, (status, body) in enumerate(answers)] + [b"not json"]
    counts = ingest_lines(journal, lines, "generate", "file:out.jsonl", "gpt-4o")
    assert counts == {"answered": 2, "refused": 1, "failed": 1, "unknown": 1}
    # the answer without usage: its 2 completion tokens counted here, no prompt tokens, marked estimated
    assert journal.token_totals()["generate"] == {
        "responses": 2, "prompt_tokens": 9, "completion_tokens": 6, "estimated_usage_responses": 1}
    assert [r.content for r in journal.responses_for("g0")] == ["hello world"]
    journal.close()


def test_garbled_answers_in_an_output_file_are_counted_not_a_crash(tmp_path):
    # an engine's output file damaged or written by a server with its own ideas of the format
    journal = Journal(tmp_path)
    bodies = [
        {"choices": {"0": {"message": {"content": "x"}}}},  # choices not a list: not an answer
        {"choices": ["just text"]},  # nor this
        {"choices": [{"message": "hello", "finish_reason": 7}], "model": ["m"]},  # a message that is not an object
        {"choices": [{"message": {"content": "hello world"}}], "usage": ["9", "4"]},  # garbled usage
        {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": "9", "completion_tokens": -1}},
    ]
    lines = [orjson.dumps({"custom_id": f"g{n}-0", "response": {"status_code": 200, "body": body}})
             for n, body in enumerate(bodies)]
    counts = ingest_lines(journal, lines, "generate", "file:out.jsonl", "gpt-4o")
    assert counts == {"answered": 3, "failed": 2}
    assert [r.content for r in journal.responses_for("g2")] == [None]  # journaled; the commit asks again
    totals = journal.token_totals()["generate"]
    assert totals["responses"] == 3 and totals["prompt_tokens"] == 0 and totals["estimated_usage_responses"] == 3
    journal.close()


def test_answers_of_another_stage_are_refused_not_journaled_under_this_one(make_server, tmp_path):
    # brainstorm's answers ingested without --stage brainstorm (generate is the default)
    cluster = make_server()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9/v1").replace("[groups.sts]", "[groups.short-short]\n"
                                                                      "tasks = 2\nexamples = 2\n[groups.sts]"))
    run, outbox = tmp_path / "run", tmp_path / "outbox"
    export = ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "--stage", "brainstorm", "-q"]
    assert CliRunner().invoke(app, export).exit_code == 0
    (req,) = outbox.glob("*.jsonl")
    answers = tmp_path / "answers.jsonl"
    subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(answers), "--url", cluster.base_url],
                   check=True, timeout=120)
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), str(answers)])
    assert r.exit_code == 2 and "no answer in" in r.output and "--stage generate" in r.output, r.output
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), "--stage", "brainstorm",
                                 str(answers)])
    assert r.exit_code == 0 and "journaled 1 answers" in r.output, r.output
    r = CliRunner().invoke(app, export)
    assert r.exit_code == 0 and "brainstorm: 1/1 items" in r.output, r.output


def test_an_export_dir_that_cannot_be_written_is_one_line_and_the_rerun_exports_sends_nothing(server, tmp_path):
    # a file where --dir should be was a FileExistsError traceback; the rerun with a usable --dir
    # then uploaded the wave written before it to the endpoint as a Batch API job
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=server.base_url))
    run, in_the_way = tmp_path / "run", tmp_path / "outbox"
    in_the_way.write_text("notes\n")
    r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(in_the_way), "-q"])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.exception
    assert "cannot write to --dir" in r.stderr and in_the_way.read_text() == "notes\n"
    outbox = tmp_path / "outbox2"
    r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"])
    assert r.exit_code == 0 and "requests written to" in r.output, r.output
    assert len(list(outbox.glob("*.jsonl"))) == 1 and server.requests == 0
    assert server.app.state.snapshot()["batches"]["file_uploads"] == 0


def test_ingest_into_a_directory_that_exported_nothing_is_refused_and_creates_nothing(server, tmp_path):
    # a mistyped --out made a new run directory and reported success (0 answers journaled)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url=server.base_url))
    results = tmp_path / "results.jsonl"
    results.write_text('{"custom_id": "x", "response": {"status_code": 200, "body": {}}}\n')
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(tmp_path / "typo"), str(results)])
    assert r.exit_code == 2 and "not a run that batch-export wrote to" in r.stderr
    assert not (tmp_path / "typo").exists()
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(tmp_path / "typo"), str(tmp_path)])
    assert r.exit_code == 2 and "not a file" in r.stderr


def test_an_export_for_a_base_url_the_sdk_cannot_parse_is_one_line_exit_2(tmp_path):
    # batch-export sends nothing and so checked no URL: a typo'd address was an InvalidURL traceback
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url="http://10.0.0.256:8000/v1"))
    r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(tmp_path / "run"), "--stage",
                                 "brainstorm", "--dir", str(tmp_path / "outbox"), "-q"])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.exception
    assert "llm.base_url 'http://10.0.0.256:8000/v1' is not a valid URL" in r.stderr


def test_an_answer_line_over_the_cap_is_rejected_as_online_not_journaled(make_server, tmp_path):
    # online, an answer over llm.max_response_bytes is not read and its item is rejected; an engine's
    # output line of that size was journaled and checked whole (50 MB: 60 s, 2.7 GB of memory)
    cluster = make_server()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9/v1").replace("concurrency = 8",
                                                                      "max_response_bytes = 65536"))
    run, outbox = tmp_path / "run", tmp_path / "outbox"
    r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"])
    assert r.exit_code == 0 and "requests written to" in r.output, r.output
    results = []
    for req in sorted(outbox.glob("*.jsonl")):
        out = req.with_suffix(".out.jsonl")
        subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(out), "--url", cluster.base_url],
                       check=True, timeout=120)
        results.append(out)
    lines = results[0].read_bytes().splitlines()
    huge = orjson.loads(lines[0])
    message = huge["response"]["body"]["choices"][0]["message"]
    message["content"] = message["content"] + " " * 100_000
    results[0].write_bytes(b"\n".join([orjson.dumps(huge), *lines[1:]]) + b"\n")
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), *map(str, results)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"])
    assert r.exit_code == 0, r.output
    item = huge["custom_id"].rpartition("-")[0]
    bad = [x for x in read_jsonl(run / "rejects") if x["id"] == item]
    assert [x["reason"] for x in bad] == ["response_too_large"] and "max_response_bytes" in bad[0]["detail"]
    journal = Journal(run)
    assert journal.responses_for(item) == []  # not journaled: the rerun cannot be fed it either
    journal.close()


def test_a_key_the_engine_echoes_in_its_answers_reaches_no_file_of_the_run(make_server, tmp_path, monkeypatch):
    # the engine elsewhere was given the user's key (or logged it into its answers): batch-ingest and
    # the batch-export that commits send nothing, but they mask it as online runs do
    key = "Zq8-ECHOED-KEY-7731-abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    cluster = make_server()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9/v1"))
    run, outbox = tmp_path / "run", tmp_path / "outbox"
    export = ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"]
    assert CliRunner().invoke(app, export).exit_code == 0
    (req,) = outbox.glob("*.jsonl")
    answers = tmp_path / "answers.jsonl"
    subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(answers), "--url", cluster.base_url],
                   check=True, timeout=120)
    echoed = []
    for line in answers.read_bytes().splitlines():
        rec = orjson.loads(line)
        message = rec["response"]["body"]["choices"][0]["message"]
        fields = orjson.loads(message["content"])
        fields["S1"] = f"{fields['S1']} {key}"
        message["content"] = orjson.dumps(fields).decode()
        echoed.append(orjson.dumps(rec))
    answers.write_bytes(b"\n".join(echoed) + b"\n")
    r = CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), str(answers)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, export)
    assert r.exit_code == 0 and "generate: " in r.output, r.output
    examples = read_jsonl(run / "examples")
    assert examples and any("[redacted]" in ex["S1"] for ex in examples)
    leaked = [p for p in run.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
    assert leaked == [] and key not in r.output


def test_a_file_of_refused_lines_read_twice_counts_each_refusal_once(tmp_path):
    # batch-ingest of the same file twice (or a download asked again) doubled run.json's request_failures
    journal = Journal(tmp_path)
    lines = [orjson.dumps({"custom_id": f"g{n}-0", "response": {"status_code": 400, "body": {"error": {
        "message": "no"}}}}) for n in range(2)] + [
        orjson.dumps({"custom_id": "g2-0", "pad": "x" * 200})]
    for _ in range(2):
        assert ingest_lines(journal, lines, "generate", "file:out.jsonl", "m", max_bytes=100) == {"refused": 3}
    assert journal.failure_count() == 3
    journal.close()


def test_batch_export_run_twice_before_any_ingest_writes_no_request_twice(make_server, tmp_path):
    # the second export wrote every request again as wave 2: the cluster would answer each one twice
    cluster = make_server()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9/v1"))
    run, outbox = tmp_path / "run", tmp_path / "outbox"
    export = ["batch-export", "-c", str(cfg), "-o", str(run), "--dir", str(outbox), "-q"]
    first = CliRunner().invoke(app, export)
    again = CliRunner().invoke(app, export)
    assert first.exit_code == again.exit_code == 0 and first.output == again.output, again.output
    (req,) = outbox.glob("*.jsonl")
    answers = tmp_path / "answers.jsonl"
    subprocess.run([sys.executable, str(STANDIN), "-i", str(req), "-o", str(answers), "--url", cluster.base_url],
                   check=True, timeout=120)
    assert CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), str(answers)]).exit_code == 0
    r = CliRunner().invoke(app, export)
    assert r.exit_code == 0 and "generate: 50/" in r.output, r.output  # then a top-up round
    # the first wave's answers ingested once more are no answers to the top-up round's requests
    assert CliRunner().invoke(app, ["batch-ingest", "-c", str(cfg), "-o", str(run), str(answers)]).exit_code == 0
    assert CliRunner().invoke(app, export).output == r.output
