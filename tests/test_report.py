"""`synthgen stats`: the quality report agrees with the files, reads on a terminal, as JSON and in
a browser, and says no more than one line for bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthgen.cli import app
from synthgen.config import RULE_DEFAULTS, load_config
from synthgen.pipeline import RunError, RunOptions, run_all
from synthgen.quality.html_report import render_html
from synthgen.quality.summary import language_of, summarize
from synthgen.report import load_report
from synthgen.testing.options import FakeServerOptions
from synthgen.testing.server import FakeLLMServer
from synthgen.validate import count_words, required_words

from helpers import examples, manifest, read_jsonl, rejects

FAULTS = {"rate_short": 0.2, "rate_copy_query": 0.1, "rate_wrong_language": 0.1, "rate_near_duplicate": 0.1,
          "rate_truncate": 0.05, "rate_repeat_task": 0.3}

CONFIG = """
seed = 11
[llm]
model = "scripted"
base_url = "{base_url}"
concurrency = 8
timeout_s = 10
[groups.short-long]
tasks = 4
examples = 30
[groups.long-short]
tasks = 3
examples = 8
[groups.short-short]
tasks = 2
examples = 4
[groups.long-long]
tasks = 2
examples = 3
[groups.sts]
examples = 5
[groups.bitext]
examples = 5
[output]
shard_size = 7
[prices.scripted]
input_per_1m = 1.0
output_per_1m = 2.0
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One small run with injected faults, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("report")
    with FakeLLMServer(FakeServerOptions(idle_exit_seconds=120, **FAULTS)) as srv:
        cfg_path = root / "cfg.toml"
        cfg_path.write_text(CONFIG.format(base_url=srv.base_url))
        outcomes = run_all(load_config(cfg_path), RunOptions(out=root / "run", quiet=True))
    assert [o.code for o in outcomes] == [0, 0], [o.message for o in outcomes]
    return root / "run"


