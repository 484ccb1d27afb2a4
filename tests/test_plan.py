"""The plan: deterministic, shardable, lazily yielded work items (pure functions, plain asserts)."""

from __future__ import annotations

import itertools
import random
import time
import tracemalloc
from collections import Counter

import pytest

from synthgen.config import parse_config
from synthgen.plan import LanguageSampler, Shard, _interleaved, brainstorm_items, generate_items, select
from synthgen.taxonomy import ALL_LANGUAGES, GROUPS, PAPER_EXAMPLES_K, paper_language_weights

TASKS = {
    "short-long": ["Find recipes that use a given seasonal vegetable", "Retrieve court rulings on a tenancy dispute",
                   "Given a symptom, find medical articles describing its causes"],
    "long-short": ["Classify a product review by sentiment", "Classify a news article by topic"],
    "short-short": ["Match a song title to its lyrics snippet"],
    "long-long": ["Match a scientific abstract to a related abstract", "Match a bug report to its duplicate"],
}


def small_config(seed: int = 7, **extra):
    data = {
        "seed": seed,
        "groups": {
            "short-long": {"tasks": 3, "examples": 12},
            "long-short": {"tasks": 2, "examples": 8},
            "short-short": {"tasks": 1, "examples": 3},
            "long-long": {"tasks": 2, "examples": 3},
            "sts": {"examples": 6},
            "bitext": {"examples": 6},
        },
    }
    data.update(extra)
    return parse_config(data)


def snapshot(items):
    return [(i.id, i.index, i.stage, i.group, i.k, i.seed, i.task, i.placeholders, i.messages) for i in items]


def test_same_config_and_seed_give_identical_items_in_two_iterations():
    cfg = small_config()
    first = snapshot(generate_items(cfg, TASKS))
    second = snapshot(generate_items(small_config(), TASKS))
    assert first == second
    assert len(first) == 12 + 8 + 3 + 3 + 6 + 6
    assert [row[1] for row in first] == list(range(len(first)))
    assert len({row[0] for row in first}) == len(first)  # ids are unique
    assert snapshot(brainstorm_items(cfg)) == snapshot(brainstorm_items(small_config()))


def test_a_different_seed_changes_the_items():
    a = list(generate_items(small_config(seed=7), TASKS))
    b = list(generate_items(small_config(seed=8), TASKS))
    assert not {i.id for i in a} & {i.id for i in b}
    # same positions in the plan, different sampled values
    assert [(i.group, i.k) for i in a] == [(i.group, i.k) for i in b]
    assert sum(x.placeholders != y.placeholders for x, y in zip(a, b)) >= len(a) // 2
    assert [i.seed for i in a] != [i.seed for i in b]
    assert {i.id for i in brainstorm_items(small_config(seed=7))}.isdisjoint(
        i.id for i in brainstorm_items(small_config(seed=8)))


def test_every_placeholder_value_comes_from_the_taxonomy():
    cfg = small_config(groups={"short-long": {"tasks": 3, "examples": 150}, "long-short": {"tasks": 2, "examples": 150},
                               "short-short": {"tasks": 1, "examples": 20}, "long-long": {"tasks": 2, "examples": 20},
                               "sts": {"examples": 150}, "bitext": {"examples": 150}})
    seen: dict[str, set[str]] = {}
    for item in generate_items(cfg, TASKS):
        g = GROUPS[item.group]
        assert set(item.placeholders) == set(g.placeholders) | set(g.language_slots)
        for name, value in item.placeholders.items():
            allowed = ALL_LANGUAGES if name in ("language", "src_lang", "tgt_lang") else g.placeholders[name]
            assert value in allowed, (item.group, name, value)
            seen.setdefault(f"{item.group}/{name}", set()).add(value)
            # the sampled value reaches the prompt the model sees
            assert value in item.messages[0]["content"]
    # 150 draws cover each small value set, so no value is unreachable
    for group in ("short-long", "long-short", "sts", "bitext"):
        for name, options in GROUPS[group].placeholders.items():
            assert seen[f"{group}/{name}"] == set(options), (group, name)


