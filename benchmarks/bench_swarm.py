"""Seconds per FSM swarm step (horizon 4) at N = 50, 100, 200, and the ratio to the reference C++.

    python benchmarks/bench_swarm.py [--sizes 50 100 200] [--threads 1 2] [--out FILE.json]

The authors' reference C++ (henrycharlesworth/intrinsically_motivated_collective_motion, built with
-O3) took 0.23 s/step at N = 50, horizon 4, single thread, on the project's 2-vCPU VM. Each size is first run for a few warm-up steps (compilation and flock
formation), then timed over several steps of FSMSwarm.step() (tree search + decision + update).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba
import numpy as np

from swarm_gym import FSMSwarm

CPP_SECONDS_PER_STEP = 0.23  # reference C++, N = 50, horizon 4, single thread, measured on the VM
WARMUP = {50: 60, 100: 30, 200: 12}
TIMED = {50: 20, 100: 8, 200: 4}


def bench(n: int, threads: int, horizon: int = 4) -> dict:
    """Warm up, then time FSMSwarm.step(); returns a result row."""
    numba.set_num_threads(threads)
    sw = FSMSwarm(n_agents=n, horizon=horizon, seed=0)
    for _ in range(WARMUP.get(n, 10)):
        sw.step()
    times = []
    for _ in range(TIMED.get(n, 4)):
        t0 = time.perf_counter()
        sw.step()
        times.append(time.perf_counter() - t0)
    return {
        "n_agents": n, "horizon": horizon, "threads": threads, "steps_timed": len(times),
        "seconds_per_step_median": float(np.median(times)),
        "seconds_per_step_min": float(np.min(times)),
        "ratio_to_cpp_0.23s": float(np.median(times) / CPP_SECONDS_PER_STEP),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    FSMSwarm(n_agents=4, horizon=1, seed=0).step()  # load/compile the kernels
    print(f"compile/load: {time.perf_counter() - t0:.1f} s")
    rows = []
    print(f"{'N':>5} {'thr':>4} {'s/step (median)':>16} {'min':>8} {'vs C++ 0.23 s':>14}")
    for n in args.sizes:
        for th in args.threads:
            r = bench(n, min(th, numba.config.NUMBA_NUM_THREADS))
            rows.append(r)
            med, best, ratio = (r["seconds_per_step_median"], r["seconds_per_step_min"],
                                r["ratio_to_cpp_0.23s"])  # fmt: skip
            print(f"{n:>5} {r['threads']:>4} {med:>16.4f} {best:>8.4f} {ratio:>13.3f}x")
    meta = {"cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
            "numba": numba.__version__, "threading_layer": numba.threading_layer(),
            "load_average_at_end": os.getloadavg()}  # fmt: skip
    print(json.dumps(meta))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "meta": meta}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
