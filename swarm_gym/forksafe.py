"""Parallel numba kernels that survive ``fork()``.

numba's default threading layer on Linux is OpenMP, and GNU OpenMP does not survive a fork: once
a parallel kernel has run in a process, a child forked from it (``multiprocessing``'s default
start method on Linux, hence Gymnasium's ``AsyncVectorEnv``) aborts at its first parallel region
("fork() called from a process already using GNU OpenMP"). The layers that survive a fork either
need TBB, which numba cannot load from a pip install, or (``workqueue``) are not thread-safe,
which our ``nogil`` kernels need.

So a kernel wrapped by :func:`fork_safe` runs as compiled (in parallel) in every process that has
not been forked from one that used OpenMP, and in such a child as a serial compilation of the same
Python function, made on first use there. Serial and parallel give the same results (the swarm's
results do not depend on the thread count, which the tests check); in a forked worker of a vector
env the parallelism comes from the processes anyway.

Every call also runs inside :func:`swarm_gym.interrupts.deferred_interrupts`, so Ctrl-C during a
kernel is a KeyboardInterrupt after it returns, not a SystemError raised inside numba.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numba

from swarm_gym.interrupts import deferred_interrupts

_used_openmp = False  # a parallel kernel ran in this process under the OpenMP layer
_layer_known = False  # numba's threading layer has been looked up (once, after the first call)
_forked_after_openmp = False  # this process was forked from one where that had happened


def _after_fork_in_child() -> None:
    global _forked_after_openmp
    _forked_after_openmp = _forked_after_openmp or _used_openmp


os.register_at_fork(after_in_child=_after_fork_in_child)


class ForkSafeKernel:
    """A parallel numba dispatcher, with a serial fallback in children forked after OpenMP ran."""

    def __init__(self, parallel: Any) -> None:
        self.parallel = parallel
        self._serial: Any = None
        functools.update_wrapper(self, parallel.py_func)

    def __call__(self, *args: Any) -> Any:
        global _used_openmp, _layer_known
        if _forked_after_openmp:
            if self._serial is None:
                options = {k: v for k, v in self.parallel.targetoptions.items() if k not in ("parallel", "cache", "nopython")}  # fmt: skip
                self._serial = numba.njit(**options)(self.parallel.py_func)
            with deferred_interrupts():
                return self._serial(*args)
        with deferred_interrupts():
            result = self.parallel(*args)
        if not _layer_known:  # the layer is chosen at the first parallel call, then fixed
            _used_openmp, _layer_known = numba.threading_layer() == "omp", True
        return result


def fork_safe(parallel: Any) -> ForkSafeKernel:
    """Wrap a ``@njit(parallel=True)`` dispatcher (see the module docstring)."""
    return ForkSafeKernel(parallel)
