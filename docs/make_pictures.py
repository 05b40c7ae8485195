"""Render one picture per task family for the README: ``python docs/make_pictures.py``.

Each picture is the env's default camera right after ``reset(seed=0)``; the translucent copy of
the object is the target (the goal pose).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import imageio.v2 as imageio

import dexterous_gym  # noqa: F401

PICTURES = {
    "handover": "EggHandOver-v0",
    "catch_underarm": "BlockCatchUnderarm-v0",
    "catch_underarm_hard": "EggCatchUnderarmHard-v0",
    "catch_overarm": "EggCatchOverarm-v0",
    "two_catch_underarm": "TwoEggCatchUnderArm-v0",
    "pen_spin": "PenSpin-v0",
}


def main(
    out_dir: Path = Path(__file__).parent / "images", width: int = 480, height: int = 320
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, env_id in PICTURES.items():
        env = gym.make(env_id, render_mode="rgb_array", width=width, height=height)
        env.reset(seed=0)
        imageio.imwrite(out_dir / f"{name}.png", env.render())
        env.close()
        print(f"{env_id} -> {out_dir / (name + '.png')}")


if __name__ == "__main__":
    main()
