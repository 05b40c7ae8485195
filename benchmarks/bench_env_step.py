"""env.step against a raw ``mj_step`` x n_substeps loop on the same model, in one run.

    python benchmarks/bench_env_step.py [--steps 3000] [--repeats 5]

Both loops apply the same pre-drawn random actions from the same start state; the raw loop only
writes ctrl (already mapped) and steps MuJoCo, so the ratio is the env's overhead: observation,
reward, success, info, validation, and for the ``gym.make`` column the wrappers that ``gym.make``
stacks (the time limit, ``StepCountTimeLimit``; OrderEnforcing; the passive checker). Repeats are
interleaved and the median is reported; the last line sums up the ``gym.make`` ratios, the speed
a user of ``gym.make`` sees.

Both loops are single-threaded and run in this thread, so they are timed with the thread's CPU
clock (``time.thread_time``): on a shared machine other processes then cannot skew the ratio the
way they skew wall-clock time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym
import mujoco
import numpy as np

import dexterous_gym

ENV_IDS = ("EggCatchUnderarm-v0", "TwoEggCatchUnderArm-v0", "PenSpin-v0")
GYM_MAKE_TARGET = 0.9  # the gym.make ratio the env layer aims at on a quiet machine


def time_env(env, state, actions) -> float:
    env.unwrapped.set_state(state)
    start = time.thread_time()
    for action in actions:
        *_, _truncated, _ = env.step(action)
    return time.thread_time() - start


def time_raw(model, data, physics_state, ctrls, n_substeps) -> float:
    mujoco.mj_setState(model, data, physics_state, mujoco.mjtState.mjSTATE_INTEGRATION)
    start = time.thread_time()
    for ctrl in ctrls:
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, nstep=n_substeps)
    return time.thread_time() - start


def bench(env_id: str, n_steps: int, repeats: int) -> dict:
    # max_episode_steps=None: a benchmark run is longer than one episode
    wrapped = gym.make(env_id, max_episode_steps=None)
    wrapped.reset(seed=0)
    env = wrapped.unwrapped
    sim = env.sim
    rng = np.random.default_rng(0)
    # moderate actions keep the objects in play for thousands of steps
    actions = rng.uniform(-0.3, 0.3, size=(n_steps, sim.n_actions)).astype(np.float32)
    ctrls = sim.ctrl_from_actions(actions.astype(np.float64))
    state = env.get_state()
    physics_state = env.state_layout.split(state).physics
    raw_data = mujoco.MjData(env.model)
    raw, stepped, made = [], [], []
    for _ in range(repeats):
        raw.append(time_raw(env.model, raw_data, physics_state, ctrls, sim.n_substeps))
        stepped.append(time_env(env, state, actions))
        made.append(time_env(wrapped, state, actions))
    wrapped.close()
    raw_s, env_s, made_s = (statistics.median(x) for x in (raw, stepped, made))
    return {
        "env_id": env_id,
        "raw_steps_per_s": n_steps / raw_s,
        "env_steps_per_s": n_steps / env_s,
        "made_steps_per_s": n_steps / made_s,
        "ratio_unwrapped": raw_s / env_s,
        "ratio_gym_make": raw_s / made_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="env steps per timed loop")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"dexterous_gym {dexterous_gym.__version__}, mujoco {mujoco.__version__}, gymnasium {gym.__version__}, python {platform.python_version()}"
    )
    print(
        f"{args.steps} env steps x {args.repeats} interleaved repeats, median; ratio = raw time / env time"
    )
    header = f"{'env':26} {'raw steps/s':>12} {'env.step/s':>11} {'gym.make/s':>11} {'ratio (unwrapped)':>18} {'ratio (gym.make)':>17}"
    print(header)
    made_ratios = []
    for env_id in ENV_IDS:
        r = bench(env_id, args.steps, args.repeats)
        made_ratios.append(r["ratio_gym_make"])
        print(
            f"{r['env_id']:26} {r['raw_steps_per_s']:12.0f} {r['env_steps_per_s']:11.0f} "
            f"{r['made_steps_per_s']:11.0f} {r['ratio_unwrapped']:18.3f} {r['ratio_gym_make']:17.3f}"
        )
    print(
        f"gym.make envs step at {min(made_ratios):.2f}-{max(made_ratios):.2f} of raw physics speed "
        f"(raw time / gym.make env time; the target is >= {GYM_MAKE_TARGET})"
    )


if __name__ == "__main__":
    main()
