"""Benchmark synthgen's quality checks against a naive datasketch baseline.

    python bench/quality.py                 # N=20000, about 1-2 minutes on 2 cores
    python bench/quality.py --n 100000

Phases, each in its own subprocess so peak RSS is its own:
  baseline  datasketch done the obvious way: MinHash(num_perm=128), update() once per word
            3-gram, MinHashLSH(threshold=0.9) query then insert. Slow (~100 records/s), so it
            runs on the first --baseline-n records only; rates and bytes/record are compared.
  synthgen  NearDupStore, what the pipeline uses: signature and LSH bands in the run journal
            (SQLite), committed every 1000 records, memory flat.
  langid    LanguageChecker.check() over hand-written passages and sentences (bench/langid_texts).
Throughput is records per CPU-second (time.process_time), so other load on the machine does not
distort the ratio; wall time is printed too.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

_SYLLABLES = ("ka", "lo", "mi", "ta", "ren", "sol", "vi", "dar", "nu", "pe", "qua", "ri", "zen",
              "mo", "fa", "gel", "tor", "bi", "sha", "un", "el", "or", "ix", "am")


def records(n: int, seed: int = 1) -> Iterator[tuple[str, str, str, float | None]]:
    """(key, text, kind, exact Jaccard to its source): 50-300 Zipf-distributed pseudo-words.

    kind "copy" (5%): a recent fresh record with case and spacing changed (Jaccard 1 after
    normalisation); "edit" (5%): a recent fresh record with one word replaced; "fresh": new
    text. Same n and seed, same records, on any machine.
    """
    from synthgen.quality.neardup import shingles
    from synthgen.quality.textnorm import normalize

    rng = random.Random(seed)
    vocab: set[str] = set()
    while len(vocab) < 30000:
        vocab.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    words = sorted(vocab)
    # A 65536-entry table with word i repeated ~1/(i+1) of the time: one 16-bit draw per word.
    harmonic = sum(1 / (i + 1) for i in range(len(words)))
    table: list[str] = []
    for i, w in enumerate(words):
        table.extend([w] * max(1, round(65536 / harmonic / (i + 1))))
    table = (table + [words[-1]] * 65536)[:65536]

    def draw(k: int) -> list[str]:
        return [table[i] for i in struct.unpack(f"<{k}H", rng.randbytes(2 * k))]

    recent: list[str] = []
    for i in range(n):
        key, r = f"r{i:07d}", rng.random()
        if recent and r < 0.05:
            text = "  " + rng.choice(recent).upper().replace(" ", " \n ", 3)
            yield key, text, "copy", 1.0
        elif recent and r < 0.10:
            source = rng.choice(recent)
            parts = source.split()
            parts[rng.randrange(len(parts))] = draw(1)[0]
            text = " ".join(parts)
            a, b = set(shingles(normalize(source), 3)), set(shingles(normalize(text), 3))
            yield key, text, "edit", len(a & b) / len(a | b)
        else:
            text = " ".join(draw(rng.randint(50, 300)))
            recent.append(text)
            if len(recent) > 1000:
                recent.pop(rng.randrange(1000))
            yield key, text, "fresh", None


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_baseline(n: int, seed: int) -> dict:
    from datasketch import MinHash, MinHashLSH

    from synthgen.quality.neardup import shingles
    from synthgen.quality.textnorm import normalize

    lsh = MinHashLSH(threshold=0.9, num_perm=128)
    base, cpu, wall, dups, stored = _rss_mb(), 0.0, 0.0, 0, 0
    for key, text, _, _ in records(n, seed):
        c0, w0 = time.process_time(), time.perf_counter()
        m = MinHash(num_perm=128)
        for shingle in shingles(normalize(text), 3):
            m.update(shingle.encode("utf-8"))
        if lsh.query(m):
            dups += 1
        else:
            lsh.insert(key, m)
            stored += 1
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    return {"n": n, "cpu_s": cpu, "wall_s": wall, "dups": dups, "stored": stored,
            "rss_added_mb": _rss_mb() - base, "peak_rss_mb": _peak_mb()}


def phase_synthgen(n: int, seed: int, db: str, baseline_n: int) -> dict:
    from synthgen.journal import Journal
    from synthgen.quality.neardup import NearDupStore

    journal = Journal(Path(db))
    store = NearDupStore(journal, threshold=0.9)
    base, cpu, wall, dups, dups_prefix = _rss_mb(), 0.0, 0.0, 0, 0
    outcome: dict[str, int] = {}  # kind (edits split at Jaccard 0.9) -> caught / missed counts
    journal.begin()
    for i, (key, text, kind, jaccard) in enumerate(records(n, seed)):
        c0, w0 = time.process_time(), time.perf_counter()
        hit = store.check_and_add("document", key, text)
        if i % 1000 == 999:
            journal.commit()
            journal.begin()
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        dups += hit is not None
        dups_prefix += hit is not None and i < baseline_n
        if kind == "edit":
            kind = "edit J>=0.95" if jaccard >= 0.95 else "edit 0.9<=J<0.95" if jaccard >= 0.9 else "edit J<0.9"
        label = f"{kind} {'caught' if hit else 'passed'}"
        outcome[label] = outcome.get(label, 0) + 1
    journal.commit()
    stored = journal.db.execute("SELECT COUNT(*) FROM neardup").fetchone()[0]
    journal.close()
    return {"n": n, "cpu_s": cpu, "wall_s": wall, "dups": dups, "dups_in_baseline_prefix": dups_prefix,
            "stored": stored, "rss_added_mb": _rss_mb() - base, "peak_rss_mb": _peak_mb(), "outcome": outcome}


def phase_langid(n: int) -> dict:
    from langid_compare import samples
    from langid_texts import PASSAGES

    from synthgen.quality.langid import LanguageChecker

    texts = [(lang, t) for lang, p in PASSAGES.items() for b in ("sentence", "100w") for t in samples(lang, p)[b]]
    base = _rss_mb()
    c0 = time.perf_counter()
    checker = LanguageChecker()
    checker.check("Warm-up text, long enough to make the checker load its model.", "English")
    load_s = time.perf_counter() - c0
    verdicts: dict[str, int] = {}
    cpu = wall = 0.0
    for i in range(n):
        lang, text = texts[i % len(texts)]
        c0, w0 = time.process_time(), time.perf_counter()
        v = checker.check(text, lang)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        verdicts[v] = verdicts.get(v, 0) + 1
    return {"n": n, "cpu_s": cpu, "wall_s": wall, "load_s": load_s, "verdicts": verdicts,
            "rss_added_mb": _rss_mb() - base, "peak_rss_mb": _peak_mb()}


def _run(phase: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--n", str(args.n), "--seed", str(args.seed),
           "--baseline-n", str(args.baseline_n), "--langid-n", str(args.langid_n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description="Benchmark synthgen's quality checks.")
    ap.add_argument("--n", type=int, default=20000, help="synthetic records for NearDupStore")
    ap.add_argument("--baseline-n", type=int, default=2000, help="records for the slow baseline")
    ap.add_argument("--langid-n", type=int, default=5000, help="language checks")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--phase", choices=("baseline", "synthgen", "langid"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.baseline_n = min(args.baseline_n, args.n)

    if args.phase == "baseline":
        print(json.dumps(phase_baseline(args.baseline_n, args.seed)))
        return
    if args.phase == "synthgen":
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(phase_synthgen(args.n, args.seed, tmp, args.baseline_n)))
        return
    if args.phase == "langid":
        print(json.dumps(phase_langid(args.langid_n)))
        return

    print(f"near-duplicates: {args.n} records (baseline: first {args.baseline_n}), seed {args.seed}")
    base = _run("baseline", args)
    ours = _run("synthgen", args)
    b_rate, o_rate = base["n"] / base["cpu_s"], ours["n"] / ours["cpu_s"]
    b_bpr = base["rss_added_mb"] * 2**20 / max(base["stored"], 1)
    o_bpr = ours["rss_added_mb"] * 2**20 / max(ours["stored"], 1)
    print(f"  baseline (datasketch naive): {b_rate:9.0f} rec/s CPU ({base['n'] / base['wall_s']:.0f} wall), "
          f"{base['dups']} dups, ~{b_bpr:.0f} B/record RSS, peak RSS {base['peak_rss_mb']:.0f} MB")
    print(f"  synthgen NearDupStore:       {o_rate:9.0f} rec/s CPU ({ours['n'] / ours['wall_s']:.0f} wall), "
          f"{ours['dups']} dups ({ours['dups_in_baseline_prefix']} in the baseline's prefix), "
          f"~{o_bpr:.0f} B/record RSS, peak RSS {ours['peak_rss_mb']:.0f} MB")
    print(f"  synthgen outcomes by injected kind: {dict(sorted(ours['outcome'].items()))}")
    print(f"  ratio synthgen/baseline: throughput x{o_rate / b_rate:.0f}, memory per record x{o_bpr / b_bpr:.2f}")
    lang = _run("langid", args)
    per = lang["cpu_s"] / lang["n"] * 1e6
    print(f"language checks: {lang['n']} sentences and ~100-word passages, 25 languages")
    print(f"  LanguageChecker: {lang['n'] / lang['cpu_s']:.0f} checks/s CPU ({per:.0f} us each), "
          f"model load {lang['load_s']:.2f} s, +{lang['rss_added_mb']:.0f} MB RSS, verdicts {lang['verdicts']}")


if __name__ == "__main__":
    main()
