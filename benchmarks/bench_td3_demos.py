"""TD3+demos training throughput against stock Stable-Baselines3 TD3, in one run.

    python benchmarks/bench_td3_demos.py [--steps 4000] [--learning-starts 1000] [--demos DIR]

Both learners use the same networks (two 256-unit layers), batch 256, one update per env step and
one torch thread, on the same env (PenSpin-v0). Stock TD3 steps the plain TimeLimit env;
TD3+demos adds the segment scheduler with demo-state resets, previous-action coupling and the
running normaliser. Prints env steps per second of each and the ratio (target >= 0.9). Timing is
wall time of ``learn`` after ``--learning-starts`` random steps (which are timed too).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import TD3
from stable_baselines3.common.noise import NormalActionNoise

import dexterous_gym  # noqa: F401
from baselines.td3_demos.config import PRESETS, Td3DemosHyperparameters
from baselines.td3_demos.demos import demo_states, load_demos, shipped_demos
from baselines.td3_demos.normalizer import RunningObsNormalizer
from baselines.td3_demos.train import build_model, make_train_env

ENV = "PenSpin-v0"


def stock(hp: Td3DemosHyperparameters, steps: int) -> float:
    env = gym.make(ENV)
    n = env.action_space.shape[0]
    model = TD3(
        "MlpPolicy", env, learning_rate=hp.lr, buffer_size=hp.buffer_size,
        learning_starts=hp.learning_starts, batch_size=hp.batch_size, tau=hp.tau, gamma=hp.gamma,
        train_freq=1, gradient_steps=1, policy_delay=hp.policy_delay,
        action_noise=NormalActionNoise(np.zeros(n), hp.expl_noise * np.ones(n)),
        policy_kwargs={"net_arch": list(hp.net_arch)}, seed=0, device="cpu",
    )  # fmt: skip
    tic = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - tic)


def ours(hp: Td3DemosHyperparameters, steps: int, demos_dir: str | None) -> float:
    trajectories = load_demos(demos_dir or shipped_demos(ENV), ENV)
    venv = RunningObsNormalizer(make_train_env(ENV, hp, demo_states(trajectories, ENV), 0))
    model = build_model(hp, venv, 0, "cpu")
    tic = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - tic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--learning-starts", type=int, default=1000)
    parser.add_argument("--demos", default=None, help="demo folder (default: the shipped demos)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    hp = Td3DemosHyperparameters(**{**PRESETS["paper"], "learning_starts": args.learning_starts})
    rate_stock = stock(hp, args.steps)
    rate_ours = ours(hp, args.steps, args.demos)
    print(f"stock SB3 TD3:  {rate_stock:7.1f} env steps/s")
    print(f"TD3+demos:      {rate_ours:7.1f} env steps/s")
    print(f"ratio TD3+demos / stock: {rate_ours / rate_stock:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
