"""The `synthgen` command as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import synthgen
from synthgen.cli import app

from helpers import manifest

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args))


def run_cmd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True,
                          timeout=timeout)


def _one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [l for l in stderr.strip().splitlines() if l.startswith("synthgen: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_unknown_config_key_is_named(tmp_path, server, write_config):
    cfg = write_config(server.base_url, extra="[llm2]\nmodel = 'x'\n")
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert "unknown config key 'llm2'" in _one_clean_line(r.stderr)
    assert not (tmp_path / "r").exists()


def test_typo_inside_a_table_is_named(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    cfg.write_text(cfg.read_text().replace("concurrency = 8", "concurency = 8"))
    r = run_cmd("generate", "--config", str(cfg))
    assert r.returncode == 2 and "llm.concurency" in _one_clean_line(r.stderr)


@pytest.mark.parametrize("content,needle", [
    ("seed = [", "not valid TOML"),
    ("seed = 1\n[groups.sts]\nexamples = -1\n", "groups.sts.examples"),
    ("seed = 1\n[groups.nope]\nexamples = 1\n", "unknown group"),
    ("seed = 1\n[groups.short-long]\nexamples = 3\n", "groups.short-long.tasks is required"),
])
def test_bad_configs_fail_with_one_line(tmp_path, content, needle):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    r = run_cmd("brainstorm", "--config", str(path))
    assert r.returncode == 2
    assert needle in _one_clean_line(r.stderr)


def test_missing_config_file(tmp_path):
    r = run_cmd("run", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "config file not found" in _one_clean_line(r.stderr)


def test_bad_shard_syntax(tmp_path, server, write_config):
    r = run_cmd("generate", "--config", str(write_config(server.base_url)), "--shard", "3/2")
    assert r.returncode == 2 and "--shard" in _one_clean_line(r.stderr)


def test_generate_before_brainstorm_is_refused(tmp_path, server, write_config):
    r = run_cmd("generate", "--config", str(write_config(server.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "stage 1 is not complete" in _one_clean_line(r.stderr)
    assert server.requests == 0


def test_remote_endpoint_without_key_is_refused(tmp_path, write_config):
    cfg = write_config("https://api.example.invalid/v1")
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "OPENAI_API_KEY" in _one_clean_line(r.stderr)


def test_wrong_key_fails_fast_without_echoing_it(tmp_path, make_server, write_config, monkeypatch):
    srv = make_server(api_key="right-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0123456789")
    r = run_cmd("run", "--config", str(write_config(srv.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 1
    assert "401" in r.stderr and "sk-wrong-key" not in r.stderr and "Traceback" not in r.stderr
    assert srv.requests <= 8 * 2  # stopped at once, not after every item


def test_run_then_stats_and_json(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "generate: 30/30 items" in r.stderr
    r = run_cmd("stats", str(tmp_path / "r"), "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["stages"]["generate"]["accepted"] == manifest(tmp_path / "r")["stages"]["generate"]["accepted"]
    r = run_cmd("stats", str(tmp_path / "r"))
    assert r.returncode == 0 and "short-long" in r.stdout and "generate" in r.stdout


def test_stats_on_a_non_run_directory(tmp_path):
    r = run_cmd("stats", str(tmp_path))
    assert r.returncode == 2 and "not a synthgen run directory" in _one_clean_line(r.stderr)


def test_plain_progress_lines_when_not_a_tty(tmp_path, server, write_config):
    r = run_cmd("run", "--config", str(write_config(server.base_url)), "--out", str(tmp_path / "r"))
    assert r.returncode == 0
    assert "req/s" in r.stderr and "\x1b[" not in r.stderr  # plain text, no terminal escapes


def test_estimate_counts_calls_and_tokens_without_requests(tmp_path, server, write_config):
    r = run_cmd("estimate", "--config", str(write_config(server.base_url)), "--json")
    assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)
    assert est["generate"]["calls"] == 30
    assert est["brainstorm"]["calls"] == 4
    assert est["prompt_tokens"] > 30 * 100
    assert server.requests == 0


def test_packaged_configs_load():
    for name in ("ci", "paper"):
        r = run_cmd("estimate", "--config", name, "--json", timeout=300)
        assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)
    # the paper's per-group figures (thousands) add up to 507k, "500k" in its text
    assert est["generate"]["calls"] == 507_000


def _commands():
    import typer.main

    return typer.main.get_command(app).commands


def test_version_flag():
    r = run_cmd("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"synthgen {synthgen.__version__}"


def test_no_command_prints_the_help_not_an_error():
    r = run_cmd()
    assert "Commands:" in r.stdout and "generate" in r.stdout and "error" not in r.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help_on_every_command(flag):
    top = cli(flag)
    assert top.exit_code == 0 and "Commands:" in top.output
    for name in _commands():
        r = cli(name, flag)
        assert r.exit_code == 0, (name, r.output)
        assert f"{name} [OPTIONS]" in r.output or name == "fake-server"
        assert "usage" in r.output.lower()


def test_boolean_options_are_shown_and_taken_as_flags(tmp_path, server, write_config):
    flags = {name: [p for p in cmd.params if getattr(p, "is_flag", False)] for name, cmd in _commands().items()}
    assert any(flags.values())
    for name, params in flags.items():
        text = cli(name, "-h").output
        assert "<bool>" not in text, name
        for p in params:  # the help line names the flag and no value after it
            long = max(p.opts, key=len)
            line = next(l for l in text.splitlines() if long in l)
            assert re.search(rf"{re.escape(long)}\s{{2,}}\S", line), line
    cfg = write_config(server.base_url)
    r = run_cmd("brainstorm", "--config", str(cfg), "--out", str(tmp_path / "r"), "-q", "--force")
    assert r.returncode == 0, r.stderr
    r = run_cmd("brainstorm", "--config", str(cfg), "--quiet", "true")
    assert r.returncode == 2 and "true" in _one_clean_line(r.stderr)


@pytest.mark.parametrize("args,needle", [
    (("generate", "--bogus"), "No such option: --bogus"),
    (("generate", "--concurrency", "many"), "'--concurrency'"),
    (("generate", "--concurrency", "0"), "'--concurrency'"),
    (("generate", "--limit", "1" + "0" * 25), "'--limit'"),  # was islice's ValueError, a traceback
    (("brainstorm", "--limit", "1" + "0" * 25), "'--limit'"),
    (("stats",), "Missing argument"),
    (("nosuch",), "No such command"),
])
def test_the_cli_librarys_own_usage_errors_are_one_line(args, needle):
    r = run_cmd(*args)
    assert r.returncode == 2
    assert needle in _one_clean_line(r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "Usage" not in r.stderr and "╭" not in r.stderr


def _finished_run(tmp_path, server, write_config):
    run = tmp_path / "r"
    r = run_cmd("run", "--config", str(write_config(server.base_url)), "--out", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    return run


def test_validate_out_must_be_a_new_directory_not_a_file(tmp_path, server, write_config):
    run = _finished_run(tmp_path, server, write_config)
    target = tmp_path / "taken.txt"
    target.write_text("keep me\n")
    for out in (target, target / "sub"):
        r = run_cmd("validate", str(run), "--out", str(out))
        assert r.returncode == 2 and "is a file" in _one_clean_line(r.stderr)
    assert target.read_text() == "keep me\n"


def test_merge_refuses_files_as_output_or_parts(tmp_path, server, write_config):
    run = _finished_run(tmp_path, server, write_config)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x\n")
    r = run_cmd("merge", str(a_file), str(run))
    assert r.returncode == 2 and "is a file" in _one_clean_line(r.stderr)
    r = run_cmd("merge", str(tmp_path / "merged"), str(a_file))
    assert r.returncode == 2 and "not a run directory" in _one_clean_line(r.stderr)
    assert not (tmp_path / "merged").exists()
    r = run_cmd("merge", str(run), str(run))  # merge has no --out option: the message named one
    assert r.returncode == 2 and f"OUT {run} exists and is not empty" in _one_clean_line(r.stderr)


@pytest.mark.parametrize("args,needle", [
    (("--port", "99999"), "65535"), (("--port", "-1"), "65535"), (("--port", "x"), "--port"),
    (("--rate-429", "2"), "rate_429"), (("--bogus",), "--bogus"),
])
def test_fake_server_bad_flags_are_one_line(args, needle):
    r = run_cmd("fake-server", *args, timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthgen fake-server: error:") and needle in lines[0]


def test_empty_base_url_list_is_refused_before_any_request(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    cfg.write_text(cfg.read_text().replace(f'base_url = "{server.base_url}"', "base_url = []"))
    r = run_cmd("run", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "llm.base_url" in _one_clean_line(r.stderr)
    assert not (tmp_path / "r").exists()


def test_a_terminal_gets_a_live_progress_bar(tmp_path, server, write_config):
    import os
    import pty

    # stderr on a pseudo-terminal, as in an interactive shell
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "run", "--config", str(write_config(server.base_url)),
                             "--out", str(tmp_path / "r")], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "━" in screen and "\x1b[" in screen  # a drawn bar, not log lines
    assert re.search(r"30/30", screen) and "ETA" in screen and "req/s" in screen and "429s" in screen


def test_estimate_tasks_from_a_file_or_an_empty_directory_is_one_line(tmp_path, server, write_config):
    cfg = write_config(server.base_url)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x\n")
    for source, needle in (("file.txt", "not a run directory"), ("empty", "no brainstormed tasks")):
        r = run_cmd("estimate", "--config", str(cfg), "--tasks-from", str(tmp_path / source))
        assert r.returncode == 2 and needle in _one_clean_line(r.stderr)


def test_generate_tasks_from_a_run_without_a_group_names_that_run(tmp_path, server, write_config):
    """The other run never brainstormed short-long: the line said this run's stage 1 made none."""
    other = write_config(server.base_url, name="other.toml", sl=0)
    assert run_cmd("run", "-q", "-c", str(other), "-o", str(tmp_path / "o")).returncode == 0
    cfg = write_config(server.base_url)
    r = run_cmd("generate", "-q", "-c", str(cfg), "-o", str(tmp_path / "g"), "--tasks-from", str(tmp_path / "o"))
    line = _one_clean_line(r.stderr)
    assert r.returncode == 2 and line.startswith(f"synthgen: error: --tasks-from {tmp_path / 'o'}: "), line
    assert "'short-long' (its config asked for none" in line


