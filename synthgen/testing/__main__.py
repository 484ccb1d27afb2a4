"""`python -m synthgen.testing --port N [--latency-ms ..] [--rate-429 ..]`: the scripted server."""

import sys

from synthgen.testing.server import main

if __name__ == "__main__":
    sys.exit(main())
