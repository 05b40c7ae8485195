"""Making environments for the baselines: finding and checking IDs, wrappers, vectorised envs.

IDs come from two places: gymnasium-robotics (``FetchReach-v4`` ...) and Dexterous Gym
(``EggHandOverSparse-v0`` ...). Dexterous Gym is imported lazily and only if present, so the Fetch
IDs work on their own. ``"module:ID"`` strings are handed to Gymnasium unchanged.
"""

from __future__ import annotations

import difflib
import importlib
import warnings
from collections.abc import Callable, Sequence
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
        # imported when first needed, with its import-time warnings silenced; it loads MuJoCo
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    try:
        dexterous_gym = importlib.import_module("dexterous_gym")
        if hasattr(gym, "register_envs"):
            gym.register_envs(dexterous_gym)
    except ImportError:
        pass
    _registered = True


def check_env_id(env_id: str, flag: str = "--env") -> gym.envs.registration.EnvSpec:
    """Return the spec of ``env_id`` or raise ``ValueError`` naming close matches (and ``flag``,
    the option the ID came from)."""
    register_env_packages()
    if ":" in env_id:  # "module:ID", as gym.make takes it: the module registers ID on import
        module, env_id = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ValueError(f"{flag}: cannot import {module!r} for {env_id!r}: {err}") from err
    try:
        return gym.spec(env_id)
    except gym.error.Error as err:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"{flag}: unknown environment ID {env_id!r}.{hint}") from err


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


Wrapper = Callable[[gym.Env[Any, Any]], gym.Env[Any, Any]]


def make_env(
    env_id: str, wrappers: Sequence[Wrapper] = (), goal_env: bool = False, **kwargs: Any
) -> gym.Env[Any, Any]:
    """``gym.make(env_id, **kwargs)`` with ``wrappers`` applied in order (innermost first).

    The ID is checked first (close matches are suggested); ``goal_env`` also checks that the env
    can be used with Hindsight Experience Replay. A wrapper is any callable ``env -> env``, e.g. a
    ``gymnasium.Wrapper`` subclass or ``functools.partial`` of one.
    """
    env = make_goal_env(env_id, **kwargs) if goal_env else _make_checked(env_id, **kwargs)
    for wrap in wrappers:
        env = wrap(env)
    return env


def _make_checked(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    check_env_id(env_id)
    return gym.make(env_id, **kwargs)


def make_vec_envs(
    env_id: str,
    n_envs: int,
    seed: int,
    wrappers: Sequence[Wrapper] = (),
    normalize: bool = False,
    norm_obs_keys: Sequence[str] | None = None,
    training: bool = True,
    goal_env: bool = False,
) -> tuple[Any, Any]:
    """A Monitor-wrapped ``DummyVecEnv`` of ``make_env``, with an observation normaliser on top.

    Returns ``(vec_env, vecnormalize_or_None)``. The normaliser follows the HER papers: running
    mean/std, observations clipped to +-5, epsilon 1e-4 (about baselines' norm_eps 0.01 on the
    standard deviation), rewards untouched. Needs Stable-Baselines3 (the baselines extra).
    """
    # Stable-Baselines3 (the baselines extra) only here: make_env serves runners without it
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    make_env(env_id, goal_env=goal_env).close()  # fail early with a clear message

    def factory(**kwargs: Any) -> gym.Env[Any, Any]:
        return make_env(env_id, wrappers, **kwargs)

    venv = make_vec_env(factory, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)
    if not normalize:
        return venv, None
    vecnorm = normalize_observations(venv, training, norm_obs_keys)
    return vecnorm, vecnorm


def normalize_observations(venv: Any, training: bool, norm_obs_keys: Sequence[str] | None = None) -> Any:  # fmt: skip
    """The HER papers' observation normaliser over ``venv``: running mean/std, clipped to +-5,
    epsilon 1e-4, rewards untouched (a ``VecNormalize``; ``norm_obs_keys``: the Dict entries)."""
    from stable_baselines3.common.vec_env import VecNormalize  # as in make_vec_envs

    return VecNormalize(
        venv,
        training=training,
        norm_obs=True,
        norm_reward=False,
        clip_obs=5.0,
        epsilon=1e-4,
        norm_obs_keys=list(norm_obs_keys) if norm_obs_keys is not None else None,
    )
