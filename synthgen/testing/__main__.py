"""`python -m synthgen.testing --port N [--latency-ms ..] [--rate-429 ..]`: the scripted server."""

from __future__ import annotations

import sys

from synthgen.testing.options import options_from_cli_args
from synthgen.testing.server import run_server


def main(argv: list[str] | None = None, prog: str = "python -m synthgen.testing") -> int:
    try:
        command = options_from_cli_args(argv, prog=prog)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        run_server(command.host, command.port, command.options)
    except OSError as exc:  # e.g. port already in use
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
