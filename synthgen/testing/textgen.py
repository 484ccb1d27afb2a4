"""Write the scripted answer for a Plan: word salad that keeps the rules a validator checks.

Same Plan + same Random state -> same text, so answers are reproducible across restarts. The
content faults the server drew for the request (state.CONTENT_FAULTS) are applied here.
"""

from __future__ import annotations

import json
import random
from operator import itemgetter
from typing import Any

from synthgen.testing.reading import FieldSpec, Plan
from synthgen.testing.vocab import (ADJECTIVES, ATTRIBUTES, CHATTER_AFTER, CHATTER_BEFORE,
                                    DOCUMENTS, QUERIES, TEMPLATES, VERBS, Vocab, vocab_for,
                                    wrong_vocab)

# answers per (keys, languages, lengths) signature that near-duplicate faults draw from: with 2, a
# run of 150 short-long examples at rate 0.2 meets a collision for every prompt wording tried
NEAR_DUPLICATE_POOL = 2


def _words(vocab: Vocab, n: int, rng: random.Random) -> list[str]:
    # one random byte per word, looked up in C: ~5x cheaper than rng.choices on long documents
    picked = itemgetter(*rng.randbytes(n))(vocab.table)
    return [picked] if n == 1 else list(picked)


def sentence(vocab: Vocab, n: int, rng: random.Random) -> str:
    """One capitalised sentence of n words."""
    ws = _words(vocab, n, rng)
    ws[0] = vocab.capital[ws[0]]
    return vocab.sep.join(ws) + vocab.stop


