"""Deterministic evaluation of goal-conditioned policies.

Two success rates are reported, because the literature uses both:

* ``success_final``: ``info["is_success"]`` at the last step of the episode (the HER papers and
  OpenAI baselines' test metric);
* ``success_any``: ``is_success`` was 1 at *any* step of the episode (PlanGAN's metric).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from stable_baselines3.common.vec_env import VecEnv


class Predictor(Protocol):
    """Anything with Stable-Baselines3's ``predict`` signature."""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]: ...


@dataclass
class EvalResult:
    """Aggregate of ``n_episodes`` deterministic evaluation episodes."""

    success_final: float
    success_any: float
    mean_return: float
    std_return: float
    mean_length: float
    n_episodes: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def evaluate_goal_policy(
    model: Predictor,
    env: VecEnv,
    n_episodes: int,
    seed: int | None = None,
    deterministic: bool = True,
) -> EvalResult:
    """Run ``n_episodes`` full episodes on ``env`` and return success and return statistics.

    ``env`` may hold several sub-envs; episodes are counted as they finish, and each sub-env only
    contributes its share so the result does not favour short episodes. Passing ``seed`` reseeds
    ``env`` first, so every evaluation of a run sees the same sequence of goals.
    """
    if n_episodes < 1:
        raise ValueError("n_episodes must be >= 1")
    n_envs = env.num_envs
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)], dtype=int)
    counts = np.zeros(n_envs, dtype=int)
    if seed is not None:
        env.seed(seed)
    obs = env.reset()
    returns = np.zeros(n_envs)
    lengths = np.zeros(n_envs, dtype=int)
    any_success = np.zeros(n_envs, dtype=bool)
    finals: list[float] = []
    anys: list[float] = []
    ep_returns: list[float] = []
    ep_lengths: list[int] = []
    while (counts < targets).any():
        actions, _ = model.predict(obs, deterministic=deterministic)
        obs, rewards, dones, infos = env.step(actions)
        returns += rewards
        lengths += 1
        for i, info in enumerate(infos):
            any_success[i] |= bool(info.get("is_success", False))
            if dones[i]:
                if counts[i] < targets[i]:
                    finals.append(float(bool(info.get("is_success", False))))
                    anys.append(float(any_success[i]))
                    ep_returns.append(float(returns[i]))
                    ep_lengths.append(int(lengths[i]))
                    counts[i] += 1
                returns[i], lengths[i], any_success[i] = 0.0, 0, False
    return EvalResult(
        success_final=float(np.mean(finals)),
        success_any=float(np.mean(anys)),
        mean_return=float(np.mean(ep_returns)),
        std_return=float(np.std(ep_returns)),
        mean_length=float(np.mean(ep_lengths)),
        n_episodes=len(finals),
    )
