"""The `synthgen` command: a thin Typer layer over synthgen.pipeline and friends.

Each command parses options, calls a plain function, and turns known errors into one line on
stderr with an exit code (2 for bad usage or config). No traceback reaches the user for bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .config import RunConfig, load_config
from .errors import SynthgenError
from .integrity import disk_faults
from .blas import one_blas_thread

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic training data for text-embedding models (E5-mistral recipe).")

PACKAGED_CONFIGS = ("quickstart", "ci", "paper")

ConfigOpt = typer.Option(None, "--config", "-c", help="run config (TOML path, or a packaged name: quickstart, ci, paper)")
OutOpt = typer.Option(None, "--out", "-o", help="run directory (default: data/<config name>)")
ForceOpt = typer.Option(False, "--force", help="resume even though the config changed")
QuietOpt = typer.Option(False, "--quiet", "-q", help="no progress output")
ConcOpt = typer.Option(None, "--concurrency", min=1, help="requests in flight (overrides llm.concurrency)")
CostOpt = typer.Option(None, "--max-cost", min=0.0, help="stop (exit 3) once this many USD are spent")
ReqOpt = typer.Option(None, "--max-requests", min=1, help="stop (exit 3) after this many requests")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"synthgen: error: {message}", err=True)
    raise typer.Exit(code)


def configs_dir() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "_configs"
    return packaged if packaged.is_dir() else here.parent / "configs"


def resolve_config(config: Optional[str]) -> tuple[RunConfig, str]:
    if config is None:
        typer.echo("synthgen: no --config given: using the bundled quickstart config (local model)", err=True)
        config = "quickstart"
    path = Path(config)
    if not path.exists() and config in PACKAGED_CONFIGS:
        path = configs_dir() / f"{config}.toml"
    cfg = load_config(path)
    from .prompts import check_templates
    from .taxonomy import GROUPS

    root = Path(cfg.prompts_dir) if cfg.prompts_dir else None
    check_templates([GROUPS[g] for g in cfg.active_groups()], root)
    return cfg, path.stem


def _options(out, name, **kw):
    from .pipeline import RunOptions

    return RunOptions(out=Path(out) if out else Path("data") / name, **kw)


def _run(fn) -> None:
    """Call fn, mapping user-facing errors to one line and an exit code."""
    try:
        fn()
    except SynthgenError as exc:
        _fail(str(exc), exc.code)


def _finish(outcomes) -> None:
    for o in outcomes:
        typer.echo(o.message, err=True)
    code = next((o.code for o in outcomes if o.code != 0), 0)
    raise typer.Exit(code)


@app.command()
def brainstorm(config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, force: bool = ForceOpt,
               quiet: bool = QuietOpt, concurrency: Optional[int] = ConcOpt,
               max_cost: Optional[float] = CostOpt, max_requests: Optional[int] = ReqOpt,
               limit: Optional[int] = typer.Option(None, "--limit", min=0, help="only the first N calls")) -> None:
    """Stage 1: brainstorm retrieval tasks for each group that has a brainstorm step."""
    def go():
        from .pipeline import run_stage

        cfg, name = resolve_config(config)
        opts = _options(out, name, force=force, quiet=quiet, concurrency=concurrency,
                        max_cost=max_cost, max_requests=max_requests, limit=limit)
        _finish([run_stage("brainstorm", cfg, opts)])
    _run(go)


def _shard(text):
    from .plan import Shard

    try:
        return Shard.parse(text)
    except ValueError as exc:
        _fail(str(exc))


ShardOpt = typer.Option(None, "--shard", help="K/N: take this shard of the plan (items whose index is K mod N)")
LimitOpt = typer.Option(None, "--limit", min=0, help="only the first N examples of the plan (a quick slice)")
TasksFromOpt = typer.Option(None, "--tasks-from", help="use stage 1 tasks from another run directory")


@app.command()
def generate(config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, force: bool = ForceOpt,
             quiet: bool = QuietOpt, concurrency: Optional[int] = ConcOpt,
             max_cost: Optional[float] = CostOpt, max_requests: Optional[int] = ReqOpt,
             limit: Optional[int] = LimitOpt, shard: Optional[str] = ShardOpt,
             tasks_from: Optional[Path] = TasksFromOpt) -> None:
    """Stage 2: expand tasks into examples; validate, dedup, write JSONL shards."""
    def go():
        from .pipeline import prespawn_check_worker, run_stage

        cfg, name = resolve_config(config)
        prespawn_check_worker(cfg, limit)
        opts = _options(out, name, force=force, quiet=quiet, concurrency=concurrency, max_cost=max_cost,
                        max_requests=max_requests, limit=limit, shard=_shard(shard), tasks_from=tasks_from)
        _finish([run_stage("generate", cfg, opts)])
    _run(go)


@app.command()
def run(config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, force: bool = ForceOpt,
        quiet: bool = QuietOpt, concurrency: Optional[int] = ConcOpt,
        max_cost: Optional[float] = CostOpt, max_requests: Optional[int] = ReqOpt,
        limit: Optional[int] = LimitOpt, shard: Optional[str] = ShardOpt,
        tasks_from: Optional[Path] = TasksFromOpt) -> None:
    """Both stages in order (stage 1 always in full; --limit and --shard apply to stage 2)."""
    def go():
        from .pipeline import run_all

        cfg, name = resolve_config(config)
        opts = _options(out, name, force=force, quiet=quiet, concurrency=concurrency, max_cost=max_cost,
                        max_requests=max_requests, limit=limit, shard=_shard(shard), tasks_from=tasks_from)
        _finish(run_all(cfg, opts))
    _run(go)


@app.command()
def stats(run_dir: Path = typer.Argument(..., help="a run directory"),
          as_json: bool = typer.Option(False, "--json", help="print the full report as JSON (for CI)"),
          html: Optional[Path] = typer.Option(None, "--html", help="also write a self-contained HTML report with charts")) -> None:
    """Quality report of a run: counts per group and language, rejects by reason, guideline
    adherence, lengths, duplicates, language checks, tokens and cost."""
    from .report import load_report, render_text

    def go():
        report = load_report(run_dir)
        if html is not None:
            from .quality.html_report import write_html

            write_html(report, html)
            typer.echo(f"synthgen: wrote {html}", err=True)
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            render_text(report)
    _run(go)


@app.command()
def estimate(config: Optional[str] = ConfigOpt,
             tasks_from: Optional[Path] = typer.Option(None, "--tasks-from", help="use real stage 1 tasks"),
             as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Calls and prompt tokens a run will make, before spending anything."""
    from .estimate import estimate_run, render_estimate

    def go():
        cfg, _ = resolve_config(config)
        est = estimate_run(cfg, tasks_from)
        typer.echo(json.dumps(est, indent=2)) if as_json else render_estimate(est)
    _run(go)


