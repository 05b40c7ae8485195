"""Batched rollout throughput vs raw mujoco.rollout and vs a process pool of gym envs.

    python benchmarks/bench_rollout.py [--env EggHandOver-v0] [--batch 64] [--horizon 10]
        [--workers 2] [--repeats 3]

All three evaluate the same B x H env steps from one start state, in one run, and the ratios are
printed (targets: BatchedRollout >= 0.9 x raw physics, >= 3 x the process pool).

* raw: ``mujoco.rollout.Rollout`` on precomputed ctrl (all cores), no reward code, no slicing.
* BatchedRollout: ``rollout(state, actions, final_states=False)`` (what the planners call) and
  with final states.
* process pool: like the original TOPDM, W worker processes each own a gym env and, through
  multiprocessing pipes, get (state, action sequences), run ``set_state`` + ``step`` per sequence
  and send back the rewards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import gymnasium as gym
import numpy as np


def _worker(env_id: str, conn) -> None:
    import dexterous_gym  # noqa: F401

    env = gym.make(env_id).unwrapped
    while True:
        msg = conn.recv()
        if msg is None:
            break
        state, actions = msg
        rewards = np.empty(actions.shape[:2])
        for b in range(actions.shape[0]):
            env.set_state(state)
            for h in range(actions.shape[1]):
                rewards[b, h] = env.step(actions[b, h])[1]
        conn.send(rewards)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="EggHandOver-v0")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import mujoco
    import mujoco.rollout

    import dexterous_gym  # noqa: F401
    from dexterous_gym.rollout import BatchedRollout

    env = gym.make(args.env)
    env.reset(seed=0)
    u = env.unwrapped
    state = u.get_state()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (args.batch, args.horizon, u.sim.n_actions))
    n_env_steps = args.batch * args.horizon

    batched = BatchedRollout(env)  # threads = os.cpu_count()
    full, warm = batched._to_fullphysics(batched.state_layout.split(state[None]).physics)
    ctrl = np.repeat(u.sim.ctrl_from_actions(actions), u.sim.n_substeps, axis=1)
    out = np.empty((args.batch, ctrl.shape[1], batched.n_full))
    pool = mujoco.rollout.Rollout(nthread=os.cpu_count())
    datas = [mujoco.MjData(u.model) for _ in range(os.cpu_count() or 1)]

    def raw() -> None:
        pool.rollout(u.model, datas, full, ctrl, initial_warmstart=warm, state=out)

    t_raw = _best(raw, args.repeats)
    t_ours = _best(lambda: batched.rollout(state, actions, final_states=False), args.repeats)
    t_ours_final = _best(lambda: batched.rollout(state, actions), args.repeats)

    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(args.workers):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(args.env, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    chunks = np.array_split(actions, args.workers)

    def process_pool() -> None:
        for pipe, chunk in zip(pipes, chunks, strict=True):
            pipe.send((state, chunk))
        for pipe in pipes:
            pipe.recv()

    process_pool()  # warm up (imports, model build)
    t_pool = _best(process_pool, args.repeats)
    for pipe, proc in zip(pipes, procs, strict=True):
        pipe.send(None)
        proc.join()
    batched.close()
    pool.close()

    rate = {k: n_env_steps / t for k, t in [("raw", t_raw), ("ours", t_ours), ("ours_final", t_ours_final), ("pool", t_pool)]}  # fmt: skip
    print(f"env {args.env}, B={args.batch}, H={args.horizon}, threads={os.cpu_count()}, "
          f"pool workers={args.workers}, best of {args.repeats}, mujoco {mujoco.__version__}")  # fmt: skip
    print(f"raw mujoco.rollout          {rate['raw']:10.0f} env steps/s")
    print(f"BatchedRollout (scores)     {rate['ours']:10.0f} env steps/s")
    print(f"BatchedRollout (+finals)    {rate['ours_final']:10.0f} env steps/s")
    print(f"process pool (gym envs)     {rate['pool']:10.0f} env steps/s")
    print(f"ratio BatchedRollout / raw          {rate['ours'] / rate['raw']:.3f}  (target >= 0.9)")
    print(f"ratio BatchedRollout+finals / raw   {rate['ours_final'] / rate['raw']:.3f}")
    print(f"ratio BatchedRollout / process pool {rate['ours'] / rate['pool']:.2f}  (target >= 3)")


if __name__ == "__main__":
    main()
