"""``python -m dexterous_gym``: list the environments, or roll one out and save a GIF/MP4.

python -m dexterous_gym list
python -m dexterous_gym rollout EggCatchUnderarm-v0 --policy random --steps 75 --out egg.gif

The IDs are the 31 of the original suite and PenReorientation-v0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def _list(_: argparse.Namespace) -> int:
    import gymnasium as gym

    from dexterous_gym import ENV_IDS, EXTRA_ENV_IDS
    from dexterous_gym.tasks import PEN_REORIENTATION_ID, TASKS_BY_ID

    one_hand = {PEN_REORIENTATION_ID: ("PenReorientation", "pen", "dense")}
    print(f"{'ID':34} {'family':18} {'object':6} {'reward':6} {'steps':>5}")
    for env_id in (*ENV_IDS, *EXTRA_ENV_IDS):
        task = TASKS_BY_ID.get(env_id)
        family, obj, reward = (
            (task.family, task.object, task.reward_type)
            if task
            else one_hand.get(env_id, ("PenSpin", "pen", "spin"))
        )
        print(f"{env_id:34} {family:18} {obj:6} {reward:6} {gym.spec(env_id).max_episode_steps:>5}")
    return 0


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {value}")
        return value

    return parse


def _rollout(args: argparse.Namespace) -> int:
    from dexterous_gym.video import check_video_path

    # everything the user can get wrong is checked before the first step
    try:
        out = check_video_path(args.out, name="--out")
    except ValueError as err:
        return _fail(str(err))
    import gymnasium as gym
    import numpy as np
    from tqdm import tqdm

    import dexterous_gym
    from dexterous_gym.video import write_video

    if args.env_id not in (*dexterous_gym.ENV_IDS, *dexterous_gym.EXTRA_ENV_IDS):
        return _fail(
            f"env_id must be one of the IDs of `python -m dexterous_gym list`, got {args.env_id!r}"
        )
    try:  # sizes and seeds are checked by the env itself
        env: Any = gym.make(
            args.env_id, render_mode="rgb_array", width=args.width, height=args.height
        )
        env.reset(seed=args.seed)
    except (ValueError, TypeError) as err:
        return _fail(str(err).split(" was raised from the environment creator")[0])
    env.action_space.seed(args.seed)
    frames, total_reward, successes = [env.render()], 0.0, []
    for _ in tqdm(range(args.steps), desc=args.env_id, unit="step"):
        action = (
            env.action_space.sample()
            if args.policy == "random"
            else np.zeros(env.action_space.shape, dtype=np.float32)
        )
        _obs, reward, terminated, truncated, info = env.step(action)
        total_reward += float(reward)
        successes.append(info.get("is_success", float("nan")))
        frames.append(env.render())
        if terminated or truncated:
            break
    fps = env.metadata["render_fps"]
    env.close()
    path = write_video(frames, out, fps=fps)
    print(
        f"{args.env_id}: {len(frames) - 1} steps, return {total_reward:.3f}, "
        f"final success {successes[-1]:.0f} -> {path}"
    )
    return 0


def _fail(message: str) -> int:
    print(f"python -m dexterous_gym: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dexterous_gym",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the registered environment IDs").set_defaults(run=_list)
    rollout = commands.add_parser(
        "rollout",
        help="roll out a random or zero policy and save a video",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    rollout.add_argument("env_id", help="an ID of `python -m dexterous_gym list`")
    rollout.add_argument(
        "--policy", choices=("random", "zero"), default="random", help="uniform or zero actions"
    )
    rollout.add_argument(
        "--steps", type=_positive_int("--steps"), default=75, help="at most this many steps"
    )
    rollout.add_argument("--seed", type=int, default=0, help="seed of the reset and the actions")
    rollout.add_argument(
        "--out",
        default="rollout.gif",
        help="video path: .gif (base install) or .mp4 (needs the video extra)",
    )
    rollout.add_argument("--width", type=_positive_int("--width"), default=320, help="pixels")
    rollout.add_argument("--height", type=_positive_int("--height"), default=320, help="pixels")
    rollout.set_defaults(run=_rollout)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
