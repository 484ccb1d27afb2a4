"""One BLAS thread per synthgen process unless the user says otherwise.

numpy's BLAS starts a pool of threads, one per core, in every process that imports numpy.
synthgen's products are small (language scores for a few dozen texts at a time), so the pool
only spins and takes cores from the event loop, the check worker and a local server (on 2 cores
a 2000-item run took ~5% longer). The counts are read when numpy loads: call this before.
"""

from __future__ import annotations

import os


def one_blas_thread() -> None:
    """Default OpenBLAS's and MKL's thread counts to 1 in this process's environment (and so in its
    children's); a value the user set is kept."""
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
