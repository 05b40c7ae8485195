"""The whole TOPDM planner against the batched rollouts alone, in one run.

    python benchmarks/bench_topdm.py [--env EggHandOver-v0] [--steps 5] [--threads 2] [--mppi]

Plans and executes the first ``--steps`` control steps of a TOPDM trajectory with the ``reduced``
preset's planner (N 200, K0 10, H 20; the iteration schedule of a 50-step trajectory), through
``baselines.topdm.run.run_trajectory`` with everything it does (sampling, elite selection,
checkpoints after every control step, executing the action), and times it. Then runs the same
number of ``BatchedRollout.rollout`` calls of the same shape (N sequences of H steps from one
state, random actions, no final states: what the planner calls) alone. Prints simulated env steps
per second of both and the ratio (target >= 0.9), and where the rest goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import dexterous_gym  # noqa: F401
from baselines.topdm.config import iterations_at, make_config
from baselines.topdm.run import run_trajectory
from dexterous_gym.rollout import BatchedRollout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="EggHandOver-v0")
    parser.add_argument("--steps", type=int, default=5, help="control steps planned")
    parser.add_argument("--threads", type=int, default=2, help="rollout threads")
    parser.add_argument("--mppi", action="store_true", help="MPPI instead of TOPDM")
    args = parser.parse_args()
    config = make_config("reduced", args.env)
    iterations = sum(iterations_at(t, config.k0, config.traj_len, config.anneal) for t in range(args.steps))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        run_trajectory(args.env, config, 0, Path(tmp) / "traj", mppi=args.mppi,
                       n_threads=args.threads, video=False, max_steps=args.steps,
                       progress_bar=False)  # fmt: skip
        profiler.disable()
        planner_s = time.perf_counter() - start
    env_steps = iterations * config.n_samples * config.horizon
    # the rollouts alone: the same calls, the same shapes
    env = gym.make(args.env)
    env.reset(seed=0)
    rollout = BatchedRollout.from_env(env, n_threads=args.threads)
    state = env.unwrapped.get_state()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (config.n_samples, config.horizon, rollout.n_actions))
    rollout.rollout(state, actions, final_states=False)  # warm-up
    start = time.perf_counter()
    for _ in range(iterations):
        rollout.rollout(state, actions, final_states=False)
    rollout_s = time.perf_counter() - start
    rollout.close()
    planner, alone = env_steps / planner_s, env_steps / rollout_s
    print(f"{args.env}, {'MPPI' if args.mppi else 'TOPDM'} (reduced: N {config.n_samples}, K0 {config.k0}, "
          f"H {config.horizon}), {args.steps} control steps = {iterations} iterations = {env_steps:,} env steps, "
          f"{args.threads} rollout threads")  # fmt: skip
    print(f"whole planner (run_trajectory): {planner:,.0f} env steps/s ({planner_s:.1f} s)")
    print(f"batched rollouts alone:         {alone:,.0f} env steps/s ({rollout_s:.1f} s)")
    print(f"ratio: {planner / alone:.3f} (target >= 0.9)")
    stats = pstats.Stats(profiler)
    rollout_cum = max(
        (entry[3] for (file, _, name), entry in stats.stats.items()  # type: ignore[attr-defined]
         if name == "rollout" and file.endswith("dexterous_gym/rollout.py")),
        default=0.0,
    )  # fmt: skip
    print(f"inside the planner run: rollouts {100 * rollout_cum / planner_s:.1f} % of the wall time, "
          f"the rest (sampling, sorting, checkpoints, executing the action, set-up) "
          f"{100 * (1 - rollout_cum / planner_s):.1f} %")  # fmt: skip


if __name__ == "__main__":
    main()
