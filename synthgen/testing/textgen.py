"""Write the scripted answer for a Plan: word salad that keeps the rules a validator checks.

Same Plan + same Random state -> same text, so answers are reproducible across restarts.
Content faults (short documents, copied query, wrong language, near-duplicates, fences, cuts)
are applied here, from flags the server draws by hashing the request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from synthgen.testing.reading import FieldSpec, Plan
from synthgen.testing.render import render
from synthgen.testing.salad import (Doc, between, document, jaccard, mutate, phrase, prose,
                                    sentence, unit_mask)
from synthgen.testing.vocab import Vocab, vocab_for, wrong_vocab
from synthgen.testing.words import chatter, task_sentences

# answers per (keys, languages, lengths) signature that near-duplicate faults draw from. short-long
# alone has ~50 signatures: with 4 answers each, 150 examples at rate 0.2 gave no collision at
# all for about one prompt wording in four (the faults follow the request hash); with 2, none of
# 16 seeds went without one
NEAR_DUPLICATE_POOL = 2


@dataclass
class ContentFaults:
    """Which content faults hit one request."""

    truncate: bool = False
    length: bool = False
    wrong_language: bool = False
    short: bool = False
    copy_query: bool = False
    near_duplicate: bool = False
    fenced: bool = False
    repeat_task: float = 0.0  # per-task chance, not a flag
    active: tuple[str, ...] = ()  # names of the flags set, for counting


def _value(spec: FieldSpec, vocab: Vocab, rng: random.Random, short: bool,
           docs: dict[str, Doc]) -> Any:
    """A value for one field; documents also leave their Doc (lower case, word mask) in docs."""
    if spec.kind == "number":
        return round(rng.uniform(1, 5), 1)
    if spec.kind == "integer":
        return rng.randint(1, 5)
    if spec.kind == "boolean":
        return rng.random() < 0.5
    if spec.kind == "list":
        return [sentence(vocab, between(rng, 8, 15), rng) for _ in range(between(rng, 2, 5))]
    if spec.kind == "short":
        return phrase(vocab, *spec.words, rng)
    if spec.kind == "doc":
        lo, hi = (3, 5) if short else spec.words
        doc = docs[spec.key] = document(vocab, between(rng, lo, hi), rng, hi)
        return doc.text
    return sentence(vocab, between(rng, 8, 20), rng)


def _contained(needle: str, lowered: list[str]) -> bool:
    low = needle.lower()
    return any(low in h for h in lowered)


def write_object(plan: Plan, rng: random.Random, faults: ContentFaults) -> dict[str, Any]:
    """The JSON object for a generation prompt, keeping the guidelines unless a fault says not."""
    vocabs = {}
    for spec in plan.fields:
        v = vocab_for(spec.language)
        if faults.wrong_language:
            v = wrong_vocab(spec.language, rng.randrange(3))
        vocabs[spec.key] = v
    gen = rng
    if faults.near_duplicate:
        # a small fixed pool per (keys, languages, lengths): different requests collide
        sig = [(s.key, s.kind, vocabs[s.key].name, s.words) for s in plan.fields]
        gen = random.Random(f"pool:{rng.randrange(NEAR_DUPLICATE_POOL)}:{sig}")
    out: dict[str, Any] = {}
    docs: dict[str, Doc] = {}
    for spec in plan.fields:
        out[spec.key] = _value(spec, vocabs[spec.key], gen, faults.short, docs)
    _keep_guidelines(plan, out, vocabs, gen, docs)
    if faults.near_duplicate:
        # every text gets a small edit, so the copy is near, never exact: exact dedup must not
        # be what catches it
        for spec in plan.fields:
            if isinstance(out[spec.key], str):
                out[spec.key] = mutate(out[spec.key], vocabs[spec.key], rng)
    if faults.copy_query:
        _copy_query(out, rng)
    return out


def _keep_guidelines(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                     rng: random.Random, docs: dict[str, Doc]) -> None:
    """Queries and labels must not occur in documents; paired fields must differ."""
    # documents first, so queries are checked against the final documents
    ordered = sorted(plan.fields, key=lambda s: s.kind != "doc")
    doc_lower: list[str] = []
    seen: list[str] = []
    for spec in ordered:
        value = out[spec.key]
        if not isinstance(value, str):
            continue
        for _ in range(50):
            clash = value in seen or (spec.kind == "short" and _contained(value, doc_lower))
            if not clash:
                break
            value = _value(spec, vocabs[spec.key], rng, False, docs)
        out[spec.key] = value
        seen.append(value)
        if spec.kind == "doc":
            doc_lower.append(docs[spec.key].lower)
    _positive_closer(out, docs, vocabs)
    _sts_overlap(plan, out, vocabs, rng)


def _units(text: str, vocab: Vocab) -> list[str]:
    text = text.removesuffix(vocab.stop)
    return text.split(" ") if vocab.sep else list(text)


def _positive_closer(out: dict[str, Any], docs: dict[str, Doc],
                     vocabs: dict[str, Vocab]) -> None:
    """The hard negative must not share more of the query's words than the positive does.

    Both documents come from the same generator, so swapping them costs nothing and keeps the
    Jaccard order a validator checks (synthgen.validate: hard_negative_closer).
    """
    q, pos, neg = "user_query", "positive_document", "hard_negative_document"
    if not (isinstance(out.get(q), str) and pos in docs and neg in docs):
        return
    query = unit_mask(vocabs[pos], out[q])
    if jaccard(query, docs[neg].mask) > jaccard(query, docs[pos].mask):
        out[pos], out[neg] = out[neg], out[pos]
        docs[pos], docs[neg] = docs[neg], docs[pos]


def _sts_overlap(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                 rng: random.Random) -> None:
    """STS triples share words: S2 is S1 lightly edited, S3 borrows a few of S1's words."""
    keys = [s.key for s in plan.fields]
    if keys != ["S1", "S2", "S3"] or len({vocabs[k].name for k in keys}) != 1:
        return
    vocab = vocabs["S1"]
    # the unit a validator compares: words, or characters in scripts written without spaces
    s1, s3 = _units(out["S1"], vocab), _units(out["S3"], vocab)
    s2 = list(s1)
    for _ in range(max(1, len(s2) // 4)):
        s2[rng.randrange(1, len(s2))] = rng.choice(_units(rng.choice(vocab.words), vocab))
    for _ in range(2):
        s3[rng.randrange(1, len(s3))] = rng.choice(s1[1:] or s1)
    s2_text, s3_text = vocab.sep.join(s2) + vocab.stop, vocab.sep.join(s3) + vocab.stop
    if len({out["S1"], s2_text, s3_text}) == 3:
        out["S2"], out["S3"] = s2_text, s3_text


def _copy_query(out: dict[str, Any], rng: random.Random) -> None:
    """Plant the query (or a label) verbatim in the document it must stay out of."""
    for src, dst in (("user_query", "positive_document"), ("label", "input_text"),
                     ("input", "positive_document")):
        if isinstance(out.get(src), str) and isinstance(out.get(dst), str):
            words = out[dst].split(" ")
            words.insert(rng.randrange(len(words) + 1), out[src])
            out[dst] = " ".join(words)
            return


def write_tasks(plan: Plan, rng: random.Random, faults: ContentFaults) -> list[str]:
    """About num_tasks distinct one-sentence task definitions (repeats only as a fault)."""
    n = plan.num_tasks
    # at least as many as asked (a stage may count on its quota), sometimes a few more
    tasks = task_sentences(plan.task_style, rng, between(rng, n, n + n // 10))
    if faults.repeat_task:
        for i in range(1, len(tasks)):
            if rng.random() < faults.repeat_task:
                tasks[i] = tasks[rng.randrange(i)]
    return tasks


def write_text(plan: Plan, rng: random.Random,
               faults: ContentFaults) -> tuple[str, str | None]:
    """The message content, and the same as a JSON string literal (None: not built)."""
    if plan.kind == "brainstorm":
        tasks = write_tasks(plan, rng, faults)
        body: Any = {"tasks": tasks} if plan.wrap_tasks else tasks
    elif plan.kind == "object":
        body = write_object(plan, rng, faults)
    else:
        text = prose(vocab_for("English"), between(rng, 20, 40), rng)
        return text, f'"{text}"'
    text, escaped = render(body)
    if faults.fenced and not (faults.truncate or faults.length):
        before, after = chatter(rng)
        return f"{before}\n```json\n{text}\n```\n{after}", None
    return text, escaped


def cut(text: str, rng: random.Random) -> str:
    """A prefix of 30-90% of the text; any proper prefix of JSON fails to parse."""
    return text[: max(1, int(len(text) * rng.uniform(0.3, 0.9)))]
