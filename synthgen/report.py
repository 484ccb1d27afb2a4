"""`synthgen stats`: what a run made, what it rejected and why, how well it kept the guidelines,
what it cost. Counts come from the published files (one streaming pass, synthgen.quality.summary);
run.json adds tokens, cost, status and timing; where the two disagree, a warning says so."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .integrity import check_run_journal, verify_parts
from .manifest import read_manifest
from .quality.summary import summarize

REPORT_VERSION = 1
MAX_LANGUAGES = 15  # terminal rows; the rest are summed in one


def _ratio(a: float | None, b: float | None, digits: int = 4) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def _warnings(manifest: dict, summary: dict) -> list[str]:
    out = []
    stages = manifest.get("stages", {})
    for stage in ("brainstorm", "generate"):
        status = stages.get(stage, {}).get("status")
        if status not in (None, "complete", "not started"):
            out.append(f"{stage} is {status}: the counts cover what it finished")
    parts = summary["files"]["open_parts_ignored"]
    if parts:
        out.append(f"{len(parts)} unpublished part(s) not counted ({', '.join(parts[:3])}"
                   f"{', ...' if len(parts) > 3 else ''}): the run is in progress or was interrupted")
    gen, m_gen = summary["generate"], stages.get("generate", {})
    for key, m_key in (("items", "items_committed"), ("accepted", "accepted"), ("rejected", "rejected")):
        if m_key in m_gen and m_gen[m_key] != gen[key]:
            out.append(f"generate {key}: the files hold {gen[key]}, run.json counts {m_gen[m_key]}")
    m_bs = stages.get("brainstorm", {})
    kept = summary["brainstorm_files"]["tasks_kept"]
    if "accepted" in m_bs and m_bs["accepted"] != kept:
        out.append(f"brainstorm tasks: tasks/ holds {kept}, run.json counts {m_bs['accepted']}")
    out += [f"{what}: {n}" for what, n in summary["files"]["problems"].items()]
    return out


def load_report(run_dir: Path) -> dict:
    """The full report as a JSON-able dict with stable keys (see `synthgen stats --json`)."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    check_run_journal(run_dir)
    verify_parts(run_dir, manifest)
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    policies = (config.get("validation") or {}).get("rules") or {}
    summary = summarize(run_dir, policies)
    stages, gen = manifest.get("stages", {}), summary["generate"]
    tokens = manifest.get("tokens", {}) or {}
    total_tokens = (tokens.get("prompt_tokens") or 0) + (tokens.get("completion_tokens") or 0)
    cost, m_bs = manifest.get("cost_usd"), stages.get("brainstorm", {})
    return {
        "report_version": REPORT_VERSION,
        "run_dir": str(run_dir),
        "fingerprint": manifest.get("fingerprint"),
        "shard": manifest.get("shard"),
        "updated": manifest.get("updated"),
        "elapsed_s": manifest.get("elapsed_s"),
        "request_failures": manifest.get("request_failures", 0),
        "status": {s: stages.get(s, {}).get("status", "not started") for s in ("brainstorm", "generate")},
        "generate": {**gen, "shortfall": stages.get("generate", {}).get("shortfall", {})},
        **{k: summary[k] for k in ("adherence", "lengths", "duplicates", "language_check")},
        "tokens": {
            "prompt_tokens": tokens.get("prompt_tokens", 0),
            "completion_tokens": tokens.get("completion_tokens", 0),
            "total": total_tokens,
            "responses": tokens.get("responses", 0),
            "estimated_usage_responses": tokens.get("estimated_usage_responses", 0),  # no usage from the server
            "by_stage": {s: stages.get(s, {}).get("tokens", {}) for s in ("brainstorm", "generate")},
            "per_accepted": _ratio(total_tokens, gen["accepted"], 1),
            "in_accepted_examples": summary["accepted_usage"],
            "cost_usd": cost,
            "cost_per_accepted_usd": _ratio(cost, gen["accepted"], 8),
            "cost_by_model": manifest.get("cost_by_model", {}),
        },
        "brainstorm": {
            "status": m_bs.get("status", "not started"),
            "calls": m_bs.get("items_committed", 0),
            **summary["brainstorm_files"],  # tasks_kept, surplus, rejected, rejected_by_reason, by_group
        },
        "files": summary["files"],
        "warnings": _warnings(manifest, summary),
        # run.json's own counters, unchanged (what the journal says)
        "stages": stages,
        # batch mode: each job's wave, state and request counts
        "batches": manifest.get("batches", []),
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _top(d: dict, n: int = 3) -> str:
    items = list(d.items())
    more = f", +{len(items) - n} more" if len(items) > n else ""
    return ", ".join(f"{k} {v}" for k, v in items[:n]) + more


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence], whole_first: bool = True) -> Table:
    """A table of `rows` (each cell as str) whose columns are right-aligned, except those named with
    a leading '<'."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):  # on a narrow terminal the other columns wrap, never the names
        t.add_column(col.lstrip("<"), justify="left" if col.startswith("<") else "right",
                     no_wrap=whole_first and i == 0)
    for row in rows:
        t.add_row(*map(str, row))
    return t


PIPED_WIDTH = 132  # wide enough for every table of `stats`, reject reasons included


def render_text(report: dict) -> None:
    """Rich tables on the terminal, one per question a reader asks of a run."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=PIPED_WIDTH)  # a CI log or a file: rich's 80 columns cut the figures
    st = report["status"]
    console.print(f"[bold]{escape(report['run_dir'])}[/bold]  fingerprint {report['fingerprint']}  shard {report['shard']}  "
                  f"brainstorm: {st['brainstorm']}  generate: {st['generate']}"
                  + (f"  elapsed {report['elapsed_s']}s" if report["elapsed_s"] is not None else ""))
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    for g, v in report["generate"]["shortfall"].items():
        console.print(f"[yellow]short of target:[/yellow] {g} has {v['accepted']} of {v['target']} accepted "
                      "examples after the top-up rounds")
    _render_examples(report, console)
    _render_guidelines(report, console)
    _render_languages(report, console)
    _render_brainstorm_and_cost(report, console)
    _render_batches(report, console)