def stats_cli(*args: str):
    """The command in-process (a fresh interpreter costs seconds of imports per call)."""
    r = CliRunner().invoke(app, ["stats", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r


def test_json_counts_match_the_files(run_dir):
    r = stats_cli(str(run_dir), "--json")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    recs, rejs = examples(run_dir), rejects(run_dir)
    # surplus: good examples past a group's target in a top-up round, not defects
    gen_rejs = [x for x in rejs if x["stage"] == "generate" and x["reason"] != "surplus"]
    gen = report["generate"]
    # the injected faults really produced rejects, so the comparisons below are not vacuous
    assert gen["rejected_by_reason"].get("too_short", 0) > 0 and gen["rejected_by_reason"].get("copied_query", 0) > 0
    assert gen["accepted"] == len(recs) and gen["rejected"] == len(gen_rejs)
    assert gen["rejected_by_reason"] == dict(Counter(x["reason"] for x in gen_rejs))
    for group, c in gen["by_group"].items():
        assert c["accepted"] == sum(1 for x in recs if x["group"] == group)
        assert c["rejected_by_reason"] == dict(Counter(x["reason"] for x in gen_rejs if x["group"] == group))
        assert c["flagged_by_rule"] == dict(Counter(f for x in recs if x["group"] == group for f in x["flags"]))
    assert {k: v["items"] for k, v in gen["by_language"].items()} == dict(
        Counter(language_of(x["placeholders"]) for x in rejs + recs if x.get("stage", "generate") == "generate"))
    assert any("->" in lang for lang in gen["by_language"])  # bitext pairs
    # and the files agree with run.json, so a complete run has nothing to warn about
    m = manifest(run_dir)
    assert report["warnings"] == []
    assert gen["items"] == m["stages"]["generate"]["items_committed"]
    assert report["stages"] == m["stages"]

    bs = report["brainstorm"]
    bs_rejs = [x for x in rejs if x["stage"] == "brainstorm"]
    assert bs["tasks_kept"] == len(read_jsonl(run_dir / "tasks"))
    assert bs["surplus"] == sum(1 for x in bs_rejs if x["reason"] == "surplus") > 0
    assert bs["rejected_by_reason"] == dict(Counter(x["reason"] for x in bs_rejs if x["reason"] != "surplus"))

    tk = report["tokens"]
    assert tk["total"] == m["tokens"]["prompt_tokens"] + m["tokens"]["completion_tokens"]
    assert tk["per_accepted"] == pytest.approx(tk["total"] / len(recs), abs=0.1)
    assert tk["cost_usd"] == m["cost_usd"] and tk["cost_per_accepted_usd"] == pytest.approx(m["cost_usd"] / len(recs), abs=1e-7)


def test_lengths_and_asked_words_match_the_files(run_dir):
    report = load_report(run_dir)
    recs = examples(run_dir)
    for group, fields in report["lengths"].items():
        for key, s in fields.items():
            words = [count_words(x[key]) for x in recs if x["group"] == group]
            assert (s["count"], s["min"], s["max"]) == (len(words), min(words), max(words))
            assert s["median"] == statistics.median(words)
            assert sum(s["histogram"]["counts"]) == len(words)
            need = [(count_words(x[key]), required_words(group, key, x["placeholders"]))
                    for x in recs if x["group"] == group]
            asked = [(have, n) for have, n in need if n]
            if asked:
                assert s["asked"]["checked"] == len(asked)
                assert s["asked"]["below"] == sum(1 for have, n in asked if have < n)
            else:
                assert s["asked"] is None


def test_adherence_counts_rejects_and_flags(run_dir):
    report = load_report(run_dir)
    rules = report["adherence"]["rules"]
    assert set(rules) == set(RULE_DEFAULTS)
    assert "not tested" in report["adherence"]["note"]
    gen = report["generate"]
    for rule, a in rules.items():
        assert a["rejected"] == gen["rejected_by_reason"].get(rule, 0)
        assert a["flagged"] == gen["flagged_by_rule"].get(rule, 0)
        assert a["adherence"] == pytest.approx(1 - (a["rejected"] + a["flagged"]) / a["validated"], abs=1e-4)
    sl = gen["by_group"]["short-long"]
    assert rules["hard_negative_closer"]["validated"] == sl["items"] - sum(
        n for r, n in sl["rejected_by_reason"].items() if r in ("bad_json", "truncated", "request_failed"))


def test_text_tables(run_dir):
    r = stats_cli(str(run_dir))
    assert r.exit_code == 0, r.stderr
    for text in ("examples per group", "short-long", "rejects by reason", "too_short", "adherence",
                 "words per field", "languages", "brainstorm", "surplus", "tokens"):
        assert text in r.stdout, text




def test_piped_tables_are_not_cut_to_80_columns(run_dir, monkeypatch):
    # a CI log or `stats RUN > file`: rich's default 80 columns printed "accept…" and "too_s… 3"
    monkeypatch.delenv("COLUMNS", raising=False)
    report = json.loads(stats_cli(str(run_dir), "--json").stdout)
    lines = stats_cli(str(run_dir)).stdout.splitlines()
    header = next(line for line in lines if line.startswith("┃ group "))
    assert all(f" {name} " in header for name in ("accepted", "rejected", "top reject reasons"))
    for group, c in report["generate"]["by_group"].items():
        reason, n = next(iter(c["rejected_by_reason"].items()), ("", ""))
        row = next(line for line in lines if line.startswith(f"│ {group} "))
        assert f"{reason} {n}" in row, row


def test_a_run_directory_with_square_brackets_in_its_name(run_dir, tmp_path):
    # rich read "[/x]" as a closing markup tag (a MarkupError traceback) and dropped "[bold]"
    for name in ("exp[/x]", "exp[bold]2"):
        copy = tmp_path / name / "run"
        shutil.copytree(run_dir, copy)
        r = stats_cli(str(copy))
        assert r.exit_code == 0, r.stderr
        assert str(copy) in r.stdout.replace("\n", "")

def test_items_add_up_with_the_surplus_of_the_top_up_rounds(tmp_path, make_server, write_config):
    # good examples past a group's target are neither accepted nor rejected: every table counts
    # them, so items = accepted + rejected + surplus for each group and language
    srv = make_server(rate_short=0.4)
    run_all(load_config(write_config(srv.base_url, sl=20)), RunOptions(out=tmp_path / "run", quiet=True))
    r = stats_cli(str(tmp_path / "run"), "--json", "--html", str(tmp_path / "r.html"))
    gen = json.loads(r.stdout)["generate"]
    surplus = Counter(x["group"] for x in rejects(tmp_path / "run")
                      if x["stage"] == "generate" and x["reason"] == "surplus")
    assert gen["surplus"] == sum(surplus.values()) > 0
    for c in [gen, *gen["by_group"].values(), *gen["by_language"].values()]:
        assert c["items"] == c["accepted"] + c["rejected"] + c["surplus"], c
    assert {g: c["surplus"] for g, c in gen["by_group"].items() if c["surplus"]} == dict(surplus)
    text = stats_cli(str(tmp_path / "run")).stdout
    assert re.search(rf"all\W+{gen['items']}\W+{gen['accepted']}\W+{gen['rejected']}\W+{gen['surplus']}\W", text)
    # the page's bars and labels agree with the terminal: accepted/items
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    g, c = next((g, c) for g, c in gen["by_group"].items() if c["surplus"])
    assert f"{c['accepted']}/{c['items']} (" in page and "surplus (good, past target)" in page, g

def test_open_parts_are_ignored_and_reported(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = load_report(copy)["generate"]
    # a stage in progress: its open part is not published (it may be cut back on resume)
    line = (copy / "examples" / "part-00000.jsonl").read_text().splitlines()[0]
    (copy / "examples" / "part-00099.jsonl.tmp").write_text(line + "\n" + line[:40])
    report = load_report(copy)
    assert report["generate"]["accepted"] == before["accepted"]
    assert any("unpublished" in w for w in report["warnings"])


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _example(i: int, **kw) -> dict:
    rec = {"id": f"e{i}", "group": "sts", "task": "t", "placeholders": {"language": "English"}, "model": "m",
           "item_index": i, "attempts": 1, "usage": {"prompt_tokens": 10, "completion_tokens": 5}, "flags": [],
           "S1": "one two three", "S2": "one two", "S3": "four"}
    rec.update(kw)
    return rec


def test_gates_langid_and_rule_policies_from_a_hand_made_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "stages": {"generate": {"status": "complete"}}, "tokens": {"prompt_tokens": 60, "completion_tokens": 40},
        "cost_usd": None, "config": {"validation": {"rules": {"sts_order": "off"}}}}))
    _write_jsonl(run / "examples" / "part-00000.jsonl", [
        _example(0, langid={"S1": "ok", "S2": "unchecked", "S3": "unchecked"}),
        _example(1, langid="unchecked", flags=["wrong_language"]),
        _example(2, placeholders={"src_lang": "German", "tgt_lang": "French"}, group="bitext")])
    rej = {"stage": "generate", "group": "sts", "placeholders": {"language": "English"}}
    _write_jsonl(run / "rejects" / "part-00000.jsonl", [
        {**rej, "id": "r1", "reason": "near_duplicate"}, {**rej, "id": "r2", "reason": "duplicate"},
        {**rej, "id": "r3", "reason": "wrong_language"}, {**rej, "id": "r4", "reason": "request_failed"},
        {"id": "b1", "stage": "brainstorm", "group": "short-long", "reason": "surplus"},
        {"id": "b2", "stage": "brainstorm", "group": "short-long", "reason": "duplicate"}])
    report = load_report(run)
    assert report["generate"]["items"] == 7
    assert report["duplicates"] == {"exact": {"count": 1, "rate": round(1 / 7, 4)},
                                    "near": {"count": 1, "rate": round(1 / 7, 4)}}
    lc = report["language_check"]
    assert lc["wrong_language"]["count"] == 2 and lc["unchecked_texts"] == 3
    assert lc["langid_verdicts"] == {"ok": 1, "unchecked": 3}
    assert report["generate"]["by_language"]["German->French"]["accepted"] == 1
    wl = report["adherence"]["rules"]["wrong_language"]
    assert (wl["items"], wl["validated"], wl["failed"]) == (7, 6, 2)  # request_failed never reached the check
    assert report["adherence"]["rules"]["sts_order"]["adherence"] is None  # switched off in the config
    assert report["brainstorm"]["surplus"] == 1 and report["brainstorm"]["rejected_by_reason"] == {"duplicate": 1}
    # a damaged line is skipped and named, not a crash
    with open(run / "rejects" / "part-00000.jsonl", "a") as f:
        f.write("{not json\n")
    assert load_report(run)["warnings"] == ["invalid JSON lines in rejects/: 1"]
    # without a langid field there is nothing to count, and the report says so rather than 0
    (run / "examples" / "part-00000.jsonl").write_text(json.dumps(_example(0)) + "\n")
    assert load_report(run)["language_check"]["unchecked_texts"] is None
    assert "<svg" in render_html(load_report(run))


