"""`synthgen export`: each format's files as the library that consumes them reads them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.export import ExportOptions, export_run
from synthgen.export.formats import doc_id
from synthgen.taxonomy import GROUPS

from export_helpers import make_run, read_lines, run_records

TEMPLATE = "Instruct: {task}\nQuery: {query}"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("exp"), sl=20)


def synthgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, timeout=300)


def by_id(run) -> dict[str, dict]:
    return {r["id"]: r for r in run_records(run)}


def test_sentence_transformers_files_load_with_datasets_with_exact_columns(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    summary = export_run(run, "sentence-transformers", tmp_path / "st", ExportOptions(eval_fraction=0.25))
    records = run_records(run)
    shapes = {"triplets": ["anchor", "positive", "negative"], "pairs": ["anchor", "positive"],
              "classification": ["anchor", "positive", "negative"]}
    rows = 0
    for f in summary["files"]:
        ds = datasets.load_dataset("json", data_files=str(tmp_path / "st" / f["path"]), split="train",
                                   cache_dir=str(tmp_path / "cache"))
        assert ds.column_names == shapes[f["shape"]], f
        assert len(ds) == f["rows"]
        rows += len(ds)
        # classification (labels as positives) is marked: no in-batch negatives for it alone
        assert f["in_batch_negatives"] == (f["shape"] != "classification")
        assert set(f["groups"]) == {"triplets": {"short-long", "sts", "bitext"}, "pairs": {"short-short", "long-long"},
                                    "classification": {"long-short"}}[f["shape"]]
    assert rows == len(records)
    # the query side carries the paper's instruction; documents carry none
    first = {g: next(r for r in records if r["group"] == g) for g in GROUPS}
    triplets = read_lines(tmp_path / "st" / "train" / "triplets.jsonl") + read_lines(tmp_path / "st" / "eval" / "triplets.jsonl")
    sl = first["short-long"]
    assert {"anchor": f"Instruct: {sl['task']}\nQuery: {sl['user_query']}", "positive": sl["positive_document"],
            "negative": sl["hard_negative_document"]} in triplets
    sts = first["sts"]
    assert {"anchor": f"Instruct: Retrieve semantically similar text.\nQuery: {sts['S1']}", "positive": sts["S2"],
            "negative": sts["S3"]} in triplets
    classification = read_lines(tmp_path / "st" / "train" / "classification.jsonl") + read_lines(
        tmp_path / "st" / "eval" / "classification.jsonl")
    ls = first["long-short"]
    assert {"anchor": f"Instruct: {ls['task']}\nQuery: {ls['input_text']}", "positive": ls["label"],
            "negative": ls["misleading_label"]} in classification
    manifest = json.loads((tmp_path / "st" / "export.json").read_text())
    assert manifest["examples"] == {"train": summary["examples"]["train"], "eval": summary["examples"]["eval"]}


def test_prompt_column_keeps_the_instruction_apart_and_template_is_configurable(run, tmp_path):
    export_run(run, "sentence-transformers", tmp_path / "p", ExportOptions(prompt_column=True))
    export_run(run, "sentence-transformers", tmp_path / "t", ExportOptions(query_template="{task} || {query}"))
    records = run_records(run)
    sl = [r for r in records if r["group"] == "short-long"]
    prompted = read_lines(tmp_path / "p" / "train" / "triplets.jsonl")
    assert list(prompted[0]) == ["anchor", "positive", "negative", "prompt"]
    assert prompted[0] == {"anchor": sl[0]["user_query"], "positive": sl[0]["positive_document"],
                           "negative": sl[0]["hard_negative_document"],
                           "prompt": f"Instruct: {sl[0]['task']}\nQuery: "}
    templated = read_lines(tmp_path / "t" / "train" / "triplets.jsonl")
    assert templated[0]["anchor"] == f"{sl[0]['task']} || {sl[0]['user_query']}"


def test_split_is_by_task_shares_no_task_and_is_seeded(run, tmp_path):
    splits = {}
    for seed in range(5):
        out = tmp_path / f"s{seed}"
        export_run(run, "parquet", out, ExportOptions(eval_fraction=0.3, seed=seed, metadata=("id", "task")))
        import pyarrow.parquet as pq

        sides = {"train": [], "eval": []}
        for group in GROUPS:
            for split_name, file_name in (("train", "train"), ("eval", "test")):
                path = out / group / f"{file_name}.parquet"
                if path.exists():
                    sides[split_name] += [(group, r["id"], r["task"]) for r in pq.read_table(path).to_pylist()]
        assert sides["eval"], "an eval fraction of 0.3 must hold some examples out"
        for group in GROUPS:
            train = {(i, t) for g, i, t in sides["train"] if g == group}
            test = {(i, t) for g, i, t in sides["eval"] if g == group}
            assert not {i for i, _ in train} & {i for i, _ in test}
            if GROUPS[group].brainstorm:  # a brainstormed task is on one side only
                assert not {t for _, t in train} & {t for _, t in test}, group
        assert len(sides["train"]) + len(sides["eval"]) == len(run_records(run))
        splits[seed] = sorted(sides["eval"])
    # the same seed gives the same split; other seeds give other splits
    again = tmp_path / "again"
    export_run(run, "sentence-transformers", again, ExportOptions(eval_fraction=0.3, seed=3))
    assert json.loads((again / "export.json").read_text())["held_out_tasks"] == sorted(
        {t for g, _, t in splits[3] if GROUPS[g].brainstorm})
    assert len({tuple(s) for s in splits.values()}) > 1


def test_mteb_files_have_stable_ids_from_the_held_out_split(run, tmp_path):
    export_run(run, "mteb", tmp_path / "m", ExportOptions(eval_fraction=0.3, seed=1))
    export_run(run, "sentence-transformers", tmp_path / "st", ExportOptions(eval_fraction=0.3, seed=1))
    recs = by_id(run)
    eval_anchors = {r["anchor"] for shape in ("triplets", "pairs")
                    for r in read_lines(tmp_path / "st" / "eval" / f"{shape}.jsonl")}
    groups = sorted(p.name for p in (tmp_path / "m").iterdir() if p.is_dir())
    assert groups and "long-short" not in groups
    for group in groups:
        corpus = {d["_id"]: d for d in read_lines(tmp_path / "m" / group / "corpus.jsonl")}
        queries = {q["_id"]: q for q in read_lines(tmp_path / "m" / group / "queries.jsonl")}
        qrels = (tmp_path / "m" / group / "qrels" / "test.tsv").read_text().splitlines()
        assert qrels[0] == "query-id\tcorpus-id\tscore"
        g = GROUPS[group]
        for line in qrels[1:]:
            qid, did, score = line.split("\t")
            rec = recs[qid]
            assert rec["group"] == group and score == "1"
            assert corpus[did]["text"] == rec[g.positive] and did == doc_id(rec[g.positive])
            assert queries[qid]["text"] == TEMPLATE.format(task=rec["task"], query=rec[g.query])
            assert queries[qid]["text"] in eval_anchors  # held-out examples only
        if g.negative:  # the hard negatives are in the corpus as distractors
            assert {doc_id(recs[q][g.negative]) for q in queries} <= set(corpus)
    # a second export gives the same ids
    export_run(run, "mteb", tmp_path / "m2", ExportOptions(eval_fraction=0.3, seed=1))
    for group in groups:
        for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
            assert (tmp_path / "m" / group / name).read_bytes() == (tmp_path / "m2" / group / name).read_bytes()


def test_parquet_loads_with_datasets_per_group_and_through_the_card(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("pyarrow")
    out = tmp_path / "pq"
    export_run(run, "parquet", out, ExportOptions(eval_fraction=0.3, seed=2))
    records = run_records(run)
    for group, g in GROUPS.items():
        ds = datasets.load_dataset("parquet", data_dir=str(out / group), cache_dir=str(tmp_path / "cache"))
        assert set(ds) == {"train", "test"}
        langs = list(g.language_slots)
        assert ds["train"].column_names == [*g.output_keys, "id", "task", *langs]
        assert len(ds["train"]) + len(ds["test"]) == sum(r["group"] == group for r in records)
    bitext = datasets.load_dataset(str(out), "bitext", cache_dir=str(tmp_path / "cache"))
    row = bitext["train"][0]
    rec = next(r for r in records if r["id"] == row["id"])
    assert (row["src_lang"], row["tgt_lang"]) == (rec["placeholders"]["src_lang"], rec["placeholders"]["tgt_lang"])
    card = (out / "README.md").read_text()
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["fingerprint"] in card and "scripted" in card
    assert "config_name: short-long" in card and "path: short-long/test.parquet" in card
    en_sl = sum(r["group"] == "short-long" and r["placeholders"]["language"] == "English" for r in records)
    assert any(line.startswith("| short-long | English |") and sum(map(int, line.split("|")[3:5])) == en_sl
               for line in card.splitlines())
    rejects = card.split("## Rejected during generation")[1].split("##")[0]
    # this run's only "rejects" are surplus tasks (good, past a target): no reject, named apart
    assert "None." in rejects
    assert "past their group's target: brainstorm: surplus" in rejects and "| brainstorm: surplus |" not in rejects
    assert "terms of use" in card


def test_parquet_metadata_columns_on_request(run, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    export_run(run, "parquet", tmp_path / "pq", ExportOptions(metadata=("id", "flags", "placeholders", "model")))
    table = pq.read_table(tmp_path / "pq" / "sts" / "train.parquet")
    assert table.column_names == ["S1", "S2", "S3", "id", "flags", "placeholders", "model"]
    row = table.to_pylist()[0]
    assert row["placeholders"] == by_id(run)[row["id"]]["placeholders"]


def test_groups_and_languages_filter(run, tmp_path):
    s = export_run(run, "flagembedding", tmp_path / "f",
                   ExportOptions(groups=("short-long", "bitext"), languages=("English", "German")))
    recs = by_id(run)
    exported = []
    for f in s["files"]:
        exported += read_lines(tmp_path / "f" / f["path"])
    want = [r for r in recs.values() if r["group"] in ("short-long", "bitext")
            and {v for k, v in r["placeholders"].items() if k in ("language", "src_lang", "tgt_lang")} <= {"English", "German"}]
    assert want and len(exported) == len(want)
    assert sorted(e["query"] for e in exported) == sorted(r[GROUPS[r["group"]].query] for r in want)


def test_exclude_flagged_leaves_out_flagged_examples(tmp_path):
    run = make_run(tmp_path / "flagged", {"rate_copy_query": 0.4},
                   extra='\n[validation.rules]\ncopied_query = "flag"\n')
    records = run_records(run)
    flagged = [r for r in records if r["flags"]]
    assert flagged, "the scripted server's copied queries should be flagged"
    s_all = export_run(run, "sentence-transformers", tmp_path / "all")
    s_clean = export_run(run, "sentence-transformers", tmp_path / "clean", ExportOptions(exclude_flagged=True))
    assert s_all["examples"]["train"] == len(records)
    assert s_clean["examples"]["train"] == len(records) - len(flagged)


@pytest.mark.parametrize("args, message", [
    (["--format", "nope"], "unknown format"),
    (["--format", "mteb"], "--eval-fraction"),
    (["--format", "parquet", "--eval-fraction", "1.5"], "--eval-fraction"),
    (["--format", "parquet", "--groups", "short-long,sorts"], "unknown group(s) ['sorts']"),
    (["--format", "parquet", "--languages", "Klingon"], "unknown language(s) ['Klingon']"),
    (["--format", "parquet", "--metadata", "id,colour"], "unknown --metadata"),
    (["--format", "flagembedding", "--query-template", "Q: {text}"], "--query-template"),
    (["--format", "sentence-transformers", "--prompt-column", "--query-template", "{query} ({task})"],
     "--prompt-column needs"),
    (["--format", "flagembedding", "--prompt-column"], "--prompt-column is for"),  # a no-op there
    (["--format", "parquet", "--prompt-column"], "--prompt-column is for"),
])
def test_bad_options_are_one_line_and_exit_2(run, tmp_path, args, message):
    r = synthgen("export", str(run), "--out", str(tmp_path / "o"), *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_run_or_out_dir_is_one_line_and_exit_2(run, tmp_path):
    r = synthgen("export", str(tmp_path / "missing"), "--format", "parquet", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no run.json" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep").write_text("mine")
    r = synthgen("export", str(run), "--format", "parquet", "--out", str(tmp_path / "busy"))
    assert r.returncode == 2 and "not an empty directory" in r.stderr
    assert (tmp_path / "busy" / "keep").read_text() == "mine"
    r = synthgen("export", str(run), "--format", "parquet", "--out", str(tmp_path / "busy" / "keep" / "o"))
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = synthgen("export", str(run), "--format", "sentence-transformers", "--out", str(tmp_path / "ok"),
                 "--query-template", "Task: {task}\\nQ: {query}")
    assert r.returncode == 0, r.stderr
    assert read_lines(tmp_path / "ok" / "train" / "pairs.jsonl")[0]["anchor"].startswith("Task: ")
    assert "\nQ: " in read_lines(tmp_path / "ok" / "train" / "pairs.jsonl")[0]["anchor"]


def test_a_damaged_reject_part_is_one_line_naming_it(run, tmp_path):
    """The dataset card counts the run's rejects: a torn line there is named, not a traceback."""
    pytest.importorskip("pyarrow")
    damaged = tmp_path / "run"
    shutil.copytree(run, damaged)
    manifest = json.loads((damaged / "run.json").read_text())
    del manifest["parts"]  # as a run.json written before parts were listed (else: a stray file)
    (damaged / "run.json").write_text(json.dumps(manifest))
    (damaged / "rejects" / "part-09999.jsonl").write_text('{"stage": "generate", "rea\n')
    r = synthgen("export", str(damaged), "--format", "parquet", "--out", str(tmp_path / "pq"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().endswith("part-09999.jsonl, line 1: not a whole JSON object; the file is damaged")


def test_a_directory_named_like_a_part_is_named_not_read(run, tmp_path):
    """Even in a run still in progress (whose run.json may not list its newest parts yet), a
    directory named like a part is one line, exit 1, not an IsADirectoryError traceback."""
    damaged = tmp_path / "run"
    shutil.copytree(run, damaged)
    manifest = json.loads((damaged / "run.json").read_text())
    manifest["stages"]["generate"]["status"] = "in progress"
    (damaged / "run.json").write_text(json.dumps(manifest))
    extra = damaged / "examples" / "part-00777.jsonl"
    extra.mkdir()
    for argv in (["export", str(damaged), "--format", "sentence-transformers", "--out", str(tmp_path / "st"),
                  "--allow-partial"], ["stats", str(damaged)]):
        r = synthgen(*argv)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (argv, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "part-00777.jsonl is not a file" in r.stderr, r.stderr
    assert not (tmp_path / "st").exists()
    extra.rmdir()
    r = synthgen("stats", str(damaged))
    assert r.returncode == 0, r.stderr


def _damage_second_example(run: Path, tmp_path: Path, line: bytes) -> Path:
    damaged = tmp_path / "run"
    shutil.copytree(run, damaged)
    part = damaged / "examples" / "part-00000.jsonl"
    lines = part.read_bytes().splitlines(keepends=True)
    part.write_bytes(lines[0] + line + b"".join(lines[2:]))
    return damaged


def test_a_part_changed_since_it_was_published_is_named_not_exported(run, tmp_path):
    damaged = _damage_second_example(run, tmp_path, b'{"id": "e9", "group": "sts"}\n')
    r = synthgen("export", str(damaged), "--format", "sentence-transformers", "--out", str(tmp_path / "st"))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "part-00000.jsonl" in r.stderr and "rebuild" in r.stderr
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize("line, says, code", [(b"[1, 2]\n", "line 2: not a whole JSON object", 1),
                                               (b'{"id": "e9", "group": "sts"}\n', "example e9 is not a whole example", 1)])
def test_a_damaged_example_line_of_an_unlisted_part_is_one_line_naming_it(run, tmp_path, line, says, code):
    # a run.json from before parts were listed (with sizes and checksums) is read line by line; a
    # damaged file is exit 1 either way (README), 2 is bad usage
    damaged = _damage_second_example(run, tmp_path, line)
    manifest = json.loads((damaged / "run.json").read_text())
    del manifest["parts"]
    (damaged / "run.json").write_text(json.dumps(manifest))
    r = synthgen("export", str(damaged), "--format", "sentence-transformers", "--out", str(tmp_path / "st"))
    assert r.returncode == code and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and says in r.stderr and "damaged" in r.stderr


def test_docs_name_every_format_and_export_option():
    import typer.main

    from synthgen.cli import app
    from synthgen.export import FORMATS

    docs = (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text()
    cmd = typer.main.get_command(app).commands["export"]
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert f"`{opt}" in docs, opt
    for fmt in FORMATS:
        assert f"### `--format {fmt}`" in docs, fmt


def test_a_run_with_only_rejects_says_so_not_check_filters_never_given(tmp_path):
    # every answer in the wrong language: each example rejected; the message sent the user to
    # options (--groups, --languages, --exclude-flagged) they had not used
    run = make_run(tmp_path, server_options={"rate_wrong_language": 1.0})
    r = synthgen("export", str(run), "--format", "parquet", "--out", str(tmp_path / "pq"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "the run has no accepted examples" in r.stderr and "--groups" not in r.stderr
    assert not (tmp_path / "pq").exists()
