"""`synthgen stats`: what a run made, what it rejected and why, what it cost."""

from __future__ import annotations

import json
from pathlib import Path


class ReportError(ValueError):
    pass


def load_report(run_dir: Path) -> dict:
    from .pipeline import RunError

    path = Path(run_dir) / "run.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{run_dir} is not a synthgen run directory (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    return {
        "run_dir": str(run_dir),
        "fingerprint": manifest.get("fingerprint"),
        "shard": manifest.get("shard"),
        "stages": manifest.get("stages", {}),
        "tokens": manifest.get("tokens", {}),
        "cost_usd": manifest.get("cost_usd"),
        "request_failures": manifest.get("request_failures", 0),
        "elapsed_s": manifest.get("elapsed_s"),
    }


def render_text(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{report['run_dir']}[/bold]  fingerprint {report['fingerprint']}  shard {report['shard']}")
    for stage, s in report["stages"].items():
        table = Table(title=f"{stage} ({s.get('status')})")
        table.add_column("group")
        table.add_column("items", justify="right")
        table.add_column("accepted", justify="right")
        table.add_column("rejected", justify="right")
        table.add_column("top reasons")
        for group, c in s.get("by_group", {}).items():
            reasons = {k[9:]: n for k, n in c.items() if k.startswith("rejected:")}
            top = ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
            table.add_row(group, str(c.get("items", 0)), str(c.get("accepted", 0)), str(sum(reasons.values())), top)
        table.add_row("[bold]all[/bold]", str(s.get("items_committed", 0)), str(s.get("accepted", 0)),
                      str(s.get("rejected", 0)), "")
        console.print(table)
        if s.get("rejected_by_reason"):
            console.print("  rejected by reason: " + ", ".join(f"{k}={n}" for k, n in s["rejected_by_reason"].items()))
    t = report["tokens"]
    cost = report.get("cost_usd")
    console.print(f"tokens: {t.get('prompt_tokens', 0)} prompt + {t.get('completion_tokens', 0)} completion "
                  f"in {t.get('responses', 0)} responses; cost: {'$%.4f' % cost if cost is not None else 'n/a (no price)'}; "
                  f"request failures: {report.get('request_failures', 0)}; elapsed {report.get('elapsed_s')}s")
