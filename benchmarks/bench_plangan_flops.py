"""PlanGAN's speed against the machine: achieved FLOP rate as a fraction of float32 matmul peak.

    python benchmarks/bench_plangan_flops.py [--threads 1] [--device cpu] [--iters 5] [--plans 2]

One run, at the ``paper`` preset's sizes on FetchPush (3 GANs, 3 OSMs, 512-wide layers, planning
25 x 100 rollouts of 50 steps): counts the floating-point operations of one training iteration and
of one planning step with torch's own counter (``torch.utils.flop_counter.FlopCounterMode``: the
matrix products, which are nearly all of the work), times both, and divides the achieved rate by
this machine's float32 matmul peak, measured in the same run as the best of several large
``torch.mm`` calls on the same threads. Prints both fractions, and the shapes of the largest
products (where a low fraction comes from).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch
from bench_plangan import ACTION, GOAL, STATE, synthetic_buffer, timed, timing_parser
from torch.utils.flop_counter import FlopCounterMode

from baselines.plangan.config import PlanGANHyperparameters, preset_values
from baselines.plangan.model import PlanGAN


def matmul_peak(device: str, size: int = 2048, repeats: int = 5) -> float:
    """The best FLOP rate of a square float32 ``torch.mm`` of ``size`` (2 n^3 flops)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)
    sync = device.startswith("cuda")
    best = float("inf")
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.mm(a, b)
        if sync:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def count_flops(fn: object) -> tuple[int, Counter[str]]:
    """Total FLOPs of one call of ``fn`` and FLOPs per operator."""
    assert callable(fn)
    with FlopCounterMode(display=False) as counter:
        fn()
    per_op: Counter[str] = Counter()
    for op, flops in counter.get_flop_counts()["Global"].items():
        per_op[str(op)] += int(flops)
    return int(counter.get_total_flops()), per_op


def main() -> None:
    parser = timing_parser(__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true",
                        help="also print where a training iteration's time goes (torch.profiler, self CPU time by operator)")  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hp = PlanGANHyperparameters(**preset_values("paper", "push"))
    rng = np.random.default_rng(0)
    buffer = synthetic_buffer(rng)
    model = PlanGAN(hp, STATE, ACTION, GOAL, args.device, seed=0)
    model.fit_scalers(buffer, rng)
    state, goal = buffer.obs[0], buffer.ag[30]
    sync = args.device.startswith("cuda")
    peak = matmul_peak(args.device)
    train_flops, train_ops = count_flops(lambda: model.train_iteration(buffer, rng))
    plan_flops, plan_ops = count_flops(lambda: model.plan(state, goal))
    t_train = timed(lambda: model.train_iteration(buffer, rng), args.iters, sync)
    t_plan = timed(lambda: model.plan(state, goal), args.plans, sync)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"float32 matmul peak (2048^2 torch.mm, best of 5): {peak / 1e9:.1f} GFLOP/s")
    for name, flops, seconds, ops in (("training iteration", train_flops, t_train, train_ops),
                                      ("planning step", plan_flops, t_plan, plan_ops)):  # fmt: skip
        rate = flops / seconds
        top = ", ".join(f"{op.split('.')[-1]} {100 * f / flops:.0f} %" for op, f in ops.most_common(3))  # fmt: skip
        print(f"{name}: {flops / 1e9:.2f} GFLOP in {seconds * 1e3:.1f} ms = {rate / 1e9:.1f} GFLOP/s, "
              f"{rate / peak:.2f} of peak ({top})")  # fmt: skip
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.train_iteration(buffer, rng)
        total = sum(e.self_cpu_time_total for e in prof.key_averages())
        print("training iteration, self CPU time by operator:")
        for event in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]:
            print(f"  {100 * event.self_cpu_time_total / total:5.1f} %  {event.key} ({event.count} calls)")  # fmt: skip


if __name__ == "__main__":
    main()
