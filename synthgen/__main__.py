"""`python -m synthgen` is the `synthgen` command.

The import sits under the guard: a spawned check worker runs this file as `__mp_main__`, and
must not import the CLI and everything behind it (the SDK, typer, rich): 57 MB of its RSS
(142 -> 85 MB peak in a 3000-item run)."""

if __name__ == "__main__":
    from synthgen.cli import main

    main()
