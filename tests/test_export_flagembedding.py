"""`--format flagembedding` read by FlagEmbedding's own fine-tuning data reader, and field by field."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from synthgen.export import ExportOptions, export_run
from synthgen.taxonomy import GROUPS

from export_helpers import make_run, read_lines, run_records


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("fe"), sl=12)


def test_lines_follow_the_documented_format_field_by_field(run, tmp_path):
    """FlagEmbedding's README: {"query": str, "pos": List[str], "neg": List[str], "prompt": str}."""
    summary = export_run(run, "flagembedding", tmp_path / "fe", ExportOptions())
    recs = {r["id"]: r for r in run_records(run)}
    by_query = {}
    for r in recs.values():
        by_query.setdefault((r["group"], r[GROUPS[r["group"]].query]), r)
    seen = 0
    for f in summary["files"]:
        (group,) = f["groups"]
        g = GROUPS[group]
        path = Path(f["path"])
        # FlagEmbedding reads the no-in-batch-negatives mark from the file stem or directory name
        marked = str(path).split(".")[-2].endswith("no_in_batch_neg") and path.parent.name.endswith("no_in_batch_neg")
        assert marked == (group == "long-short") == (not f["in_batch_negatives"])
        for line in read_lines(tmp_path / "fe" / path):
            assert set(line) == {"query", "pos", "neg", "prompt"} | (set() if g.negative else {"train_group_size"})
            rec = by_query[(group, line["query"])]
            assert isinstance(line["pos"], list) and line["pos"] == [rec[g.positive]]
            assert isinstance(line["neg"], list) and line["neg"] == ([rec[g.negative]] if g.negative else [])
            assert line["prompt"] == rec["task"]
            seen += 1
    assert seen == len(recs)
    assert summary["query_instruction_format"] == "Instruct: {0}\nQuery: {1}"


def _flagembedding_reader(monkeypatch):
    """FlagEmbedding's data reader module. The package's __init__ imports its inference models,
    which fail on transformers 5 (modeling_attn_mask_utils is gone); the fine-tuning reader does
    not need them, so the package directories are registered without running their __init__."""
    spec = importlib.util.find_spec("FlagEmbedding")
    if spec is None:
        pytest.skip("FlagEmbedding is not installed")
    root = Path(spec.submodule_search_locations[0])
    for name in [m for m in sys.modules if m == "FlagEmbedding" or m.startswith("FlagEmbedding.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in ("FlagEmbedding", "FlagEmbedding.abc", "FlagEmbedding.abc.finetune", "FlagEmbedding.abc.finetune.embedder"):
        module = types.ModuleType(name)
        module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        monkeypatch.setitem(sys.modules, name, module)
    return (importlib.import_module("FlagEmbedding.abc.finetune.embedder.AbsDataset"),
            importlib.import_module("FlagEmbedding.abc.finetune.embedder.AbsArguments"))


def test_flagembedding_reads_the_files_with_its_own_dataset_classes(run, tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    dataset_mod, args_mod = _flagembedding_reader(monkeypatch)
    out = tmp_path / "fe"
    summary = export_run(run, "flagembedding", out, ExportOptions(eval_fraction=0.25, seed=3))
    fmt = summary["query_instruction_format"]
    recs = run_records(run)
    texts = {f"Instruct: {r['task']}\nQuery: {r[GROUPS[r['group']].query]}": r for r in recs}

    # same-dataset batches: every group's file, in-batch negatives off for long-short only
    args = args_mod.AbsEmbedderDataArguments(
        train_data=[str(out / "train"), str(out / "train_no_in_batch_neg")], train_group_size=2,
        query_instruction_for_retrieval="unused: every line has its prompt", query_instruction_format=fmt,
        same_dataset_within_batch=True, cache_path=str(tmp_path / "cache"))
    ds = dataset_mod.AbsEmbedderSameDatasetTrainDataset(args, default_batch_size=2, seed=0, tokenizer=None)
    batches = [ds[i] for i in range(len(ds))]
    assert batches
    seen_groups = set()
    for queries, passages, _, no_in_batch_neg in batches:
        groups = {texts[q]["group"] for q in queries}  # queries come out in the paper's format
        assert len(groups) == 1
        (group,) = groups
        seen_groups.add(group)
        assert no_in_batch_neg == (group == "long-short")
        g = GROUPS[group]
        for i, q in enumerate(queries):
            rec = texts[q]
            # the positive first, then train_group_size - 1 negatives (none for pair groups)
            per_query = 2 if g.negative else 1
            assert passages[i * per_query] == rec[g.positive]
            if g.negative:
                assert passages[i * per_query + 1] == rec[g.negative]
    assert {"short-long", "long-short"} <= seen_groups

    # the plain reader (mixed batches) reads the groups that have hard negatives
    plain = args_mod.AbsEmbedderDataArguments(
        train_data=[str(out / "train" / "short-long.jsonl"), str(out / "train" / "sts.jsonl")],
        train_group_size=2, query_instruction_for_retrieval="x", query_instruction_format=fmt,
        cache_path=str(tmp_path / "cache"))
    mixed = dataset_mod.AbsEmbedderTrainDataset(plain, tokenizer=None)
    want = sum(f["rows"] for f in summary["files"] if f["split"] == "train" and f["groups"][0] in ("short-long", "sts"))
    assert len(mixed) == want
    query, passages, _ = mixed[0]
    rec = texts[query]
    assert passages == [rec[GROUPS[rec["group"]].positive], rec[GROUPS[rec["group"]].negative]]
    assert json.loads((out / "export.json").read_text())["format"] == "flagembedding"
