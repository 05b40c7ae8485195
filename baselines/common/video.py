"""Evaluation videos: rolling a policy on a rendering env, written by the project's one writer.

Frames go through :func:`dexterous_gym.video.write_video` (GIF with the base install, MP4 where
``imageio-ffmpeg`` is installed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dexterous_gym.video import caption, check_video_path, default_suffix, write_video

__all__ = ["caption", "check_video_path", "record_episode", "video_suffix", "write_video"]


def video_suffix() -> str:
    """``.mp4`` if imageio can reach ffmpeg, else ``.gif``."""
    return default_suffix()


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
