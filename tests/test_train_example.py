"""examples/train_sentence_transformers.py runs to the end on the packaged model (the `train` extra)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from export_helpers import make_run

pytest.importorskip("sentence_transformers")
pytest.importorskip("datasets")
pytest.importorskip("all_minilm_l6_v2")

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "train_sentence_transformers.py"


@pytest.mark.timeout(600)
def test_example_fine_tunes_and_reports_ndcg_before_and_after(tmp_path):
    run = make_run(tmp_path / "r", sl=20)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SCRIPT.parent.parent), os.environ.get("PYTHONPATH", "")]),
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    r = subprocess.run([sys.executable, str(SCRIPT), str(run), "--out", str(tmp_path / "work"), "--steps", "3",
                        "--batch-size", "4", "--max-seq-length", "64", "--model-dir", str(tmp_path / "model"),
                        "--save", str(tmp_path / "tuned")],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    before = float(re.search(r"^nDCG@10 before: ([0-9.]+)$", r.stdout, re.M).group(1))
    after = float(re.search(r"^nDCG@10 after: ([0-9.]+)$", r.stdout, re.M).group(1))
    steps, rate = re.search(r"^training: (\d+) steps in [0-9.]+ s \(([0-9.]+) steps/s", r.stdout, re.M).groups()
    assert 0 < before <= 1 and 0 < after <= 1
    assert int(steps) == 3 and float(rate) > 0
    # it evaluated on the held-out queries of the mteb export, and the trained model was written
    held = sum(len((p / "queries.jsonl").read_text().splitlines())
               for p in (tmp_path / "work" / "mteb").iterdir() if p.is_dir())
    assert f"held out: {held} queries" in r.stdout
    assert json.loads((tmp_path / "work" / "mteb" / "export.json").read_text())["examples"]["eval"] > 0
    assert (tmp_path / "tuned" / "modules.json").exists()
    print(r.stdout)  # the figures, for the record (pytest -s)
