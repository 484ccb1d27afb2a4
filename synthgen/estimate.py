"""`synthgen estimate`: calls, prompt tokens and a cost range before spending anything."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import typer

from .config import RunConfig
from .integrity import verify_parts
from .llm.tokens import count_message_tokens
from .manifest import read_manifest
from .plan import brainstorm_items, generate_items
from .run_dir import load_tasks
from .taxonomy import GROUPS

SAMPLE = 2000  # items per group counted exactly; the rest are extrapolated
PLACEHOLDER_TASK = "Retrieve documents that answer a question about a topic in a given domain."


def _sum_tokens(items, model: str, n_total: int) -> tuple[int, bool]:
    sample = list(itertools.islice(items, SAMPLE))
    tokens = sum(count_message_tokens(i.messages, model) for i in sample)
    if len(sample) >= n_total:
        return tokens, False
    return round(tokens / len(sample) * n_total), True


def topup_calls(cfg: RunConfig, planned: int, reject_rate: float) -> int:
    """Extra stage-2 calls the top-up rounds are expected to make at this reject rate: enough
    for planned accepted examples (planned / (1 - rate) calls in all), within the configured
    share of extra calls, and none without rounds."""
    if cfg.generate.max_rounds == 0 or reject_rate <= 0:
        return 0
    cap = math.floor(cfg.generate.max_extra_share * planned)
    if reject_rate >= 1:
        return cap
    return min(cap, math.ceil(planned / (1 - reject_rate) - planned - 1e-9))


def estimate_run(cfg: RunConfig, tasks_from: Path | None = None, reject_rate: float = 0.0) -> dict:
    model = cfg.llm.model
    brainstorming = [g for g in cfg.active_groups() if GROUPS[g].brainstorm]
    b_calls = sum(cfg.brainstorm_calls(g) for g in brainstorming)
    b_tokens = sum(_sum_tokens((i for i in brainstorm_items(cfg) if i.group == g), model,
                               cfg.brainstorm_calls(g))[0] for g in brainstorming)
    if tasks_from is not None and (tasks_from / "run.json").exists():  # a lost part is no "no tasks"
        verify_parts(tasks_from, read_manifest(tasks_from))
    tasks = (load_tasks(tasks_from) if tasks_from is not None
             else {g: [PLACEHOLDER_TASK] for g in cfg.active_groups()})
    groups, extrapolated = {}, False
    for g in cfg.active_groups():
        n = cfg.groups[g].examples
        sub = cfg.model_copy(update={"groups": {g: cfg.groups[g]}})
        tok, extra = _sum_tokens(generate_items(sub, tasks), model, n)
        extrapolated |= extra
        groups[g] = {"calls": n, "prompt_tokens": tok}
    g_calls = sum(v["calls"] for v in groups.values())
    g_tokens = sum(v["prompt_tokens"] for v in groups.values())
    extra = topup_calls(cfg, g_calls, reject_rate)
    if g_calls:
        g_tokens += round(g_tokens / g_calls * extra)
    calls = b_calls + g_calls + extra
    est = {
        "model": model,
        "brainstorm": {"calls": b_calls, "prompt_tokens": b_tokens},
        "generate": {"calls": g_calls, "topup_calls": extra, "reject_rate": reject_rate,
                     "prompt_tokens": g_tokens, "by_group": groups},
        "calls": calls,
        "prompt_tokens": b_tokens + g_tokens,
        "max_completion_tokens": calls * cfg.llm.max_tokens,
        "extrapolated_from_sample": extrapolated,
        "placeholder_tasks": tasks_from is None,
    }
    price = cfg.prices.get(model)
    if price is not None:
        for suffix, batch in (("", False), ("_batch", True)):
            rate_in, rate_out = price.rates(batch)
            low = est["prompt_tokens"] / 1e6 * rate_in
            est[f"cost_usd_prompt{suffix}"] = round(low, 4)
            est[f"cost_usd_max{suffix}"] = round(low + est["max_completion_tokens"] / 1e6 * rate_out, 4)
    return est


def render_estimate(est: dict) -> None:
    typer.echo(f"model {est['model']}: {est['calls']} calls, {est['prompt_tokens']} prompt tokens, "
               f"at most {est['max_completion_tokens']} completion tokens")
    typer.echo(f"  stage 1: {est['brainstorm']['calls']} calls, {est['brainstorm']['prompt_tokens']} prompt tokens")
    for g, v in est["generate"]["by_group"].items():
        typer.echo(f"  stage 2 {g}: {v['calls']} calls, {v['prompt_tokens']} prompt tokens")
    g = est["generate"]
    if g["reject_rate"]:
        typer.echo(f"  stage 2 top-up rounds: {g['topup_calls']} more calls expected at a "
                   f"{g['reject_rate']:.0%} reject rate (included above)")
    if "cost_usd_prompt" in est:
        typer.echo(f"  cost online: ${est['cost_usd_prompt']} for prompts, at most ${est['cost_usd_max']} in all")
        typer.echo(f"  cost with llm.mode = \"batch\": ${est['cost_usd_prompt_batch']} for prompts, "
                   f"at most ${est['cost_usd_max_batch']} in all")
    if est["placeholder_tasks"]:
        typer.echo("  (stage 2 prompts counted with a typical task; pass --tasks-from RUN for real ones)")
