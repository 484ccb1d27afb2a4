"""`python -m synthgen` is the `synthgen` command. The import sits under the guard: a spawned check
worker runs this file as `__mp_main__` and must not load the CLI (typer, rich, the SDK: 57 MB)."""

if __name__ == "__main__":
    import sys

    try:
        from synthgen.cli import main
    except KeyboardInterrupt:  # Ctrl-C in the second the CLI takes to import, before it can catch it
        sys.stderr.write("synthgen: interrupted\n")
        raise SystemExit(130) from None

    main()
