"""`python -m synthgen.testing --port N [--latency-ms ..] [--rate-429 ..]`: the scripted server."""

from __future__ import annotations

import contextlib
import io
import sys

from synthgen.testing.options import options_from_cli_args
from synthgen.testing.server import run_server


def main(argv: list[str] | None = None, prog: str = "python -m synthgen.testing") -> int:
    """Serve until stopped; a bad flag is one error line (argparse's usage block is cut) and 2."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            command = options_from_cli_args(argv, prog=prog)
        if not 0 <= command.port <= 65535:
            raise ValueError(f"--port must be between 0 and 65535, got {command.port}")
    except SystemExit as exc:  # argparse: --help (0, on stdout) or a bad flag (2)
        lines = captured.getvalue().strip().splitlines()
        if lines:
            print(lines[-1], file=sys.stderr)
        return exc.code if isinstance(exc.code, int) else 2
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        run_server(command.host, command.port, command.options)
    except OSError as exc:  # e.g. port already in use
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