def test_bitext_source_and_target_languages_always_differ():
    lopsided = {"mode": "custom", "weights": {"English": 1000, "French": 1, "Thai": 1}}
    for languages in (None, lopsided):
        extra = {"languages": languages} if languages else {}
        cfg = small_config(groups={"bitext": {"examples": 3000}}, **extra)
        pairs = [(i.placeholders["src_lang"], i.placeholders["tgt_lang"]) for i in generate_items(cfg, {})]
        assert len(pairs) == 3000
        assert all(src != tgt for src, tgt in pairs)
    # with English nearly always drawn first, the target is the other side's pick
    assert Counter(src for src, _ in pairs)["English"] > 2900


def test_custom_language_weights_restrict_the_languages():
    weights = {"Welsh": 2, "Thai": 1, "Swahili": 1, "French": 0}
    cfg = small_config(groups={"sts": {"examples": 400}, "bitext": {"examples": 400}},
                       languages={"mode": "custom", "weights": weights})
    used = Counter()
    for item in generate_items(cfg, {}):
        for slot in ("language", "src_lang", "tgt_lang"):
            if slot in item.placeholders:
                used[item.placeholders[slot]] += 1
    assert set(used) == {"Welsh", "Thai", "Swahili"}  # a zero weight never appears
    assert used["Welsh"] > used["Thai"]


def test_language_frequencies_follow_the_paper_weights():
    weights = paper_language_weights()
    sampler = LanguageSampler(weights)
    rng = random.Random(12345)
    n = 20_000
    counts = Counter(sampler.one(rng) for _ in range(n))
    assert abs(counts["English"] / n - 0.431) < 0.015
    for lang in ("Polish", "Japanese", "Russian", "Spanish", "Chinese", "Arabic"):
        assert abs(counts[lang] / n - weights[lang] / 100) < 0.007, lang
    others = sum(c for lang, c in counts.items() if weights[lang] < 1)
    assert abs(others / n - 0.198) < 0.015
    assert len(counts) > 85  # the long tail is really sampled


def test_plan_items_carry_the_language_distribution():
    cfg = small_config(groups={"sts": {"examples": 3000}})
    langs = Counter(i.placeholders["language"] for i in generate_items(cfg, {}))
    assert 0.39 < langs["English"] / 3000 < 0.47


@pytest.mark.parametrize("text,expected", [("0/4", (0, 4)), ("3/4", (3, 4)), ("0/1", (0, 1)), (None, (0, 1))])
def test_shard_parse_accepts(text, expected):
    shard = Shard.parse(text)
    assert (shard.k, shard.n) == expected


@pytest.mark.parametrize("text", ["4/4", "x", "1/0", "-1/4", "1/2/3", "a/b", "2", ""])
def test_shard_parse_rejects(text):
    with pytest.raises(ValueError, match="--shard"):
        Shard.parse(text)


