"""What a trained TD3+demos policy does over time: ``python -m baselines.td3_demos.rollout RUN``.

A return alone hides how it is earned. On PenSpin a pen that spins for a while and then falls
scores like a slower sustained spin. This command runs the run folder's final policy
(``final_model.zip`` and its normaliser) deterministically from the evaluation start state and
reports the return, the steps whose reward is above ``--threshold`` in size, the last of them,
and the step by which 90 % of the return was earned. A pen at rest on the floor scores 0 per step
up to the float noise of its velocities (below 1e-3), so the last such step is where the spin
ends.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

from baselines.common.envs import make_env
from baselines.common.runfolder import CONFIG_FILE, read_json
from baselines.common.video import caption, check_video_path, write_video
from baselines.td3_demos.train import EVAL_SEED_OFFSET
from baselines.td3_demos.wrappers import PrevActionWrapper


def policy_rollout(
    run_dir: Path,
    steps: int | None = None,
    threshold: float = 0.01,
    frames: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Roll out the final policy of ``run_dir`` for ``steps`` steps (None: the evaluation
    episode's length); returns the summary and the per-step rewards. With a ``frames`` list, the
    env renders and every frame (the start and one per step, captioned with the step and the
    return so far) is appended to it."""
    from stable_baselines3 import TD3

    config = read_json(run_dir / CONFIG_FILE, expect=dict)
    hp = config["hyperparameters"]
    model_path = run_dir / "final_model.zip"
    if not model_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no final_model.zip (the run has not finished)")
    normalizer = None
    if hp.get("normalize", True):
        try:
            with open(run_dir / "final_normalizer.pkl", "rb") as handle:
                normalizer = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError) as err:
            raise ValueError(f"{run_dir / 'final_normalizer.pkl'}: cannot be read ({err})") from None  # fmt: skip
    steps = int(steps if steps is not None else hp["episode_steps"])
    model = TD3.load(model_path, device="cpu")
    render: dict[str, Any] = {"render_mode": "rgb_array"} if frames is not None else {}
    env = make_env(
        config["env"],
        [lambda e: PrevActionWrapper(e, hp["beta"])],
        max_episode_steps=steps,
        **render,
    )
    obs, _ = env.reset(seed=int(config["seed"]) + EVAL_SEED_OFFSET)
    rewards: list[float] = []

    def film() -> None:
        if frames is not None:
            text = f"step {len(rewards)}  return {sum(rewards):.1f}"
            frames.append(caption(np.asarray(env.render()), text))

    film()
    for _ in range(steps):
        seen = normalizer.normalize_obs(obs) if normalizer is not None else obs
        action, _ = model.predict(seen, deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        film()
        if terminated or truncated:
            break
    fps = float(env.metadata.get("render_fps", 25))
    env.close()
    r = np.array(rewards)
    nonzero = np.nonzero(np.abs(r) > threshold)[0]
    cumulative = np.cumsum(r)
    return {
        "run": str(run_dir),
        "algorithm": config.get("algorithm"),
        "seed": config["seed"],
        "steps": len(r),
        "return": float(r.sum()),
        "steps_with_reward": int(nonzero.size),
        "last_rewarded_step": int(nonzero[-1]) + 1 if nonzero.size else 0,
        "step_of_90_percent": int(np.searchsorted(cumulative, 0.9 * cumulative[-1])) + 1
        if r.size and cumulative[-1] > 0
        else None,
        "max_step_reward": float(r.max()) if r.size else 0.0,
        "threshold": threshold,
        "render_fps": fps,
        "rewards": r.round(4).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baselines.td3_demos.rollout", description=__doc__)  # fmt: skip
    parser.add_argument("runs", nargs="+", type=Path, help="finished TD3+demos run folders")
    parser.add_argument("--steps", type=int, default=None, help="steps (default: the evaluation episode's)")  # fmt: skip
    parser.add_argument("--threshold", type=float, default=0.01, help="a step counts as rewarded above this |reward|")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="also write the results (with per-step rewards) as JSON")  # fmt: skip
    parser.add_argument("--video", type=Path, default=None, help="film the rollout, every step (.mp4 or .gif; one run)")  # fmt: skip
    parser.add_argument("--gif", type=Path, default=None, help="a GIF excerpt of the rollout (one run; see --gif-steps, --gif-every)")  # fmt: skip
    parser.add_argument("--gif-steps", type=int, default=250, help="the excerpt's first steps (default: 250)")  # fmt: skip
    parser.add_argument("--gif-every", type=int, default=2, help="every k-th frame of the excerpt (default: 2)")  # fmt: skip
    args = parser.parse_args(argv)
    for flag in ("steps", "gif_steps", "gif_every"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    filming = args.video is not None or args.gif is not None
    if filming and len(args.runs) != 1:
        parser.error(f"--video and --gif film one run, got {len(args.runs)}")
    try:
        video = check_video_path(args.video, "--video") if args.video is not None else None
        if args.gif is not None and args.gif.suffix != ".gif":
            raise ValueError(f"--gif must end in .gif, got {args.gif.name!r}")
    except ValueError as err:
        parser.error(str(err))
    results = []
    frames: list[np.ndarray] | None = [] if filming else None
    for run in args.runs:
        try:
            result = policy_rollout(run, args.steps, args.threshold, frames)
        except (FileNotFoundError, ValueError, KeyError) as err:
            parser.error(str(err))
        results.append(result)
        if frames is not None:
            fps = result["render_fps"]  # the env's control rate: the video plays in real time
            if video is not None:
                print(f"wrote {write_video(frames, video, fps=fps)} ({len(frames)} frames)")
            if args.gif is not None:
                excerpt = frames[: args.gif_steps + 1 : args.gif_every]
                print(f"wrote {write_video(excerpt, args.gif, fps=fps / args.gif_every)} ({len(excerpt)} frames)")  # fmt: skip
        print(
            f"{run}: {result['algorithm']} seed {result['seed']}: return {result['return']:.2f} over "
            f"{result['steps']} steps; |reward| > {args.threshold:g} on {result['steps_with_reward']} "
            f"steps, the last at step {result['last_rewarded_step']}; 90 % of the return by step "
            f"{result['step_of_90_percent']}; best step {result['max_step_reward']:.2f}"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
