"""Writing evaluation videos: mp4 when imageio-ffmpeg is installed, otherwise an animated gif."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def video_suffix() -> str:
    """``.mp4`` if imageio can reach ffmpeg, else ``.gif``."""
    return ".mp4" if importlib.util.find_spec("imageio_ffmpeg") is not None else ".gif"


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: int = 25) -> Path:
    """Write RGB ``frames`` to ``path`` (suffix replaced by :func:`video_suffix`), atomically."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to write")
    path = Path(path).with_suffix(video_suffix())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temporary sibling with the same suffix, so imageio picks the format from the name.
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        if path.suffix == ".mp4":
            # H.264 needs even sizes; imageio pads/rescales to a multiple of 16 when necessary.
            with imageio.get_writer(tmp, fps=fps) as writer:
                for frame in frames:
                    writer.append_data(np.asarray(frame))
        else:
            imageio.mimwrite(tmp, [np.asarray(f) for f in frames], duration=1000 / fps, loop=0)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError(f"video encoder wrote nothing for {path}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
