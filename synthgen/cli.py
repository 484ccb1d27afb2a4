"""The `synthgen` command: a thin Typer layer over plain functions. Known errors, and the CLI
library's own usage errors, become one line on stderr and an exit code (2 for bad usage or config)."""

from __future__ import annotations

import functools
import json
import signal
import sys
from pathlib import Path
from typing import Optional

from .integrity import disk_faults  # noqa: E402
from .blas import one_blas_thread

# numpy reads its BLAS thread count once, when it loads: set it before the imports below load it
one_blas_thread()

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from . import __version__  # noqa: E402
from .config import RunConfig, load_config  # noqa: E402
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, SynthgenError  # noqa: E402
from .estimate import estimate_run, render_estimate  # noqa: E402
from .merge import merge as do_merge  # noqa: E402
from .pipeline import RunOptions, run_all, run_stage  # noqa: E402
from .plan import Shard  # noqa: E402
from .prompts import check_templates  # noqa: E402
from .quality.html_report import write_html  # noqa: E402
from .revalidate import revalidate  # noqa: E402
from .redact import redact  # noqa: E402
from .report import load_report, render_text  # noqa: E402
from .testing.__main__ import main as serve  # noqa: E402


class OneLineErrors(TyperGroup):
    """Usage errors as `synthgen: error: <what> (try '<command> -h')`: scripts and CI logs read
    stderr line by line, and the library's usage-and-error block splits one error over several."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except typer.TyperException as exc:
            ctx = getattr(exc, "ctx", None)
            message = exc.format_message()
            if ctx is not None and message == ctx.get_help():  # `synthgen` alone: the help is the answer
                typer.echo(message)
            else:
                hint = f" (try '{ctx.command_path} -h')" if ctx is not None else ""
                typer.echo(f"synthgen: error: {' '.join(message.split())}{hint}", err=True)
            code = exc.exit_code
        except typer.Abort:
            typer.echo("synthgen: aborted", err=True)
            code = 1
        sys.exit(code)


# rich_markup_mode=None: plain help, where a boolean option is shown as the flag it is (the rich
# panel labels flags `<bool>`, as if they took a value)
app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Synthetic training data for text-embedding models (E5-mistral recipe).")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"synthgen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                       help="print the version and exit")) -> None:
    """Options of `synthgen` itself (before the command name)."""


PACKAGED_CONFIGS = ("quickstart", "ci", "paper")

ConfigOpt = typer.Option(None, "--config", "-c", help="run config (TOML path, or a packaged name: quickstart, ci, paper)")
OutOpt = typer.Option(None, "--out", "-o", help="run directory (default: data/<config name>)")
ForceOpt = typer.Option(False, "--force", help="resume even though the config changed")
QuietOpt = typer.Option(False, "--quiet", "-q", help="no progress output")
ConcOpt = typer.Option(None, "--concurrency", min=1, help="requests in flight (overrides llm.concurrency)")
CostOpt = typer.Option(None, "--max-cost", min=0.0, help="stop (exit 3) once this many USD are spent")
ReqOpt = typer.Option(None, "--max-requests", min=1, help="stop (exit 3) after this many requests")
ShardOpt = typer.Option(None, "--shard", help="K/N: take this shard of the plan (items whose index is K mod N)")
LimitOpt = typer.Option(None, "--limit", min=0, max=sys.maxsize, help="only the first N examples of the plan (a quick slice)")
TasksFromOpt = typer.Option(None, "--tasks-from", help="use stage 1 tasks from another run directory")
JsonOpt = typer.Option(False, "--json", help="print JSON")
RunDirArg = typer.Argument(..., help="a run directory")


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    # messages carry exception and server text: no secret may ride along to stderr
    typer.echo(f"synthgen: error: {redact(message)}", err=True)
    raise typer.Exit(code)


def _config_path(config: str) -> Path:
    """A path, or the name of a packaged config (when no such file is here): inside the wheel,
    else in the source checkout."""
    path, here = Path(config), Path(__file__).resolve().parent
    if path.exists() or config not in PACKAGED_CONFIGS:
        return path
    packaged = here / "_configs"
    return (packaged if packaged.is_dir() else here.parent / "configs") / f"{config}.toml"


def resolve_config(config: Optional[str]) -> tuple[RunConfig, str]:
    if config is None:
        typer.echo("synthgen: no --config given: using the bundled quickstart config (local model)", err=True)
        config = "quickstart"
    path = _config_path(config)
    cfg = load_config(path)
    root = Path(cfg.prompts_dir) if cfg.prompts_dir else None
    check_templates(cfg.active_groups(), root)
    return cfg, path.stem


def _options(out, name, **kw):
    return RunOptions(out=Path(out) if out else Path("data") / name, **kw)


def _guarded(command):
    """`command` with user-facing errors mapped to one line and an exit code (Typer reads the
    options from the wrapped signature)."""
    @functools.wraps(command)
    def wrapper(**kwargs):
        try:
            command(**kwargs)
        except SynthgenError as exc:
            _fail(str(exc), exc.code)
        except KeyboardInterrupt:
            typer.echo("synthgen: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    return wrapper


def _new_dir(path: Path, flag: str) -> None:
    """A directory the command will create must not be, or lie inside, an existing file."""
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            where = "is a file" if p == path else f"is inside {p}, which is a file"
            _fail(f"{flag} {path} {where}; give a new directory")


def _run_dirs(paths: list[Path]) -> None:
    for p in paths:
        if not p.is_dir():
            _fail(f"{p} is not a run directory" + (" (it is a file)" if p.exists() else " (it does not exist)"))


def _finish(outcomes) -> None:
    for o in outcomes:
        typer.echo(redact(o.message), err=True)
    raise typer.Exit(next((o.code for o in outcomes if o.code != 0), 0))


def _shard(text):
    try:
        return Shard.parse(text)
    except ValueError as exc:
        _fail(str(exc))


@app.command()
@_guarded
def brainstorm(config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, force: bool = ForceOpt,
               quiet: bool = QuietOpt, concurrency: Optional[int] = ConcOpt,
               max_cost: Optional[float] = CostOpt, max_requests: Optional[int] = ReqOpt,
               limit: Optional[int] = typer.Option(None, "--limit", min=0, max=sys.maxsize, help="only the first N calls")) -> None:
    """Stage 1: brainstorm retrieval tasks for each group that has a brainstorm step."""
    cfg, name = resolve_config(config)
    opts = _options(out, name, force=force, quiet=quiet, concurrency=concurrency,
                    max_cost=max_cost, max_requests=max_requests, limit=limit)
    _finish([run_stage("brainstorm", cfg, opts)])


def _stage_command(name: str, doc: str) -> None:
    """`generate` and `run`: the same options; `run` makes stage 1 first."""
    def command(config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, force: bool = ForceOpt,
                quiet: bool = QuietOpt, concurrency: Optional[int] = ConcOpt,
                max_cost: Optional[float] = CostOpt, max_requests: Optional[int] = ReqOpt,
                limit: Optional[int] = LimitOpt, shard: Optional[str] = ShardOpt,
                tasks_from: Optional[Path] = TasksFromOpt) -> None:
        cfg, cname = resolve_config(config)
        opts = _options(out, cname, force=force, quiet=quiet, concurrency=concurrency, max_cost=max_cost,
                        max_requests=max_requests, limit=limit, shard=_shard(shard), tasks_from=tasks_from)
        _finish(run_all(cfg, opts) if name == "run" else [run_stage(name, cfg, opts)])
    command.__name__, command.__doc__ = name, doc
    app.command(name)(_guarded(command))


_stage_command("generate", "Stage 2: expand tasks into examples; validate, dedup, write JSONL shards.")
_stage_command("run", "Both stages in order (stage 1 always in full; --limit and --shard apply to "
                      "stage 2).")


@app.command()
@_guarded
def stats(run_dir: Path = RunDirArg,
          as_json: bool = typer.Option(False, "--json", help="print the full report as JSON (for CI)"),
          html: Optional[Path] = typer.Option(None, "--html", help="also write a self-contained HTML report with charts")) -> None:
    """Quality report of a run: counts per group and language, rejects by reason, guideline
    adherence, lengths, duplicates, language checks, tokens and cost."""
    report = load_report(run_dir)
    if html is not None:
        write_html(report, html)
        typer.echo(f"synthgen: wrote {html}", err=True)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render_text(report)


@app.command()
@_guarded
def estimate(config: Optional[str] = ConfigOpt,
             tasks_from: Optional[Path] = typer.Option(None, "--tasks-from", help="use real stage 1 tasks"),
             as_json: bool = JsonOpt,
             reject_rate: float = typer.Option(0.0, "--reject-rate", min=0.0, max=1.0,
                                               help="expected share of rejected examples: adds the top-up calls")) -> None:
    """Calls and prompt tokens a run will make, before spending anything."""
    cfg, _ = resolve_config(config)
    if tasks_from is not None:
        _run_dirs([tasks_from])
    try:
        est = estimate_run(cfg, tasks_from, reject_rate)
    except ValueError as exc:  # the plan found no usable stage 1 tasks there
        if tasks_from is None:
            raise
        _fail(f"--tasks-from {tasks_from}: {exc}")
    if as_json:
        typer.echo(json.dumps(est, indent=2))
    else:
        render_estimate(est)


@app.command("fake-server", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def fake_server(ctx: typer.Context) -> None:
    """The scripted OpenAI-compatible server: try synthgen without a key (see --help for faults)."""
    try:
        code = serve(list(ctx.args), prog="synthgen fake-server")
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@app.command()
@_guarded
def validate(run_dir: Path = RunDirArg,
             config: Optional[str] = typer.Option(None, "--config", "-c",
                                                  help="take [validation] from this config instead of the run's"),
             out: Optional[Path] = typer.Option(None, "--out", "-o", help="write the filtered copy here (a new directory)"),
             check: bool = typer.Option(False, "--check", help="exit 1 if any example fails (a CI gate)"),
             as_json: bool = JsonOpt) -> None:
    """Re-check a run's examples with the current rules, without calling the LLM."""
    if out is not None:
        _new_dir(out, "--out")
    with disk_faults(out or run_dir):
        report = revalidate(run_dir, _config_path(config) if config is not None else None, out)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        reasons = ", ".join(f"{k}={v}" for k, v in report["failed_by_reason"].items()) or "none"
        typer.echo(f"{report['checked']} examples checked: {report['passed']} pass, {report['failed']} fail "
                   f"({reasons})" + (f"; filtered copy in {out}" if out else ""))
    if check and report["failed"]:
        raise typer.Exit(1)


@app.command()
@_guarded
def merge(out: Path = typer.Argument(..., help="new directory for the merged run"),
          parts: list[Path] = typer.Argument(..., help="run directories made with generate --shard K/N"),
          allow_partial: bool = typer.Option(False, "--allow-partial", help="merge even if shards are missing or unfinished")) -> None:
    """Join the shards of one run (made on several machines) into one, dedup across them."""
    _new_dir(out, "OUT")
    _run_dirs(parts)
    s = do_merge(out, parts, allow_partial)
    short = [f"{g} {v['accepted']}/{v['target']}" for g, v in s["stages"]["generate"]["shortfall"].items()]
    typer.echo(f"merged {len(parts)} part{'s' * (len(parts) != 1)} into {out}: {s['accepted']} examples, "
               f"{s['cross_part_rejects']} duplicates across parts rejected"
               + (f"; short of target: {', '.join(short)}" if short else ""))


# the commands that carry data out and back live beside this module; importing it registers them
from . import cli_data  # noqa: E402,F401


def main() -> None:
    # `kill`, a CI job's timeout: stops as Ctrl-C does (one line, 130), between stages too, not silently
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    app(prog_name="synthgen")  # not "python -m synthgen": the installed command is how it is run
