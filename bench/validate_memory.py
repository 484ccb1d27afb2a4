"""Peak memory of `synthgen validate RUN` as the run grows: it should not grow with the run.

    python bench/validate_memory.py                 # 20000 and 100000 synthetic examples
    python bench/validate_memory.py --sizes 5000 50000

Each size gets a synthetic run directory (run.json with a config, examples in parts of 10,000
short-long records: English texts of random words, one in fifty an exact copy of an earlier
one, one in fifty a one-word edit of one), then a real `synthgen validate RUN` process, all
checks on, watched every 20 ms for its peak RSS (and its wall time). The ratio of the peaks is
the figure: 1.0 is flat.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("the a river town harbour school market winter summer road bridge garden window paper stone "
         "cloud train station library museum village mountain forest field island coast city north "
         "south east west morning evening family worker teacher doctor farmer council ferry boat").split()
PART = 10_000


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def make_run(run: Path, n: int, seed: int = 1) -> None:
    from synthgen.config import RunConfig

    cfg = RunConfig.model_validate({"groups": {"short-long": {"tasks": 10, "examples": n}},
                                    "languages": {"mode": "custom", "weights": {"English": 1}}})
    (run / "examples").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": cfg.model_dump(mode="json")}))
    rng = random.Random(seed)
    recent: list[str] = []
    for part in range(0, n, PART):
        with open(run / "examples" / f"part-{part // PART:05d}.jsonl", "w") as f:
            for i in range(part, min(n, part + PART)):
                doc = _text(rng, rng.randint(60, 160))
                if recent and rng.random() < 0.02:
                    doc = rng.choice(recent)  # an exact copy
                elif recent and rng.random() < 0.02:
                    w = rng.choice(recent).split()
                    w[len(w) // 2] = "changed"
                    doc = " ".join(w)  # a near-copy
                recent = (recent + [doc])[-50:]
                rec = {"id": f"generate-{i}", "group": "short-long", "task": "Find articles about towns.",
                       "placeholders": {"language": "English", "num_words": "100", "query_length": "5 to 15 words",
                                        "query_type": "common", "clarity": "clear", "difficulty": "college"},
                       "user_query": _text(rng, 8), "positive_document": doc,
                       "hard_negative_document": _text(rng, rng.randint(60, 160)),
                       "model": "scripted", "item_index": i, "attempts": 1, "flags": [], "langid": "ok"}
                f.write(json.dumps(rec) + "\n")


def peak_rss(argv: list[str]) -> tuple[float, int, str]:
    """(wall s, peak RSS bytes, stdout) of a command, sampled every 20 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            for line in open(f"/proc/{proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"validate failed: {err.strip()[-500:]}")
    return time.perf_counter() - t0, peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="synthgen-bench-") as tmp:
        for n in args.sizes:
            run = Path(tmp) / f"run-{n}"
            make_run(run, n)
            wall, peak, out = peak_rss([sys.executable, "-m", "synthgen", "validate", str(run), "--json"])
            report = json.loads(out)
            rows.append({"examples": n, "wall_s": round(wall, 1), "peak_rss_mb": round(peak / 2**20, 1),
                         "failed_by_reason": report["failed_by_reason"]})
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for r in rows[1:]:
        print(f"peak RSS {r['examples']} / {base['examples']} examples = {r['peak_rss_mb'] / base['peak_rss_mb']:.3f} "
              f"({r['peak_rss_mb']} MB vs {base['peak_rss_mb']} MB)")


if __name__ == "__main__":
    main()
