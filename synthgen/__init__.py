"""synthgen: synthetic training data for text-embedding models (E5-mistral recipe)."""

import runpy

__version__ = "0.1.0"


def main() -> None:
    """The `synthgen` command: runs the package as `python -m synthgen` does. A spawned check
    worker re-imports the parent's main module; a console script's is the one that imports the
    CLI, and with it typer, rich and the SDK (a worker of 149 MB instead of 105,
    bench/notes/throughput.md); `synthgen/__main__.py` leaves the worker nothing to import."""
    runpy.run_module("synthgen", run_name="__main__", alter_sys=True)