def test_shards_split_the_plan_disjointly_and_cover_it():
    cfg = small_config()
    full = {i.index: i.id for i in generate_items(cfg, TASKS)}
    n = 3
    parts = [[(i.index, i.id) for i in select(generate_items(cfg, TASKS), Shard(k, n), None)] for k in range(n)]
    indices = [{idx for idx, _ in p} for p in parts]
    for a, b in itertools.combinations(indices, 2):
        assert not a & b
    assert set().union(*indices) == set(full)
    # a shard's item is the very item of the full plan (same id), not a re-sampled one
    assert all(full[idx] == item_id for p in parts for idx, item_id in p)
    assert all(len(p) >= len(full) // n for p in parts)


def test_limit_takes_a_prefix():
    cfg = small_config()
    full = [i.id for i in generate_items(cfg, TASKS)]
    assert [i.id for i in select(generate_items(cfg, TASKS), Shard(), 5)] == full[:5]
    assert list(select(generate_items(cfg, TASKS), Shard(), 0)) == []
    assert [i.id for i in select(generate_items(cfg, TASKS), Shard(), 10_000)] == full
    # with a shard, the limit counts that shard's items
    shard_items = [i.id for i in select(generate_items(cfg, TASKS), Shard(1, 3), None)]
    assert [i.id for i in select(generate_items(cfg, TASKS), Shard(1, 3), 4)] == shard_items[:4]


def test_interleaved_prefixes_hold_every_group_in_proportion():
    counts = {g: n * 10 for g, n in PAPER_EXAMPLES_K.items()}
    total = sum(counts.values())
    seen = dict.fromkeys(counts, 0)
    for length, (group, k) in enumerate(_interleaved(counts), 1):
        assert k == seen[group]  # each group's examples come in order
        seen[group] += 1
        for g, n in counts.items():
            assert abs(seen[g] - length * n / total) <= 1, (length, g)
    assert seen == counts


def test_first_tenth_of_a_real_plan_holds_each_group_in_proportion():
    groups = {g: {"examples": n * 2} for g, n in PAPER_EXAMPLES_K.items()}
    for g in groups:
        if GROUPS[g].brainstorm:
            groups[g]["tasks"] = 5
    cfg = small_config(groups=groups)
    total = sum(v["examples"] for v in groups.values())
    head = list(itertools.islice(generate_items(cfg, TASKS), total // 10))
    got = Counter(i.group for i in head)
    for g, v in groups.items():
        assert abs(got[g] - len(head) * v["examples"] / total) <= 1, g


def test_empty_groups_are_skipped_by_the_interleaving():
    assert list(_interleaved({"a": 0, "b": 2})) == [("b", 0), ("b", 1)]


def test_brainstorm_example_k_uses_task_k_mod_len():
    cfg = small_config()
    items = [i for i in generate_items(cfg, TASKS) if GROUPS[i.group].brainstorm]
    assert items
    for item in items:
        expected = TASKS[item.group][item.k % len(TASKS[item.group])]
        assert item.task == expected
        assert expected in item.messages[0]["content"]
    symmetric = [i for i in generate_items(cfg, TASKS) if not GROUPS[i.group].brainstorm]
    assert symmetric and all(i.task is None for i in symmetric)


def test_missing_tasks_fail_at_the_call_not_mid_run():
    cfg = small_config()
    with pytest.raises(ValueError, match="short-short"):
        generate_items(cfg, {k: v for k, v in TASKS.items() if k != "short-short"})


def test_brainstorm_plan_has_ceil_tasks_over_per_call_items():
    cfg = small_config(groups={"short-long": {"tasks": 45, "examples": 1}, "sts": {"examples": 1}},
                       brainstorm={"tasks_per_call": 20})
    items = list(brainstorm_items(cfg))
    assert [(i.group, i.k, i.index) for i in items] == [("short-long", k, k) for k in range(3)]
    assert all("20" in i.messages[0]["content"] for i in items)


def test_items_are_yielded_lazily_from_a_ten_million_example_plan():
    cfg = parse_config({"seed": 3, "groups": {"short-long": {"tasks": 5, "examples": 10_000_000},
                                               "bitext": {"examples": 10_000_000}}})
    tracemalloc.start()
    try:
        start = time.perf_counter()
        items = generate_items(cfg, {"short-long": TASKS["short-long"]})
        first = next(items)
        assert time.perf_counter() - start < 1.0
        assert first.index == 0
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        last = None
        for last in itertools.islice(items, 1000):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last is not None and last.index == 1000
    # 20 million items held at once would take gigabytes; a streamed plan holds about one
    assert peak - before < 1_000_000, peak - before


def test_item_ids_hash_the_same_json_as_always():
    # an id must never change between versions, or a journal written earlier would not resume:
    # the direct form of the one-message blob must equal json.dumps(sort_keys=True) exactly
    import hashlib
    import json
    import random

    from synthgen.plan import _item_id

    rng = random.Random(3)
    alphabet = 'ab "\\\n\t\u00e9\u2028\u0000\ud7ff東/<>'
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        stage, group = rng.choice(["generate", "brainstorm"]), rng.choice(["short-long", "sts", "bitext"])
        k, seed = rng.randint(0, 10**6), rng.randint(0, 2**31)
        blob = json.dumps([stage, group, k, [{"role": "user", "content": text}], seed], ensure_ascii=False,
                          sort_keys=True)
        assert _item_id(stage, group, k, text, seed) == hashlib.sha256(blob.encode()).hexdigest()[:20]
    # and the items of a plan carry the id of exactly the messages they hold
    cfg = small_config()
    for item in itertools.chain(brainstorm_items(cfg), generate_items(cfg, TASKS)):
        blob = json.dumps([item.stage, item.group, item.k, item.messages, item.seed], ensure_ascii=False,
                          sort_keys=True)
        assert item.id == hashlib.sha256(blob.encode()).hexdigest()[:20]
