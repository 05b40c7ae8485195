"""Per-agent rewards of the Gymnasium environments (docs/swarm.md, "Gymnasium and PettingZoo")."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from swarm_gym.config import SwarmConfig

#: Reward modes. ``log_count`` is the default.
REWARD_MODES: tuple[str, ...] = ("log_count", "normalized", "regret", "soft", "empowerment_next")


def validate_reward_mode(mode: str, cfg: SwarmConfig) -> None:
    """Raise ValueError for an unknown mode, or ``soft`` without the continuous model."""
    if mode not in REWARD_MODES:
        raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {mode!r}")
    if mode == "soft" and cfg.model != "continuous":
        raise ValueError('reward_mode="soft" needs model="continuous" (W_alpha is its score)')


@lru_cache(maxsize=32)
def _structural_max(horizon: int, v0: float, dv: float, dtheta: float, dt: float) -> int:
    """Distinct own (depth, x, y, heading) states in one branch, by enumeration (108 for tau=4)."""
    speeds = (v0, v0, v0 - dv, v0, v0 + dv)
    turns = (-dtheta, dtheta, 0.0, 0.0, 0.0)
    best = 0
    for first in range(5):
        th0 = turns[first]
        # dedupe on (heading, x, y) rounded to 1e-6, but propagate the unrounded floats
        level = [(th0, speeds[first] * dt * math.cos(th0), speeds[first] * dt * math.sin(th0))]
        total = len(level)
        for _ in range(1, horizon):
            nxt: dict[tuple[float, float, float], tuple[float, float, float]] = {}
            for th, x, y in level:
                for a in range(5):
                    t2 = th + turns[a]
                    x2 = x + speeds[a] * dt * math.cos(t2)
                    y2 = y + speeds[a] * dt * math.sin(t2)
                    nxt.setdefault((round(t2, 9), round(x2, 6), round(y2, 6)), (t2, x2, y2))
            level = list(nxt.values())
            total += len(level)
        best = max(best, total)
    return best


def structural_max(cfg: SwarmConfig) -> int:
    """Upper bound on distinct visual states per branch (distinct own states; 108 for tau = 4)."""
    return _structural_max(cfg.horizon, cfg.v0, cfg.dv, cfg.dtheta, cfg.dt)


def agent_rewards(
    mode: str,
    actions: np.ndarray,
    counts: np.ndarray,
    scores: np.ndarray,
    cfg: SwarmConfig,
    collision_reward: float = -1.0,
) -> np.ndarray:
    """Reward of each agent for taking ``actions`` at the state where ``counts``/``scores`` were
    computed.

    - ``log_count``: log n_{a}; ``collision_reward`` when n_a = 0 (predicted collision).
    - ``normalized``: log n_a / log(structural max), collision_reward when n_a = 0.
    - ``regret``: log n_a - log max_alpha n_alpha (0 for FSM-optimal moves); collision_reward
      when n_a = 0.
    - ``soft``: W_a of the continuous model (collision_reward when the first move collides).
    - ``empowerment_next`` is computed after the step, by :func:`reachable_rewards`.
    """
    idx = np.arange(len(actions))
    n_a = counts[idx, actions].astype(np.float64)
    hit = n_a <= 0
    with np.errstate(divide="ignore"):
        log_n = np.log(np.maximum(n_a, 1.0))
    if mode == "log_count":
        r = log_n
    elif mode == "normalized":
        r = log_n / math.log(max(structural_max(cfg), 2))
    elif mode == "regret":
        r = log_n - np.log(np.maximum(counts.max(axis=1), 1).astype(np.float64))
    elif mode == "soft":
        r = scores[idx, actions].astype(np.float64)
    else:  # pragma: no cover - validated earlier
        raise ValueError(f"unknown reward_mode {mode!r}")
    return np.where(hit, collision_reward, r).astype(np.float64)


def reachable_rewards(reachable: np.ndarray, collision_reward: float = -1.0) -> np.ndarray:
    """``empowerment_next``: log of the number of distinct depth-tau visual states reachable from
    the new state s_{t+1} (over all first moves, with collision pruning); ``collision_reward`` when
    none is reachable."""
    reach = np.asarray(reachable, dtype=np.float64)
    return np.where(reach > 0, np.log(np.maximum(reach, 1.0)), collision_reward)