def test_a_field_whose_every_text_is_past_the_length_cap(tmp_path):
    """A model that loops writes 200 KB documents; when every text of a field is one, stats crashed."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"stages": {"generate": {"status": "complete"}}}))
    _write_jsonl(run / "examples" / "part-00000.jsonl", [_example(i, S3="lorem " * (30_000 + i)) for i in range(2)])
    r = stats_cli(str(run), "--json")
    assert r.exit_code == 0, r.output
    s3 = json.loads(r.stdout)["lengths"]["sts"]["S3"]
    assert (s3["min"], s3["max"], s3["histogram"]["counts"]) == (30_000, 30_001, [2])


def test_a_priced_run_with_no_accepted_example_yet_has_an_html_report(tmp_path):
    """After stage 1 alone the run has a cost but nothing to divide it by."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "stages": {"brainstorm": {"status": "complete", "items_committed": 2}},
        "tokens": {"prompt_tokens": 60, "completion_tokens": 40, "responses": 2}, "cost_usd": 0.0041}))
    _write_jsonl(run / "tasks" / "part-00000.jsonl", [{"id": "t0", "group": "short-long", "task": "Find x"}])
    r = stats_cli(str(run), "--html", str(tmp_path / "r.html"))
    assert r.exit_code == 0, r.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "cost (no accepted examples)" in page and "$0.0041 total, no accepted examples" in page
    text = stats_cli(str(run))
    assert text.exit_code == 0 and "cost: $0.0041 (no accepted examples)" in " ".join(text.stdout.split())


