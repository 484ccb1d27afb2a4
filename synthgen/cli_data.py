"""The commands that carry a run's data out and back: `export` into trainers and evaluators,
`batch-export` / `batch-ingest` for offline engines. Registered on the one `synthgen` app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .batch.ingest import ingest_files
from .cli import (ConfigOpt, ForceOpt, OutOpt, QuietOpt, RunDirArg, ShardOpt, TasksFromOpt, _fail, _finish,
                  _guarded, _options, _shard, app, resolve_config)
from .export import DEFAULT_TEMPLATE, ExportOptions, export_run, parse_list
from .pipeline import run_stage
from .taxonomy import ALL_LANGUAGES, GROUP_NAMES


def _stage(stage: str) -> str:
    if stage not in ("brainstorm", "generate"):
        _fail(f"--stage must be brainstorm or generate, not '{stage}'")
    return stage


StageOpt = typer.Option("generate", "--stage", help="brainstorm or generate", callback=_stage)


@app.command("batch-export")
@_guarded
def batch_export(directory: Path = typer.Option(..., "--dir", help="where to write the request files"),
                 config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, stage: str = StageOpt,
                 shard: Optional[str] = ShardOpt, tasks_from: Optional[Path] = TasksFromOpt,
                 force: bool = ForceOpt, quiet: bool = QuietOpt) -> None:
    """Write a stage's next requests as batch input files, for an engine elsewhere (vLLM's run_batch)."""
    cfg, name = resolve_config(config)
    opts = _options(out, name, force=force, quiet=quiet, shard=_shard(shard), tasks_from=tasks_from,
                    export_dir=directory)
    _finish([run_stage(stage, cfg, opts)])


@app.command("batch-ingest")
@_guarded
def batch_ingest(files: list[Path] = typer.Argument(..., help="batch output files (one JSON answer a line)"),
                 config: Optional[str] = ConfigOpt, out: Optional[Path] = OutOpt, stage: str = StageOpt,
                 shard: Optional[str] = ShardOpt, force: bool = ForceOpt) -> None:
    """Journal the answers of exported requests; the next run of the stage commits them."""
    cfg, name = resolve_config(config)
    opts = _options(out, name)
    n = ingest_files(cfg, opts.out, files, stage, _shard(shard), force)
    typer.echo(f"synthgen: journaled {n['answered']} answers from {len(files)} file(s) ({n['refused']} "
               f"refused, {n['failed']} failed, {n['unknown']} unreadable or not ours); run "
               f"`synthgen batch-export --stage {stage}` (or `synthgen {stage}` online) with the same "
               "config and --out to commit them", err=True)


@app.command()
@_guarded
def export(run_dir: Path = RunDirArg,
           fmt: str = typer.Option(..., "--format", "-f",
                                   help="sentence-transformers | flagembedding | mteb | parquet"),
           out: Path = typer.Option(..., "--out", "-o", help="new (or empty) directory for the files"),
           eval_fraction: float = typer.Option(0.0, "--eval-fraction",
                                               help="hold out this share of each group's tasks (0 = no eval split)"),
           seed: int = typer.Option(0, "--seed", help="seed of the held-out split"),
           groups: Optional[str] = typer.Option(None, "--groups", help="comma-separated groups to export (default: all)"),
           languages: Optional[str] = typer.Option(None, "--languages",
                                                   help="comma-separated languages; an example needs all of its own listed"),
           exclude_flagged: bool = typer.Option(False, "--exclude-flagged", help="leave out examples with guideline flags"),
           allow_partial: bool = typer.Option(False, "--allow-partial",
                                              help="export an unfinished run (up to its last commit)"),
           query_template: Optional[str] = typer.Option(None, "--query-template",
                                                        help="the query side's text, with {query} and {task}; \\n is a "
                                                             "newline (default: Instruct: {task}\\nQuery: {query})"),
           prompt_column: bool = typer.Option(False, "--prompt-column",
                                              help="keep the instruction in its own 'prompt' column; raw queries"),
           metadata: str = typer.Option("id,task,language", "--metadata",
                                        help="parquet: metadata columns next to the texts")) -> None:
    """Write a run's examples for a trainer or an evaluator (see docs/export.md)."""
    opts = ExportOptions(
        eval_fraction=eval_fraction, seed=seed, groups=parse_list(groups, GROUP_NAMES, "group(s)"),
        languages=parse_list(languages, ALL_LANGUAGES, "language(s)"),
        exclude_flagged=exclude_flagged, allow_partial=allow_partial,
        query_template=(query_template or DEFAULT_TEMPLATE).replace("\\n", "\n"),
        prompt_column=prompt_column, metadata=tuple(m.strip() for m in metadata.split(",") if m.strip()))
    s = export_run(run_dir, fmt, out, opts)
    typer.echo(f"exported {s['examples']['train']} train and {s['examples']['eval']} eval examples "
               f"as {fmt} into {out} ({len(s['files'])} files; see {out}/export.json)")
