"""The time limit of ``gym.make`` envs follows the env's own step count, also after ``set_state``.

Gymnasium's ``TimeLimit`` counts the steps since the last ``reset``. A Dexterous Gym state vector
holds the episode's step count, and ``env.unwrapped.set_state(s)`` restores it; without help the
wrapper would go on counting from its last reset and truncate at the wrong step (too early after
restoring an earlier state, too late after a later one). Every registered ID therefore carries
this wrapper as an ``additional_wrappers`` entry of its spec: ``gym.make`` puts it directly outside
its ``TimeLimit``, and before each step it sets the ``TimeLimit`` counters below it to the env's
step count. ``spec.max_episode_steps`` (what HER and rl-zoo read) is unchanged, and so is every
episode that does not restore a state: the counts agree after every ``reset``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import WrapperSpec
from gymnasium.wrappers import TimeLimit


class FollowStepCount(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Sets the ``TimeLimit`` wrappers inside it to the env's step count before each step."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        limits: list[TimeLimit[Any, Any]] = []
        inner: Any = env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, TimeLimit):
                limits.append(inner)
            inner = inner.env
        self._limits = limits
        if not hasattr(env.unwrapped, "elapsed_steps"):
            raise TypeError(
                f"env: FollowStepCount needs a Dexterous Gym env, got {type(env.unwrapped).__name__}"
            )

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        count = self.env.unwrapped.elapsed_steps  # type: ignore[attr-defined]
        for limit in self._limits:
            limit._elapsed_steps = count
        return self.env.step(action)


WRAPPER_SPEC = WrapperSpec(
    name="FollowStepCount",
    entry_point=f"{__name__}:FollowStepCount",
    kwargs={},
)
