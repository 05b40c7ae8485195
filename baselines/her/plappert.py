"""The parts of OpenAI baselines' DDPG+HER (Plappert et al. 2018, "Multi-Goal Reinforcement
Learning") that Stable-Baselines3 lacks, as small subclasses and a wrapper.

* ``random_eps``: with this probability per env step, the executed action is drawn uniformly
  from the action box instead of the noisy policy's (baselines: 0.3).
* ``action_l2``: the actor's loss gains ``action_l2 * mean(pi(s)^2)`` over the batch and the
  action dimensions (baselines: 1.0; actions are in [-1, 1], so ``pi / max_u`` is ``pi``).
  SB3's TD3/DDPG update takes the actor's objective from ``critic.q1_forward(s, pi(s))`` and uses
  ``q1_forward`` nowhere else, so :class:`PenalisedCritic` subtracts the penalty there; the
  critic's own loss and targets (``forward``) are untouched.
* :class:`ClipObservation`: every observation entry clipped to +-``bound`` before the running
  normaliser (baselines: ``clip_obs`` 200; the normaliser's own clip is 5).

With ``random_eps = 0`` and ``action_l2 = 0`` the classes are stock DDPG and TD3 (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import DDPG, TD3
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.td3.policies import MultiInputPolicy


class PenalisedCritic(ContinuousCritic):
    """A critic whose ``q1_forward`` (the actor's objective) carries the action L2 penalty."""

    def __init__(self, *args: Any, action_l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action_l2 = float(action_l2)

    def q1_forward(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        q = super().q1_forward(obs, actions)
        if self.action_l2 == 0.0:
            return q
        return q - self.action_l2 * actions.pow(2).mean(dim=1, keepdim=True)


class PenalisedMultiInputPolicy(MultiInputPolicy):
    """TD3's ``MultiInputPolicy`` with :class:`PenalisedCritic` critics."""

    def __init__(self, *args: Any, action_l2: float = 0.0, **kwargs: Any) -> None:
        if not (np.isfinite(action_l2) and action_l2 >= 0):
            raise ValueError(f"action_l2 must be a finite number >= 0, got {action_l2!r}")
        self.action_l2 = float(action_l2)  # read by make_critic during super().__init__
        super().__init__(*args, **kwargs)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ContinuousCritic:  # fmt: skip
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)
        return PenalisedCritic(**critic_kwargs, action_l2=self.action_l2).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "action_l2": self.action_l2}


class _RandomEps:
    """Replaces each env's action by a uniform one with probability ``random_eps``."""

    random_eps: float
    policy: Any

    def _sample_action(
        self, learning_starts: int, action_noise: ActionNoise | None = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        action, buffer_action = super()._sample_action(learning_starts, action_noise, n_envs)  # type: ignore[misc]
        if self.random_eps > 0:
            # numpy's global stream, as SB3 draws its noise and replay samples (seeded by SB3)
            chosen = np.random.random(n_envs) < self.random_eps  # noqa: NPY002
            if chosen.any():
                buffer_action = buffer_action.copy()
                shape = (int(chosen.sum()), *buffer_action.shape[1:])
                buffer_action[chosen] = np.random.uniform(-1.0, 1.0, size=shape)  # noqa: NPY002
                action = self.policy.unscale_action(buffer_action)
        return action, buffer_action


def _check_random_eps(value: float) -> float:
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"random_eps must lie in [0, 1], got {value!r}")
    return float(value)


class PlappertDDPG(_RandomEps, DDPG):
    """DDPG with baselines' ``random_eps`` exploration (use it with
    :class:`PenalisedMultiInputPolicy` for the action L2 penalty)."""

    def __init__(self, *args: Any, random_eps: float = 0.0, **kwargs: Any) -> None:
        self.random_eps = _check_random_eps(random_eps)
        super().__init__(*args, **kwargs)


class PlappertTD3(_RandomEps, TD3):
    """TD3 with baselines' ``random_eps`` exploration (see :class:`PlappertDDPG`)."""

    def __init__(self, *args: Any, random_eps: float = 0.0, **kwargs: Any) -> None:
        self.random_eps = _check_random_eps(random_eps)
        super().__init__(*args, **kwargs)


class ClipObservation(gym.ObservationWrapper[dict[str, np.ndarray], Any, dict[str, np.ndarray]]):
    """Clip the entries of a Dict observation to [-bound, bound] (baselines' ``clip_obs``):
    ``keys``, or every entry when ``keys`` is None."""

    def __init__(
        self, env: gym.Env[Any, Any], bound: float, keys: Sequence[str] | None = None
    ) -> None:
        super().__init__(env)
        if not (np.isfinite(bound) and bound > 0):
            raise ValueError(f"obs_clip must be a finite number > 0, got {bound!r}")
        space = env.observation_space
        if not isinstance(space, spaces.Dict):
            raise TypeError(f"env: ClipObservation needs a Dict observation space, got {space}")
        missing = sorted(set(keys or ()) - set(space.spaces))
        if missing:
            raise ValueError(f"keys: {missing} are not entries of the observation {sorted(space.spaces)}")  # fmt: skip
        self.bound = float(bound)
        self.keys = frozenset(space.spaces if keys is None else keys)

    def observation(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            k: np.clip(v, -self.bound, self.bound) if k in self.keys else v
            for k, v in observation.items()
        }