def test_error_lines_mask_key_shaped_text(tmp_path):
    # an error message repeats what it was given (here a path); a key in it is not printed
    path = tmp_path / "sk-proj-0123456789abcdef.toml"
    r = run_cmd("run", "--config", str(path))
    line = _one_clean_line(r.stderr)
    assert r.returncode == 2 and "config file not found" in line
    assert "0123456789abcdef" not in r.stderr and "[redacted]" in line


def test_a_refused_command_leaves_no_run_directory_and_the_fixed_rerun_runs(tmp_path, server, write_config):
    # a refusal must not bind a new --out to the refused config: fixing the config and rerunning
    # the same command was told "started with a different config (changed: seed)"
    tasks = tmp_path / "tasks8"
    cfg8 = write_config(server.base_url, name="seed8.toml", seed=8)
    assert run_cmd("brainstorm", "-c", str(cfg8), "-o", str(tasks), "-q").returncode == 0
    out = tmp_path / "r"
    refusals = [
        (("generate", "-c", str(write_config(server.base_url)), "--tasks-from", str(tasks)), "seed 8, not 7"),
        (("generate", "-c", str(cfg8)), "stage 1 is not complete"),
        (("generate", "-c", str(cfg8), "--tasks-from", str(tmp_path)), "no readable run.json"),
        (("run", "-c", str(write_config("127.0.0.1:1/v1", name="noscheme.toml"))), "not an http(s) URL"),
        (("run", "-c", str(write_config("https://api.example.invalid/v1", name="remote.toml"))),
         "OPENAI_API_KEY"),
        (("run", "-c", str(cfg8), "--max-cost", "5"), "needs a price"),
        (("batch-export", "-c", str(cfg8), "--dir", str(tmp_path / "outbox")), "stage 1 is not complete"),
    ]
    for args, needle in refusals:
        r = run_cmd(*args, "-o", str(out))
        assert r.returncode == 2 and needle in _one_clean_line(r.stderr), args
        assert not out.exists(), args
    r = run_cmd("generate", "-c", str(cfg8), "--tasks-from", str(tasks), "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr


def test_a_bad_local_model_path_is_refused_before_the_run_directory_is_made(tmp_path):
    # the run directory was bound to the bad llm.model_path, so the rerun with the path fixed was
    # told "started with a different config (changed: llm.model_path)"
    quickstart = (Path(__file__).resolve().parent.parent / "configs" / "quickstart.toml").read_text()
    fifo, text = tmp_path / "fifo.gguf", tmp_path / "notes.gguf"
    os.mkfifo(fifo)
    text.write_text("not a model\n")
    out, cfg = tmp_path / "r", tmp_path / "local.toml"
    for path, needle in [(tmp_path / "nope.gguf", "not found"), (tmp_path, "not a file"), (fifo, "not a file"),
                         (text, "not a GGUF model file")]:
        cfg.write_text(quickstart.replace('# model_path = "/path/to/any-model.gguf"', f'model_path = "{path}"'))
        r = run_cmd("run", "-c", str(cfg), "-o", str(out))
        line = _one_clean_line(r.stderr)
        assert r.returncode == 2 and f"llm.model_path '{path}': {needle}" in line, line
        assert not out.exists(), path


def test_ctrl_c_while_the_cli_still_imports_is_one_line_and_130() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "--version"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while proc.poll() is None:  # the CLI's imports (about a second) have reached pydantic's core
        with open(f"/proc/{proc.pid}/maps") as maps:
            if "pydantic_core" in maps.read():
                break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (130, "synthgen: interrupted\n")


def test_tasks_from_a_run_json_of_another_shape_is_one_line(tmp_path, server, write_config):
    # another tool's run.json (a list, tables where synthgen's has none, odd part entries) was a
    # traceback: AttributeError, TypeError
    cfg = write_config(server.base_url)
    shapes = {"list": ([], 2), "stages": ({"stages": [], "config": 7}, 2),
              "parts": ({"config": {"seed": 7}, "stages": {"brainstorm": {"status": "complete"}},
                         "parts": {"tasks": [{"name": 5}]}}, 1)}
    for name, (data, code) in shapes.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps(data))
        r = run_cmd("generate", "-q", "-c", str(cfg), "-o", str(tmp_path / f"g-{name}"), "--tasks-from",
                    str(tmp_path / name))
        line = _one_clean_line(r.stderr)
        assert r.returncode == code and line.startswith("synthgen: error:") and str(tmp_path / name) in line, name
    assert server.requests == 0


def test_estimate_tasks_from_a_run_that_lost_its_task_part_names_the_part(tmp_path, server, write_config):
    # it said "no brainstormed tasks for group ... (none passed stage 1's checks)"
    cfg = write_config(server.base_url)
    assert run_cmd("brainstorm", "-q", "-c", str(cfg), "-o", str(tmp_path / "b")).returncode == 0
    part = next((tmp_path / "b" / "tasks").glob("part-*.jsonl"))
    part.unlink()
    r = run_cmd("estimate", "--config", str(cfg), "--tasks-from", str(tmp_path / "b"))
    assert r.returncode == 1 and f"{part} is missing" in _one_clean_line(r.stderr)
