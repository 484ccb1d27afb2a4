"""Compare language detectors on short texts, and measure synthgen's LanguageChecker.

    python bench/langid_compare.py                # every detector that is installed
    python bench/langid_compare.py --only checker
    python bench/langid_compare.py --sweep       # error rate by letter count (sets MIN_LETTERS)

Each detector runs in its own subprocess so load time and peak RSS are its own. Samples are cut
from bench/langid_texts.py: 5-word and 15-word windows (8 and 25 characters for Chinese and
Japanese), single sentences, and whole ~100-word passages. Per-call times are CPU time
(time.process_time), so other load on the machine does not inflate them.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from langid_texts import PASSAGES

_NO_SPACES = {"Japanese", "Chinese"}
BUCKETS = ("5w", "15w", "sentence", "100w")
DETECTORS = ("py3langid", "lingua", "lingua-low", "checker")


def samples(lang: str, text: str) -> dict[str, list[str]]:
    """Non-overlapping windows of the passage, by bucket."""
    if lang in _NO_SPACES:
        units, sep, short, mid = list(re.sub(r"\s", "", text)), "", 8, 25
    else:
        units, sep, short, mid = text.split(), " ", 5, 15

    def cut(n: int) -> list[str]:
        return [sep.join(units[i : i + n]) for i in range(0, len(units) - n, n)]

    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？।])\s*", text) if len(s.strip()) > 3]
    return {"5w": cut(short), "15w": cut(mid), "sentence": sentences, "100w": [text]}


def _raw_detector(name: str):
    """(detect function returning a taxonomy name, supported names) for a raw library."""
    from synthgen.quality.langid import _CODES

    if name == "py3langid":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        back = {c: n for n, codes in _CODES.items() for c in codes}
        return (lambda t: back.get(ident.classify(t)[0])), set(_CODES)
    from lingua import Language, LanguageDetectorBuilder

    alias = {"Norwegian": ("BOKMAL", "NYNORSK"), "Filipino": ("TAGALOG",), "Slovenian": ("SLOVENE",)}
    by_name = {lang.name: lang for lang in Language.all()}
    back = {}
    for tax in _CODES:
        for n in alias.get(tax, (tax.upper(),)):
            if n in by_name:
                back[by_name[n]] = tax
    builder = LanguageDetectorBuilder.from_languages(*back)
    if name == "lingua-low":
        builder = builder.with_low_accuracy_mode()
    det = builder.build()
    return (lambda t: back.get(det.detect_language_of(t))), set(back.values())


def run_one(name: str) -> dict:
    """Measure one detector in this process; returns a JSON-able summary."""
    from synthgen.quality.langid import CONFUSABLE, LanguageChecker

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if name == "checker":
        checker = LanguageChecker()
        checker.detect("Warm-up text, long enough to make the checker load its model.")
        supported = {lang for lang in PASSAGES if checker.supports(lang)}
    else:
        detect, supported = _raw_detector(name)
        detect("Warm-up text, long enough to make the detector load its model.")
    load_s = time.perf_counter() - t0
    friends = {n: s for s in CONFUSABLE for n in s}
    langs = [lang for lang in PASSAGES if lang in supported]
    out: dict = {"detector": name, "languages": len(langs), "load_s": load_s, "buckets": {}}
    for bucket in BUCKETS:
        counts: dict[str, int] = {}
        times: list[float] = []
        errors = []
        for lang in langs:
            # A wrong-language probe: the passage checked against a language it is not in.
            wrong = "German" if lang == "English" else "English"
            for text in samples(lang, PASSAGES[lang])[bucket]:
                t1 = time.process_time()
                if name == "checker":
                    verdict = checker.check(text, lang)
                    times.append(time.process_time() - t1)
                    counts[verdict] = counts.get(verdict, 0) + 1
                    probe = checker.check(text, wrong)
                    counts["probe_" + probe] = counts.get("probe_" + probe, 0) + 1
                    if verdict == "mismatch":
                        errors.append((lang, checker.detect(text), text[:50]))
                else:
                    got = detect(text)
                    times.append(time.process_time() - t1)
                    exact = got == lang
                    ok = exact or got in friends.get(lang, ())
                    counts["exact"] = counts.get("exact", 0) + exact
                    counts["ok"] = counts.get("ok", 0) + ok
                    if not ok and bucket != "5w":
                        errors.append((lang, got, text[:50]))
        out["buckets"][bucket] = {
            "n": len(times),
            "counts": counts,
            "mean_us": statistics.mean(times) * 1e6,
            "median_us": statistics.median(times) * 1e6,
            "errors": errors[:10],
        }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_added_mb"] = out["peak_rss_mb"] - base_rss / 1024
    return out


def sweep() -> None:
    """Confident wrong answers by letter count: where the checker's minimum length comes from."""
    from synthgen.quality import langid as lg

    names = {c: n for n, codes in lg._CODES.items() for c in codes}
    friends = {n: s for s in lg.CONFUSABLE for n in s}
    stats: dict[int, dict[str, int]] = {}
    for lang, text in PASSAGES.items():
        if lang in _NO_SPACES:
            flat = re.sub(r"\s", "", text)
            windows = [flat[i : i + n] for n in range(2, 14) for i in range(0, len(flat) - n, n)]
        else:
            w = text.split()
            windows = [" ".join(w[i : i + n]) for n in range(1, 9) for i in range(0, len(w) - n, n)]
        for window in windows:
            letters = lg.letter_count(window)
            code, conf = lg.identifier().classify(lg.head(window))  # no minimum length here
            name = names.get(code)
            st = stats.setdefault(min(letters // 4 * 4, 48), {"n": 0, "wrong": 0, "right": 0})
            st["n"] += 1
            right = name == lang or name in friends.get(lang, ())
            st["right"] += right and conf >= lg.MIN_CONFIDENCE
            st["wrong"] += (not right) and name is not None and conf >= lg.MIN_CONFIDENCE
    print(f"confidence threshold {lg.MIN_CONFIDENCE}; 'wrong' is what check() would call a mismatch")
    for b, st in sorted(stats.items()):
        n = st["n"]
        print(f"  letters {b:2}-{b + 3:2}  n={n:4}  confident-wrong={st['wrong'] / n:.4f}  "
              f"confident-right={st['right'] / n:.3f}")


def _print(res: dict) -> None:
    print(
        f"{res['detector']}: {res['languages']} languages, load+first call {res['load_s'] * 1000:.0f} ms, "
        f"peak RSS {res['peak_rss_mb']:.0f} MB"
    )
    for bucket, b in res["buckets"].items():
        n = b["n"]
        rates = " ".join(f"{k}={v / n:.3f}" for k, v in sorted(b["counts"].items()))
        print(f"  {bucket:9} n={n:4} {rates}  mean={b['mean_us']:.0f}us median={b['median_us']:.0f}us")
        for e in b["errors"]:
            print(f"      miss: expected {e[0]}, got {e[1]}: {e[2]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=DETECTORS)
    ap.add_argument("--sweep", action="store_true", help="error rate by text length")
    ap.add_argument("--child", choices=DETECTORS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sweep:
        sweep()
        return
    if args.child:
        print(json.dumps(run_one(args.child)))
        return
    for name in [args.only] if args.only else DETECTORS:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", name], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print(f"{name}: failed ({proc.stderr.strip().splitlines()[-1:]})")
            continue
        _print(json.loads(proc.stdout))


if __name__ == "__main__":
    main()
