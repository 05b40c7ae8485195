"""Finding and checking registered goal environments.

IDs come from two places: gymnasium-robotics (``FetchReach-v4`` ...) and Dexterous Gym
(``EggHandOverSparse-v0`` ...). Dexterous Gym is imported lazily and only if present, so the Fetch
IDs work on their own. ``"module:ID"`` strings are handed to Gymnasium unchanged.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from typing import Any

import gymnasium as gym
from gymnasium import spaces

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")

_registered = False


def register_env_packages() -> None:
    """Register gymnasium-robotics' and (if installed) Dexterous Gym's IDs with Gymnasium."""
    global _registered
    if _registered:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    try:
        dexterous_gym = importlib.import_module("dexterous_gym")
        if hasattr(gym, "register_envs"):
            gym.register_envs(dexterous_gym)
    except ImportError:
        pass
    _registered = True


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """Return the spec of ``env_id`` or raise ``ValueError`` naming close matches."""
    register_env_packages()
    try:
        return gym.spec(env_id)
    except gym.error.Error as err:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"--env: unknown environment ID {env_id!r}.{hint}") from err


def is_goal_space(space: spaces.Space[Any]) -> bool:
    """True if ``space`` is a flat Dict with Box observation/achieved_goal/desired_goal."""
    return isinstance(space, spaces.Dict) and all(
        isinstance(space.spaces.get(key), spaces.Box) for key in GOAL_KEYS
    )


def check_goal_env(env: gym.Env[Any, Any], env_id: str) -> None:
    """Raise ``ValueError`` if ``env`` cannot be used with Hindsight Experience Replay."""
    if not is_goal_space(env.observation_space):
        raise ValueError(
            f"--env {env_id} is not a goal env: HER needs a Dict observation space with Box "
            f"entries {', '.join(GOAL_KEYS)}, got {env.observation_space}"
        )
    if not callable(getattr(env.unwrapped, "compute_reward", None)):
        raise ValueError(f"--env {env_id} is not a goal env: it has no compute_reward()")
    if not isinstance(env.action_space, spaces.Box):
        raise ValueError(f"--env {env_id}: HER baselines need a Box action space")


def episode_length(env_id: str) -> int:
    """The TimeLimit of ``env_id``; goal-env episodes must end by truncation for HER."""
    spec = check_env_id(env_id)
    if spec.max_episode_steps is None:
        raise ValueError(
            f"--env {env_id} has no max_episode_steps; HER needs episodes that end by TimeLimit"
        )
    return int(spec.max_episode_steps)


def make_goal_env(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gym.make`` after checking that ``env_id`` exists and is a goal env."""
    check_env_id(env_id)
    env = gym.make(env_id, **kwargs)
    try:
        check_goal_env(env, env_id)
    except ValueError:
        env.close()
        raise
    return env
