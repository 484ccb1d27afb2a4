"""One BLAS thread per synthgen process unless the user says otherwise.

numpy's BLAS (OpenBLAS in the wheels, or MKL) starts a pool of threads, one per core, in
every process that imports numpy, and spreads each matrix product over it. synthgen's products
are small (language scores for a few dozen texts at a time), so the pool's threads only spin
and take cores from the event loop, the check worker and a local server: on 2 cores a
2000-item run took ~5% longer and its check worker used ~0.1 s more CPU. The thread counts are
read when numpy loads, so this runs before anything imports it.
"""

from __future__ import annotations

import os

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread(env: dict[str, str] | None = None) -> dict:
    """Default the BLAS thread count to 1 in `env` (default: this process's environment);
    a value the user set is kept. Returns `env`."""
    target = os.environ if env is None else env
    for name in BLAS_THREAD_VARS:
        target.setdefault(name, "1")
    return target
