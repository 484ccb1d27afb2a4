"""One BLAS thread per synthgen process unless the user says otherwise: numpy's pool of one
thread per core only spins on synthgen's small products and takes cores from the event loop, the
check worker and a local server (a 2000-item run took ~5% longer on 2 cores)."""

from __future__ import annotations

import os


def one_blas_thread() -> None:
    """Default OpenBLAS's and MKL's thread counts to 1 here and in children, before numpy loads;
    a value the user set is kept."""
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
