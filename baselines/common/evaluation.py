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
from stable_baselines3.common.evaluation import evaluate_policy
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

    Built on Stable-Baselines3's ``evaluate_policy`` (its episode accounting: each sub-env
    contributes its share, so the result does not favour short episodes); a per-step callback
    records ``is_success``. Passing ``seed`` reseeds ``env`` first, so every evaluation of a run
    sees the same sequence of goals or start states. Envs without ``is_success`` (PenSpin) report
    NaN success.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if seed is not None:
        env.seed(seed)
    any_success = np.zeros(env.num_envs, dtype=bool)
    finals: list[float] = []
    anys: list[float] = []
    has_success = False

    def record(local: dict[str, Any], _globals: dict[str, Any]) -> None:
        nonlocal has_success
        i, info = local["i"], local["info"]
        has_success |= "is_success" in info
        any_success[i] |= bool(info.get("is_success", False))
        if local["done"]:
            finals.append(float(bool(info.get("is_success", False))))
            anys.append(float(any_success[i]))
            any_success[i] = False

    returns, lengths = evaluate_policy(
        model,  # anything with SB3's predict()
        env,
        n_eval_episodes=n_episodes,
        deterministic=deterministic,
        return_episode_rewards=True,
        callback=record,
    )
    nan = float("nan")
    return EvalResult(
        success_final=float(np.mean(finals)) if has_success else nan,
        success_any=float(np.mean(anys)) if has_success else nan,
        mean_return=float(np.mean(returns)),
        std_return=float(np.std(returns)),
        mean_length=float(np.mean(lengths)),
        n_episodes=len(finals),
    )
