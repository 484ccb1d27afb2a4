"""What the language model costs in RSS, loaded as synthgen loads it and as `set_languages` would.

    python bench/langid_memory.py

Each way runs in a fresh interpreter (numpy and py3langid imported first, so only the model
counts); both are run three times, interleaved, and the medians printed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = """
import numpy, py3langid.langid
from synthgen.quality import langid
def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024
before = rss()
if sys.argv[1] == "set_languages":
    m = py3langid.langid.LanguageIdentifier.from_model_file(py3langid.langid.MODEL_FILE, norm_probs=True)
    m.set_languages(langid.classes())
else:
    m = langid.identifier()
print(rss() - before)
"""


def main() -> None:
    runs: dict[str, list[float]] = {"set_languages": [], "synthgen": []}
    for _ in range(3):
        for way in runs:
            out = subprocess.run([sys.executable, "-c", "import sys\n" + PROBE, way], capture_output=True,
                                 text=True, check=True).stdout
            runs[way].append(float(out))
    for way, mbs in runs.items():
        print(f"{way:14s} model RSS median {statistics.median(mbs):.1f} MB  ({', '.join(f'{m:.1f}' for m in mbs)})")


if __name__ == "__main__":
    main()
