"""Dexterous Gym: two-hand dexterous manipulation tasks and PenSpin for Gymnasium + MuJoCo.

``import dexterous_gym`` registers the 31 environment IDs of the original suite (see
:data:`ENV_IDS`) and, beyond them, :data:`EXTRA_ENV_IDS`: ``PenReorientation-v0``, SCDM's one-hand
pen reorientation task; ``gym.make("dexterous_gym:PenSpin-v0")`` works without the import.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dexterous_gym.startup import configure_headless_rendering, import_gymnasium_robotics_quietly

configure_headless_rendering()  # before anything imports mujoco
import_gymnasium_robotics_quietly()

import gymnasium as gym  # noqa: E402

from dexterous_gym.tasks import (  # noqa: E402
    ALL_ENV_IDS,
    EXTRA_ENV_IDS,
    FAMILIES,
    PEN_REORIENTATION_ID,
    PEN_REORIENTATION_MAX_EPISODE_STEPS,
    PEN_SPIN_ID,
    PEN_SPIN_MAX_EPISODE_STEPS,
    TWO_HAND_TASKS,
)

try:
    __version__ = version("dexterous-gym")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

ENV_IDS: tuple[str, ...] = ALL_ENV_IDS  # the 31 IDs of the original suite


def _registrations() -> list[tuple[str, str, dict[str, str], int]]:
    """(ID, entry point, kwargs, episode length) of every env, as data."""
    rows = [
        (task.env_id, "dexterous_gym.envs:TwoHandsEnv", {"task": task.env_id},
         FAMILIES[task.family].max_episode_steps)
        for task in TWO_HAND_TASKS
    ]  # fmt: skip
    rows.append((PEN_SPIN_ID, "dexterous_gym.envs:PenSpinEnv", {}, PEN_SPIN_MAX_EPISODE_STEPS))
    rows.append((PEN_REORIENTATION_ID, "dexterous_gym.envs:PenReorientationEnv", {},
                 PEN_REORIENTATION_MAX_EPISODE_STEPS))  # fmt: skip
    return rows


def _register_all() -> None:
    # the time limit follows restored step counts (set_state): see dexterous_gym.envs.time_limit
    from dexterous_gym.envs.time_limit import WRAPPER_SPEC

    for env_id, entry_point, kwargs, max_episode_steps in _registrations():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry_point,
                kwargs=kwargs,
                max_episode_steps=max_episode_steps,
                additional_wrappers=(WRAPPER_SPEC,),
            )


_register_all()

__all__ = ["ENV_IDS", "EXTRA_ENV_IDS", "__version__"]
