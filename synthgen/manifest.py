"""run.json: a readable summary of the journal (the truth), written atomically so a reader always
finds it whole. `parts` lists each published part's records, size and sha256, so stats, validate
and merge can tell a lost or cut part."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections import Counter
import platform
import time
from pathlib import Path

from . import __version__
from .config import RunConfig
from .errors import RunError, StorageError
from .batch.ledger import Ledger
from .integrity import disk_faults
from .journal import Journal
from .shards import part_name, published


_REWRITE = "rerun the command that made the run to rewrite it from the journal"


def read_manifest(run_dir: Path) -> dict:
    """A run directory's run.json, or a one-line RunError saying why it cannot be read."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is not a synthgen run directory (not a directory)")
    path = run_dir / "run.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{run_dir} is not a synthgen run directory (no run.json)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # a damaged file (exit 1)
        raise StorageError(f"cannot read {path}: {exc}; {_REWRITE}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages", {}), dict):
        raise StorageError(f"cannot read {path}: not a synthgen run.json; {_REWRITE}")
    return manifest


def atomic_write_json(path: Path, data: dict) -> None:
    """A full disk leaves the previous file whole and no .tmp behind (a StorageError)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with disk_faults(path):
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, ensure_ascii=False)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)


# the run-wide token counts run.json carries (a merged run sums its parts')
TOKEN_KEYS = ("prompt_tokens", "completion_tokens", "responses", "estimated_usage_responses")


def parts_of(journal: Journal) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for kind, part, records, size, sha in published(journal):
        out.setdefault(kind, []).append({"name": part_name(part), "records": records, "bytes": size, "sha256": sha})
    return out


def cost_of(cfg: RunConfig, journal: Journal) -> tuple[float | None, dict[str, float]]:
    """Total cost from the price table (batch answers at batch prices); None when the
    configured model has no price."""
    if cfg.llm.model not in cfg.prices:
        return None, {}
    total, per_model = 0.0, {}
    for model, batch, prompt, completion in journal.tokens_by_model():
        name = model or cfg.llm.model
        # a model without a price of its own (a server answering under another name): the configured one's
        rate_in, rate_out = cfg.prices.get(name, cfg.prices[cfg.llm.model]).rates(bool(batch))
        c = (prompt or 0) / 1e6 * rate_in + (completion or 0) / 1e6 * rate_out
        per_model[name] = round(per_model.get(name, 0.0) + c, 6)
        total += c
    return round(total, 6), per_model


@functools.cache
def _versions() -> dict[str, str]:
    """Read once per process: parsing METADATA files takes ~10 ms, run.json is rewritten every 2 s."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"synthgen": __version__, "python": platform.python_version()}
    for pkg in ("openai", "pydantic", "aiohttp"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def write_manifest(cfg: RunConfig, journal: Journal, run_dir: Path, session_elapsed: float) -> None:
    """run.json from the journal's counts, written atomically."""
    counters = journal.counters()
    tokens = journal.token_totals()
    cost, cost_by_model = cost_of(cfg, journal)
    prior = float(journal.get_meta("elapsed_s", "0") or 0)
    stages = {}
    for stage in ("brainstorm", "generate"):
        groups = counters.get(stage, {})
        reasons: Counter[str] = Counter()
        for g in groups.values():
            reasons.update({k[9:]: n for k, n in g.items() if k.startswith("rejected:")})
        stages[stage] = {
            "status": journal.get_meta(f"status:{stage}", "not started"),
            "items_committed": sum(g.get("items", 0) for g in groups.values()),
            "accepted": sum(g.get("accepted", 0) for g in groups.values()),
            "rejected": sum(reasons.values()),
            "surplus": sum(g.get("surplus", 0) for g in groups.values()),
            "shortfall": json.loads(journal.get_meta(f"shortfall:{stage}") or "{}"),
            "rejected_by_reason": dict(sorted(reasons.items())),
            "by_group": {name: dict(sorted(c.items())) for name, c in sorted(groups.items())},
            "tokens": tokens.get(stage, {"responses": 0, "prompt_tokens": 0, "completion_tokens": 0}),
        }
    data = {
        "synthgen_manifest": 1,
        "run_dir": str(run_dir),
        "fingerprint": cfg.fingerprint(),
        "shard": journal.get_meta("shard", "0/1"),
        "tasks": journal.get_meta("tasks"),  # the digest of the stage 1 tasks stage 2 worked from
        "batches": Ledger(journal).summary(),
        "versions": dict(_versions()),
        "stages": stages,
        "tokens": {k: sum(t.get(k, 0) for t in tokens.values()) for k in TOKEN_KEYS},
        "request_failures": journal.failure_count(),
        "cost_usd": cost,
        "cost_by_model": cost_by_model,
        "elapsed_s": round(prior + session_elapsed, 3),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parts": parts_of(journal),
        "config": cfg.model_dump(mode="json"),
    }
    atomic_write_json(Path(run_dir) / "run.json", data)