def prose(vocab: Vocab, n: int, rng: random.Random, units: set[str] | None = None) -> str:
    """n words in sentences of 8-20 words (the last one shorter where n demands); `units` gets
    the words as drawn, for the query overlap check, cheaper than splitting the text again."""
    ws = _words(vocab, max(1, n), rng)
    if units is not None:
        units.update(ws)
    start = 0
    # one loop step per sentence, not per word: documents run to thousands of words
    for b in rng.randbytes(len(ws) // 8 + 1):
        if start >= len(ws):
            break
        ws[start] = vocab.capital[ws[start]]
        start = min(len(ws), start + 8 + b % 13)
        ws[start - 1] += vocab.stop
    return vocab.sep.join(ws)


def _units(text: str, vocab: Vocab) -> list[str]:
    """What a validator compares: words, or characters in scripts written without spaces."""
    text = text.lower().replace(vocab.stop, "")
    return text.split() if vocab.sep else list(text)


def _value(spec: FieldSpec, vocab: Vocab, rng: random.Random, short: bool,
           units: dict[str, set[str]]) -> Any:
    """A value for one field; queries, labels and documents leave their word set in `units`."""
    if spec.kind == "number":
        return round(rng.uniform(1, 5), 1)
    if spec.kind == "short":  # a query or label: lower case, no full stop
        words = _words(vocab, rng.randint(*spec.words), rng)
        units[spec.key] = set(words)
        return vocab.sep.join(words)
    if spec.kind == "doc":
        units[spec.key] = set()
        n = rng.randint(3, 5) if short else rng.randint(*spec.words)
        return prose(vocab, n, rng, units=units[spec.key])
    return sentence(vocab, rng.randint(8, 20), rng)


def write_object(plan: Plan, rng: random.Random, faults: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object for a generation prompt, keeping the guidelines unless a fault says not."""
    vocabs = {s.key: wrong_vocab(s.language, rng.randrange(3)) if "wrong_language" in faults
              else vocab_for(s.language) for s in plan.fields}
    gen = rng
    short = "short" in faults
    if "near_duplicate" in faults:
        # a small fixed pool per (keys, languages, lengths): different requests collide
        sig = [(s.key, s.kind, vocabs[s.key].name, s.words) for s in plan.fields]
        gen = random.Random(f"pool:{rng.randrange(NEAR_DUPLICATE_POOL)}:{sig}")
    units: dict[str, set[str]] = {}
    out = {s.key: _value(s, vocabs[s.key], gen, short, units) for s in plan.fields}
    _keep_guidelines(plan, out, vocabs, gen, short, units)
    if "near_duplicate" in faults:
        # every text gets one or two words (characters, in scripts without spaces) changed, so
        # the copy is near, never exact: exact dedup must not be what catches it
        for key, value in out.items():
            if isinstance(value, str):
                vocab = vocabs[key]
                parts = value.split(" ") if vocab.sep else list(value)
                for _ in range(rng.randint(1, 2)):
                    parts[rng.randrange(len(parts))] = rng.choice(vocab.words)
                out[key] = vocab.sep.join(parts)
    if "copy_query" in faults:
        _copy_query(out, rng)
    return out


def _keep_guidelines(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                     rng: random.Random, short: bool, units: dict[str, set[str]]) -> None:
    """Texts differ from each other; queries and labels do not occur in documents."""
    # documents first, so queries are checked against the final documents
    ordered = sorted((s for s in plan.fields if isinstance(out[s.key], str)),
                     key=lambda s: s.kind != "doc")
    docs: list[str] = []
    seen: set[str] = set()
    for spec in ordered:
        value = out[spec.key]
        for _ in range(50):
            if value not in seen and not (spec.kind == "short" and any(value.lower() in d for d in docs)):
                break
            value = _value(spec, vocabs[spec.key], rng, short, units)
        out[spec.key] = value
        seen.add(value)
        if spec.kind == "doc":
            docs.append(value.lower())
    _positive_closer(out, units)
    _sts_overlap(plan, out, vocabs, rng)


def _positive_closer(out: dict[str, Any], units: dict[str, set[str]]) -> None:
    """The hard negative must not share more of the query's words than the positive does
    (synthgen.validate: hard_negative_closer): swap the two documents when it would."""
    q, pos, neg = "user_query", "positive_document", "hard_negative_document"
    if not all(k in units for k in (q, pos, neg)):
        return
    jaccard = [len(units[q] & units[k]) / len(units[q] | units[k]) for k in (neg, pos)]  # never empty
    if jaccard[0] > jaccard[1]:
        out[pos], out[neg] = out[neg], out[pos]


def _sts_overlap(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                 rng: random.Random) -> None:
    """STS triples share words: S2 is S1 lightly edited, S3 borrows a few of S1's words."""
    keys = [s.key for s in plan.fields]
    if keys != ["S1", "S2", "S3"] or len({vocabs[k].name for k in keys}) != 1:
        return
    vocab = vocabs["S1"]
    s1, s3 = _units(out["S1"], vocab), _units(out["S3"], vocab)
    s2 = list(s1)
    for _ in range(max(1, len(s2) // 4)):
        s2[rng.randrange(1, len(s2))] = rng.choice(_units(rng.choice(vocab.words), vocab))
    for _ in range(2):
        s3[rng.randrange(1, len(s3))] = rng.choice(s1[1:] or s1)
    texts = [vocab.sep.join(s).capitalize() + vocab.stop for s in (s1, s2, s3)]
    if len(set(texts)) == 3:
        out["S1"], out["S2"], out["S3"] = texts


def _copy_query(out: dict[str, Any], rng: random.Random) -> None:
    """Plant the query (or a label) verbatim in the document it must stay out of."""
    for src, dst in (("user_query", "positive_document"), ("label", "input_text"),
                     ("input", "positive_document")):
        if isinstance(out.get(src), str) and isinstance(out.get(dst), str):
            words = out[dst].split(" ")
            words.insert(rng.randrange(len(words) + 1), out[src])
            out[dst] = " ".join(words)
            return


def write_tasks(plan: Plan, rng: random.Random, repeat_task: float) -> list[str]:
    """num_tasks to 10% more distinct one-sentence task definitions (repeats only as a fault)."""
    n = plan.num_tasks
    k = rng.randint(n, n + n // 10)  # at least as many as asked: a stage may count on its quota
    templates = TEMPLATES.get(plan.task_style, TEMPLATES["retrieval"])
    tasks: dict[str, None] = {}
    while len(tasks) < k:
        task = rng.choice(templates).format(
            rng.choice(ADJECTIVES), rng.choice(DOCUMENTS), rng.choice(DOCUMENTS),
            rng.choice(VERBS), rng.choice(QUERIES), rng.choice(ATTRIBUTES))
        tasks[task] = None
    out = list(tasks)
    if repeat_task:
        for i in range(1, len(out)):
            if rng.random() < repeat_task:
                out[i] = out[rng.randrange(i)]
    return out


def write_text(plan: Plan, rng: random.Random, faults: tuple[str, ...], repeat_task: float) -> str:
    """The message content: JSON indented as models print it, or plain prose."""
    if plan.kind == "brainstorm":
        tasks = write_tasks(plan, rng, repeat_task)
        body: Any = {"tasks": tasks} if plan.wrap_tasks else tasks
    elif plan.kind == "object":
        body = write_object(plan, rng, faults)
    else:
        return prose(vocab_for("English"), rng.randint(20, 40), rng)
    text = json.dumps(body, ensure_ascii=False, indent=2)
    if "fenced" in faults and "truncate" not in faults and "length" not in faults:
        return f"{rng.choice(CHATTER_BEFORE)}\n```json\n{text}\n```\n{rng.choice(CHATTER_AFTER)}"
    return text


def cut(text: str, rng: random.Random) -> str:
    """A prefix of 30-90% of the text; any proper prefix of JSON fails to parse."""
    return text[: max(1, int(len(text) * rng.uniform(0.3, 0.9)))]
