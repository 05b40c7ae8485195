"""HER training throughput of the presets on FetchPush, in one run.

    python benchmarks/bench_her.py [--env FetchPush-v4] [--steps 7600] [--presets single plappert]

Builds each preset's learner exactly as ``python -m baselines.her --preset P`` does (envs,
normaliser, observation clip, HerReplayBuffer, DDPG/TD3/TQC with the preset's schedule), fills the
buffer past ``learning_starts`` (untimed), then times whole training cycles, about ``--steps`` env
steps of them
(``plappert``: 38 episodes of 50 steps, then 40 updates of batch 4 864; ``single``: one episode in
each of 2 envs, then 40 updates of batch 256) on one torch thread, and prints env steps per second
of each and the ratios to the first preset.
"""

from __future__ import annotations

import argparse
import time

import torch

import dexterous_gym  # noqa: F401
from baselines.common.envs import episode_length, register_env_packages
from baselines.her.config import parse_args, resolve_hyperparameters
from baselines.her.train import build_model, make_envs, obs_wrappers


def steps_per_second(env_id: str, preset: str, steps_wanted: int) -> tuple[float, int]:
    """Env steps per second over whole training cycles of ``preset`` (and the steps timed)."""
    args = parse_args(["--env", env_id, "--timesteps", "10000000", "--preset", preset, "--out", "/tmp/unused"])  # fmt: skip
    h = args.hyperparameters()
    steps = episode_length(env_id)
    hp = resolve_hyperparameters(args, steps)
    envs, _ = make_envs(env_id, h.n_envs, 0, h.normalize, True, obs_wrappers(args))
    model = build_model(args, hp, envs)
    per_cycle = hp["train_freq"][0] * h.n_envs
    model.learn(hp["learning_starts"] + per_cycle)  # warm-up and one training cycle, untimed
    timed = max(1, round(steps_wanted / per_cycle)) * per_cycle
    start = time.perf_counter()
    model.learn(timed, reset_num_timesteps=False)
    return timed / (time.perf_counter() - start), timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="FetchPush-v4")
    parser.add_argument(
        "--steps", type=int, default=7600, help="env steps timed per preset (whole cycles)"
    )
    parser.add_argument("--presets", nargs="+", default=["single", "plappert"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    register_env_packages()
    rates = {}
    for preset in args.presets:
        rate, timed = steps_per_second(args.env, preset, args.steps)
        rates[preset] = rate
        print(f"{preset}: {rate:,.0f} env steps/s ({timed:,} env steps timed)")
    first = args.presets[0]
    for preset in args.presets[1:]:
        print(f"{preset} / {first}: {rates[preset] / rates[first]:.2f}x")


if __name__ == "__main__":
    main()
