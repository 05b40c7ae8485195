"""``python -m dexterous_gym``: list the environments, or roll one out and save a GIF/MP4.

python -m dexterous_gym list
python -m dexterous_gym rollout EggCatchUnderarm-v0 --policy random --steps 75 --out egg.gif
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

VIDEO_SUFFIXES = (".gif", ".mp4")


def _list(_: argparse.Namespace) -> int:
    import gymnasium as gym

    from dexterous_gym import ENV_IDS
    from dexterous_gym.tasks import TASKS_BY_ID

    print(f"{'ID':34} {'family':18} {'object':6} {'reward':6} {'steps':>5}")
    for env_id in ENV_IDS:
        task = TASKS_BY_ID.get(env_id)
        family, obj, reward = (
            (task.family, task.object, task.reward_type) if task else ("PenSpin", "pen", "spin")
        )
        print(f"{env_id:34} {family:18} {obj:6} {reward:6} {gym.spec(env_id).max_episode_steps:>5}")
    return 0


def _rollout(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    import gymnasium as gym
    import imageio.v2 as imageio
    import numpy as np
    from tqdm import tqdm

    import dexterous_gym

    if args.env_id not in dexterous_gym.ENV_IDS:
        raise SystemExit(
            f"env_id must be one of `python -m dexterous_gym list`, got {args.env_id!r}"
        )
    out = Path(args.out)
    if out.suffix not in VIDEO_SUFFIXES:
        raise SystemExit(f"--out must end in one of {VIDEO_SUFFIXES}, got {out.name!r}")
    if args.steps < 1:
        raise SystemExit(f"--steps must be a positive integer, got {args.steps}")
    env = gym.make(args.env_id, render_mode="rgb_array", width=args.width, height=args.height)
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)
    frames, total_reward, successes = [env.render()], 0.0, []
    for _ in tqdm(range(args.steps), desc=args.env_id, unit="step"):
        action = (
            env.action_space.sample()
            if args.policy == "random"
            else np.zeros(env.action_space.shape)
        )
        _obs, reward, terminated, truncated, info = env.step(action)
        total_reward += reward
        successes.append(info.get("is_success", 0.0))
        frames.append(env.render())
        if terminated or truncated:
            break
    env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    fps = env.metadata["render_fps"]
    if out.suffix == ".gif":
        imageio.mimsave(out, frames, duration=1000.0 / fps, loop=0)
    else:
        imageio.mimsave(out, frames, fps=fps)
    print(
        f"{args.env_id}: {len(frames) - 1} steps, return {total_reward:.3f}, final success {successes[-1]:.0f} -> {out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dexterous_gym", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the registered environment IDs").set_defaults(run=_list)
    rollout = commands.add_parser(
        "rollout", help="roll out a random or zero policy and save a video"
    )
    rollout.add_argument("env_id")
    rollout.add_argument("--policy", choices=("random", "zero"), default="random")
    rollout.add_argument("--steps", type=int, default=75)
    rollout.add_argument("--seed", type=int, default=0)
    rollout.add_argument("--out", default="rollout.gif", help="a .gif or .mp4 path")
    rollout.add_argument("--width", type=int, default=320)
    rollout.add_argument("--height", type=int, default=320)
    rollout.set_defaults(run=_rollout)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