@app.command("fake-server", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def fake_server(ctx: typer.Context) -> None:
    """The scripted OpenAI-compatible server: try synthgen without a key (see --help for faults)."""
    from .testing.__main__ import main as serve

    try:
        code = serve(list(ctx.args), prog="synthgen fake-server")
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@app.command()
def validate(run_dir: Path = typer.Argument(..., help="a run directory"),
             config: Optional[str] = typer.Option(None, "--config", "-c",
                                                  help="take [validation] from this config instead of the run's"),
             out: Optional[Path] = typer.Option(None, "--out", "-o", help="write the filtered copy here (a new directory)"),
             check: bool = typer.Option(False, "--check", help="exit 1 if any example fails (a CI gate)"),
             as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Re-check a run's examples with the current rules, without calling the LLM."""
    from .recheck import recheck

    def go():
        cfg_path = None
        if config is not None:
            path = Path(config)
            cfg_path = path if path.exists() or config not in PACKAGED_CONFIGS else configs_dir() / f"{config}.toml"
        with disk_faults(out or run_dir):
            report = recheck(run_dir, cfg_path, out)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        else:
            reasons = ", ".join(f"{k}={v}" for k, v in report["failed_by_reason"].items()) or "none"
            typer.echo(f"{report['checked']} examples checked: {report['passed']} pass, {report['failed']} fail "
                       f"({reasons})" + (f"; filtered copy in {out}" if out else ""))
        if check and report["failed"]:
            raise typer.Exit(1)
    _run(go)


@app.command()
def merge(out: Path = typer.Argument(..., help="new directory for the merged run"),
          parts: list[Path] = typer.Argument(..., help="run directories made with generate --shard K/N"),
          allow_partial: bool = typer.Option(False, "--allow-partial", help="merge even if shards are missing or unfinished")) -> None:
    """Join the shards of one run (made on several machines) into one, dedup across them."""
    from .merge import merge as do_merge

    def go():
        s = do_merge(out, parts, allow_partial)
        typer.echo(f"merged {len(parts)} parts into {out}: {s['accepted']} examples, "
                   f"{s['cross_part_rejects']} duplicates across parts rejected")
    _run(go)


def main() -> None:
    one_blas_thread()
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("synthgen: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
