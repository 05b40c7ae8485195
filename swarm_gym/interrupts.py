"""Ctrl-C during a long swarm step: a plain KeyboardInterrupt within about a second.

Python runs a SIGINT handler only in the main thread, between bytecodes. A compiled numba kernel
runs no bytecode until it returns, so Ctrl-C is seen only then, and numba may run a little Python
while it boxes the results (``numba.core.serialize._numba_unpickle``): the KeyboardInterrupt
raised there is swallowed into a chain of ``SystemError: ... returned a result with an exception
set``. Hence two pieces:

* :func:`deferred_interrupts` records a SIGINT that arrives during a kernel call instead of
  raising it inside numba, and raises a clean KeyboardInterrupt once the call has returned (or
  earlier, at a :func:`raise_if_interrupted` between two calls);
* :func:`run_in_blocks` splits the agents of a large flock into blocks of about
  :data:`BLOCK_SECONDS` of work each, so a step of any size returns to Python, and sees the
  signal, that often; and since one agent alone may take longer than that (N = 10^5), a kernel
  also polls a stop flag that a SIGINT sets at once (:func:`stop_on_interrupt`). Every agent's
  result depends only on the snapshot, never on which block it was computed in, so the results
  are those of one call, bit for bit.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import numba
import numpy as np

#: Target wall time of one kernel call in a blocked loop: the latency of Ctrl-C.
BLOCK_SECONDS = 0.25
#: Below this many work units (agents times the cost of one agent) a loop is one call.
ONE_CALL_WORK = 2.0e7

_pending: list[int] | None = None  # SIGINTs recorded by the active deferral, None when none is


def _record(signum: int, frame: FrameType | None) -> None:
    if _pending is None:  # run just as the deferral ended: what the default handler does
        raise KeyboardInterrupt
    _pending.append(signum)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Record SIGINT while the block runs; raise KeyboardInterrupt when it ends if one came.

    A no-op outside the main thread, inside another deferral (the outer one raises), and when
    SIGINT has a handler other than Python's default (the program then decides what Ctrl-C does).
    """
    global _pending
    if (
        _pending is not None
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _pending = []
    signal.signal(signal.SIGINT, _record)
    try:
        yield
    finally:
        try:  # restoring the handler may itself raise a SIGINT that just arrived
            signal.signal(signal.SIGINT, signal.default_int_handler)
        finally:
            interrupted = bool(_pending)
            _pending = None
    if interrupted:
        raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt now if the active deferral has recorded a SIGINT."""
    if _pending:
        raise KeyboardInterrupt


@contextmanager
def stop_on_interrupt(stop: np.ndarray) -> Iterator[None]:
    """While the block runs, a SIGINT sets ``stop[0] = 1`` at once, even while the main thread is
    inside a compiled kernel (which polls ``stop`` and returns early).

    The signal's C-level handler writes to :func:`signal.set_wakeup_fd` even when no bytecode
    runs; a helper thread waiting on that pipe sets the flag (our kernels release the GIL). A
    no-op outside :func:`deferred_interrupts` (then the program's own SIGINT handler decides
    what Ctrl-C does), outside the main thread, and when another wakeup fd is installed
    (asyncio's, say).
    """
    if _pending is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    if previous != -1:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        yield
        return

    def watch() -> None:
        while data := os.read(read_end, 64):  # b"" once the write end is closed
            if signal.SIGINT in data:
                stop[0] = 1

    watcher = threading.Thread(target=watch, name="swarm-ctrl-c", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(-1)
        os.close(write_end)
        watcher.join()
        os.close(read_end)


def run_in_blocks(
    items: np.ndarray, work_per_item: float, run: Callable[[np.ndarray, np.ndarray], None]
) -> None:
    """Call ``run(block, stop)`` on consecutive blocks of ``items`` (one block if the work is
    small); ``stop`` is a (1,) int64 array that a kernel may poll (see :func:`stop_on_interrupt`).

    ``work_per_item`` estimates the cost of one item (in units of roughly one inner-loop pass,
    see :data:`ONE_CALL_WORK`). Above that the first block has one item per numba thread and each
    next one is resized from the time of the last toward :data:`BLOCK_SECONDS` (at most four times
    larger); ``stop`` is set on Ctrl-C, and a recorded SIGINT is raised between blocks (inside
    :func:`deferred_interrupts`).
    """
    stop = np.zeros(1, dtype=np.int64)
    total = items.shape[0]
    if total * work_per_item <= ONE_CALL_WORK:
        run(items, stop)
        return
    threads = numba.get_num_threads()
    size = threads
    start = 0
    with stop_on_interrupt(stop):
        while start < total:
            block = items[start : start + size]
            began = time.perf_counter()
            run(block, stop)
            elapsed = time.perf_counter() - began
            start += block.shape[0]
            if stop[0]:
                raise KeyboardInterrupt
            raise_if_interrupted()
            grown = size * BLOCK_SECONDS / max(elapsed, 1e-6)
            size = max(threads, min(4 * size, int(grown)))
