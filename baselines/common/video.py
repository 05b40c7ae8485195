"""Evaluation videos: rolling a policy on a rendering env, written by the project's one writer.

Frames go through :func:`dexterous_gym.video.write_video` (GIF with the base install, MP4 where
``imageio-ffmpeg`` is installed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from baselines.common.runfolder import write_json
from dexterous_gym.video import caption, check_video_path, write_video

__all__ = [
    "caption",
    "check_video_path",
    "record_episode",
    "record_policy_video",
    "write_video",
]


def record_episode(
    env: Any,
    policy: Callable[[Any], np.ndarray],
    seed: int | None = None,
    max_steps: int | None = None,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Roll ``policy(obs) -> action`` for one episode on a ``render_mode="rgb_array"`` env.

    Returns the frames (the reset frame and one per step) and a small episode summary.
    """
    obs, _ = env.reset(seed=seed)
    frames = [env.render()]
    total, steps, any_success, info = 0.0, 0, False, {}
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        frames.append(env.render())
        total += float(reward)
        steps += 1
        any_success |= bool(info.get("is_success", False))
        if terminated or truncated or (max_steps is not None and steps >= max_steps):
            break
    summary = {
        "return": total,
        "length": steps,
        "success_final": bool(info.get("is_success", False)),
        "success_any": any_success,
    }
    return frames, summary


def record_policy_video(
    make_env: Callable[[], Any],
    model: Any,
    normalizer: Any,
    path: Path,
    seed: int,
    max_steps: int | None = None,
) -> Path | None:
    """Film one deterministic episode of an SB3 ``model`` to ``path`` (+ a JSON summary beside it).

    ``make_env()`` builds a ``render_mode="rgb_array"`` env; ``normalizer`` (a ``VecNormalize`` or
    None) normalises observations as in training. Rendering is optional: any failure is a warning
    and ``None``, so a finished run is never lost over a missing GL backend.
    """
    try:
        env = make_env()
    except Exception as err:
        warnings.warn(f"no video: cannot create a rendering env ({err})", stacklevel=2)
        return None
    try:

        def policy(obs: Any) -> np.ndarray:
            seen = normalizer.normalize_obs(obs) if normalizer is not None else obs
            action, _ = model.predict(seen, deterministic=True)
            return action

        frames, summary = record_episode(env, policy, seed=seed, max_steps=max_steps)
        fps = float(env.metadata.get("render_fps", 25) or 25)
        written = write_video(frames, path, fps=fps)
        write_json(written.with_suffix(".json"), summary)
        return written
    except Exception as err:
        warnings.warn(f"no video: rendering failed ({err})", stacklevel=2)
        return None
    finally:
        env.close()
