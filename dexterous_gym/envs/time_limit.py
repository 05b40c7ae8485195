"""The time limit of ``gym.make`` envs: the env ends its episodes by its own step count.

Gymnasium's ``TimeLimit`` counts the steps since the last ``reset`` in a counter of its own. A
Dexterous Gym state vector holds the episode's step count, and ``env.unwrapped.set_state(s)``
restores it, so a second counter would truncate at the wrong step (too early after restoring an
earlier state, too late after a later one). The env's step count is therefore the one clock: the
env truncates its episode once that count reaches the episode length
(:meth:`~dexterous_gym.envs.DexterousMujocoEnv.truncate_episode_at`), and
:class:`StepCountTimeLimit`, which takes the place of the ``TimeLimit`` that ``gym.make`` adds, only
tells it the length after each reset. Every registered ID carries :data:`WRAPPER_SPEC` as an
``additional_wrappers`` entry of its spec to make that swap. ``spec.max_episode_steps`` (what HER
and rl-zoo read), ``gym.make(..., max_episode_steps=N)`` and every episode that restores no state
behave as with Gymnasium's ``TimeLimit``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec, WrapperSpec

from dexterous_gym.validation import check_int


class StepCountTimeLimit(gym.Wrapper[Any, Any, Any, Any]):
    """The time limit of ``gym.make``'s Dexterous Gym envs: after each reset it sets the env to
    truncate the episode once the env's own step count reaches ``max_episode_steps``
    (:meth:`~dexterous_gym.envs.DexterousMujocoEnv.truncate_episode_at`); ``step`` passes straight
    through. Its spec holds ``max_episode_steps``, as Gymnasium's ``TimeLimit``'s does.

    Not a subclass of Gymnasium's ``TimeLimit``: tools such as rl-zoo replace that class at import
    (``rl_zoo3.gym_patches``), and every tool reads the limit from ``env.spec.max_episode_steps``.
    """

    def __init__(self, env: gym.Env[Any, Any], max_episode_steps: int) -> None:
        episode_env = env.unwrapped
        if not callable(getattr(episode_env, "truncate_episode_at", None)):
            raise TypeError(
                f"env: StepCountTimeLimit needs a Dexterous Gym env, got {type(episode_env).__name__}"
            )
        super().__init__(env)
        self.max_episode_steps = check_int(max_episode_steps, "max_episode_steps", minimum=1)
        self._episode_env: Any = episode_env

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode_env.truncate_episode_at(self.max_episode_steps)
        return obs, info

    @property
    def spec(self) -> EnvSpec | None:  # type: ignore[override]  # as Gymnasium's wrappers
        """The spec ``gym.make`` recreates this stack from: the env's, with
        ``max_episode_steps`` and the swap listed in ``additional_wrappers`` (as the registered
        spec has them)."""
        if self._cached_spec is None:
            spec = self.env.spec
            if spec is not None:
                spec = deepcopy(spec)
                spec.max_episode_steps = self.max_episode_steps
                spec.additional_wrappers += (WRAPPER_SPEC,)
            self._cached_spec = spec
        return self._cached_spec


def with_step_count_time_limit(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
    """``env`` with the ``TimeLimit`` that ``gym.make`` put outermost replaced by a
    :class:`StepCountTimeLimit` of the same length; ``env`` itself if it has none
    (``gym.make(..., max_episode_steps=-1)``)."""
    # looked up now, as gym.make does: rl-zoo replaces the class after Gymnasium's import
    if isinstance(env, gym.wrappers.TimeLimit):
        spec = env.spec  # TimeLimit's spec holds its max_episode_steps
        if spec is not None and spec.max_episode_steps is not None:
            return StepCountTimeLimit(env.env, spec.max_episode_steps)
    return env


WRAPPER_SPEC = WrapperSpec(
    name="StepCountTimeLimit",
    entry_point=f"{__name__}:with_step_count_time_limit",
    kwargs={},
)