def _render_batches(report: dict, console: Console) -> None:
    # job names are long (fingerprint, shard, stage, wave): they wrap, the states stay readable
    rows = [(b["name"], b["wave"], b["status"], b["requests"], b["completed"], b["failed"],
             "yes" if b["ingested"] else "no") for b in report["batches"]]
    if rows:
        console.print(_table("batches", ("<job", "wave", "<state", "requests", "done", "failed", "<read"),
                             rows, whole_first=False))


def _render_examples(report: dict, console: Console) -> None:
    gen = report["generate"]
    keys = ("items", "accepted", "rejected", *(("surplus",) if gen["surplus"] else ()))  # they add up
    rows = [(g, *(c[k] for k in keys), _pct(c["acceptance_rate"]), c["flagged"],
             _top(c["rejected_by_reason"])) for g, c in gen["by_group"].items()]
    rows.append(("[bold]all[/bold]", *(gen[k] for k in keys), _pct(gen["acceptance_rate"]),
                 gen["flagged"], ""))
    console.print(_table("generate: examples per group",
                         ("<group", *keys, "accept", "flagged", "<top reject reasons"), rows))
    if gen["surplus"]:
        console.print("  [dim]surplus: good examples past the group's target, kept in rejects/ "
                      "(not defects)[/dim]")
    if gen["rejected_by_reason"]:
        console.print(_table("generate: rejects by reason", ("<reason", "rejected", "of items"),
                             [(r, n, _pct(n / gen["items"])) for r, n in gen["rejected_by_reason"].items()]))


def _render_guidelines(report: dict, console: Console) -> None:
    rows = [(rule, r["policy"], r["validated"], r["rejected"], r["flagged"],
             _pct(r["adherence"]) if r["policy"] != "off" else "off")
            for rule, r in report["adherence"]["rules"].items()]
    console.print(_table("guideline adherence (share of validated items that passed)",
                         ("<rule", "<policy", "validated", "rejected", "flagged", "adherence"), rows))
    console.print(f"  [dim]note: {report['adherence']['note']}[/dim]")
    rows = []
    for g, fields in report["lengths"].items():
        for key, s in fields.items():
            asked = s["asked"]
            below = f"{asked['below']}/{asked['checked']} ({_pct(asked['share_below'])})" if asked else "-"
            rows.append((g, key, s["count"], s["min"], f"{s['median']:g}", s["max"], below))
    console.print(_table("words per field (accepted examples)",
                         ("<group", "<field", "n", "min", "median", "max", "below asked"), rows))


def _render_languages(report: dict, console: Console) -> None:
    langs = list(report["generate"]["by_language"].items())
    keys = ("items", "accepted", "rejected", *(("surplus",) if report["generate"]["surplus"] else ()))
    rows = [(escape(lang), *(c[k] for k in keys), _top(c["rejected_by_reason"], 2))
            for lang, c in langs[:MAX_LANGUAGES]]
    if len(langs) > MAX_LANGUAGES:
        rest = langs[MAX_LANGUAGES:]
        rows.append((f"[dim]{len(rest)} more[/dim]", *(sum(c[k] for _, c in rest) for k in keys), ""))
    console.print(_table(f"languages ({len(langs)})", ("<language", *keys, "<top reject reasons"), rows))
    d, lc = report["duplicates"], report["language_check"]
    verdicts = ", ".join(f"{k} {n}" for k, n in (lc["langid_verdicts"] or {}).items()) or "none"
    unchecked = (f"langid unchecked {lc['unchecked_texts']} ({verdicts})" if lc["langid_field_seen"]
                 else "langid verdicts not recorded in examples")
    console.print(f"duplicates: exact {d['exact']['count']} ({_pct(d['exact']['rate'])}), "
                  f"near {d['near']['count']} ({_pct(d['near']['rate'])}); wrong language "
                  f"{lc['wrong_language']['count']} ({_pct(lc['wrong_language']['rate'])}); {unchecked}")


def _render_brainstorm_and_cost(report: dict, console: Console) -> None:
    bs = report["brainstorm"]
    if bs["calls"] or bs["by_group"]:
        rows = [(g, c["kept"], c["surplus"], c["rejected"], _top(c["rejected_by_reason"]))
                for g, c in bs["by_group"].items()]
        rows.append(("[bold]all[/bold]", bs["tasks_kept"], bs["surplus"], bs["rejected"], ""))
        console.print(_table(f"brainstorm ({bs['status']}): {bs['calls']} calls",
                             ("<group", "kept", "surplus", "rejected", "<reasons"), rows))
        console.print("  [dim]surplus: good tasks past the group's quota, kept in rejects/ (not defects)[/dim]")
    tk = report["tokens"]
    cost, per = tk["cost_usd"], tk["cost_per_accepted_usd"]
    console.print(f"tokens: {tk['prompt_tokens']} prompt + {tk['completion_tokens']} completion in "
                  f"{tk['responses']} responses"
                  + (f" ({n} without the server's usage: counted here)" if (n := tk["estimated_usage_responses"]) else "")
                  + f"; {tk['per_accepted'] or '-'} per accepted example; cost: "
                  + (f"${cost:.4f} ({'no accepted examples' if per is None else f'${per:.6f} per accepted'})"
                     if cost is not None else "n/a (no price)")
                  + f"; request failures: {report['request_failures']}")