def test_word_counts_agree_with_validate(tmp_path):
    texts = ("", "  a  b\u3000c\u00a0d\n", "日本語のテキスト abc", "ภาษาไทยยาวมาก test", "a\x1cb\x1fc\x85d",
             "Ünïcödé wörds\u2003here", "mixed 中文 and ខ្មែរ", "ok. fine, (really)?")
    _write_jsonl(tmp_path / "examples" / "part-00000.jsonl", [_example(i, S1=t) for i, t in enumerate(texts)])
    s1 = summarize(tmp_path)["lengths"]["sts"]["S1"]
    words = [count_words(t) for t in texts]
    assert (s1["min"], s1["median"], s1["max"]) == (min(words), statistics.median(words), max(words))
    hist = s1["histogram"]
    assert hist["counts"] == [sum(lo <= w < hi for w in words) for lo, hi in zip(hist["edges"], hist["edges"][1:])]


def _synthetic_run(root: Path, n: int) -> Path:
    langs = ("English", "French", "Japanese")
    recs = (_example(i, placeholders={"language": langs[i % 3]}, S1=" ".join(["w"] * (5 + i % 300)))
            for i in range(n))
    (root / "examples").mkdir(parents=True)
    with open(root / "examples" / "part-00000.jsonl", "w") as f:
        f.writelines(json.dumps(rec) + "\n" for rec in recs)
    return root


def test_memory_does_not_grow_with_the_number_of_records(tmp_path):
    peaks = []
    for n in (600, 6000):
        run = _synthetic_run(tmp_path / str(n), n)
        tracemalloc.start()
        out = summarize(run)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert out["generate"]["accepted"] == n
    assert peaks[1] < peaks[0] * 1.3 + 32_000, peaks


@pytest.mark.parametrize("setup, message, code", [
    (lambda p: None, "no run.json", 2),  # not a run: bad usage
    (lambda p: (p / "run.json").write_text("{not json"), "cannot read", 1),  # a damaged file
    (lambda p: (p / "run.json").write_text("[1, 2]"), "not a synthgen run.json", 1),
])
def test_bad_run_directory_is_one_line(tmp_path, setup, message, code):
    run = tmp_path / "r"
    run.mkdir()
    setup(run)
    r = stats_cli(str(run), "--json")
    assert r.exit_code == code and "Traceback" not in r.stderr
    assert code == 2 or "rewrite it from the journal" in r.stderr
    assert r.stderr.strip().count("\n") == 0 and message in r.stderr
    with pytest.raises(RunError):
        load_report(run)


def test_stats_on_a_file_and_unwritable_html(tmp_path, run_dir):
    (tmp_path / "f").write_text("x")
    r = stats_cli(str(tmp_path / "f"))
    assert r.exit_code == 2 and "not a synthgen run directory" in r.stderr and "Traceback" not in r.stderr
    r = stats_cli(str(run_dir), "--html", str(tmp_path / "missing" / "r.html"))
    assert r.exit_code == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr
    # under a file: was a NotADirectoryError traceback from cleaning up the .tmp
    r = stats_cli(str(run_dir), "--html", str(tmp_path / "f" / "r.html"))
    assert r.exit_code == 2 and "cannot write" in r.stderr and (tmp_path / "f").read_text() == "x"


@pytest.fixture(scope="module")
def html_file(run_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    r = stats_cli(str(run_dir), "--html", str(path), "--json")
    assert r.exit_code == 0, r.stderr
    json.loads(r.stdout)  # --json still prints the report
    return path


def test_html_is_one_self_contained_file(html_file):
    page = html_file.read_text(encoding="utf-8")
    assert page.count("<svg") >= 5
    for chart in ("accepted vs rejected per group", "rejects by reason", "adherence per rule",
                  "words in short-long positive_document", "language distribution"):
        assert f'aria-label="{chart}"' in page, chart
    # nothing to fetch: no scripts, stylesheets, images or fonts from anywhere
    for needle in ("<script", "<link", "<img", "src=", "@import", "url(", "https://"):
        assert needle not in page, needle


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def _headless(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the browser's own process group, which we started
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_html_renders_in_a_headless_browser(html_file, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary found (Debian: apt-get install chromium)")
    shot = tmp_path / "report.png"
    r = _headless(binary, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2000",
                  f"file://{html_file}")
    assert shot.exists() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _headless(binary, tmp_path / "profile", "--dump-dom", f"file://{html_file}").stdout
    assert dom.count("<svg") >= 5 and dom.count("<rect") > 50
    for title in ("Accepted vs rejected per group", "Rejects by reason", "Guideline adherence",
                  "Words per field", "Languages"):
        assert title in dom, title
