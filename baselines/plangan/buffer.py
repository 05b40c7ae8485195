"""PlanGAN's replay buffer and its relabelling rules (Charlesworth & Montana, NeurIPS 2020).

Per step the buffer stores ``obs``, ``next_obs``, the action and the achieved goal *of obs*
(before the step), and for every step the end of its stored path. For a step ``i`` of a path that
ends (exclusive) at ``end``, the future-goal candidates are ``i+1 .. end-1``: the achieved goal
of the path's final ``next_obs`` is never a goal.

GAN batches (segments of ``tau`` steps with one goal per step) and OSM batches (single
transitions) are drawn with vectorised rejection sampling, with the original code's rules:

1. a start ``i`` is kept only if at least ``tau`` future indices exist (``end - 1 - i >= tau``);
2. the first goal index is uniform over ``i+1 .. end-1``;
3. ``filter_train_batch``: the sample is rejected if the achieved goals of the start and of the
   first goal are closer than ``filter_distance``;
4. ``random_future_goals``: each next goal index is uniform over ``previous .. end-1``
   (non-decreasing); otherwise, if the first goal lies fewer than ``tau - 1`` steps after the
   start the goals advance one index per step (capped at ``end - 1``), else all goals are equal;
5. Gaussian noise (std ``sample_noise``, 1e-4) is added to states, actions (clipped to [-1, 1])
   and goals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class GanBatch:
    """``states (..., tau+1, S)``, ``actions (..., tau, A)``, ``goals (..., tau, G)``."""

    states: np.ndarray
    actions: np.ndarray
    goals: np.ndarray


class ReplayBuffer:
    """Whole paths of (obs, action, next_obs, achieved goal of obs), in insertion order."""

    def __init__(self, capacity: int, state_dim: int, action_dim: int, goal_dim: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, state_dim))
        self.next_obs = np.zeros((capacity, state_dim))
        self.actions = np.zeros((capacity, action_dim))
        self.ag = np.zeros((capacity, goal_dim))
        self.path_end = np.zeros(capacity, dtype=np.int64)
        self.size = 0

    def add_path(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, ag: np.ndarray) -> None:  # fmt: skip
        """Store one path: ``obs (L, S)``, ``actions (L, A)``, ``next_obs (L, S)``, ``ag (L, G)``."""
        length = len(obs)
        if not (len(actions) == len(next_obs) == len(ag) == length) or length < 1:
            raise ValueError(f"a path needs L >= 1 rows in every array, got {len(obs)}, {len(actions)}, {len(next_obs)}, {len(ag)}")  # fmt: skip
        if self.size + length > self.capacity:
            raise ValueError(f"buffer_capacity {self.capacity} is too small for {self.size + length} steps")  # fmt: skip
        rows = slice(self.size, self.size + length)
        self.obs[rows], self.actions[rows], self.next_obs[rows], self.ag[rows] = obs, actions, next_obs, ag  # fmt: skip
        self.path_end[rows] = self.size + length
        self.size += length

    # -- sampling ---------------------------------------------------------------------------
    def sample_gan_starts(
        self, n: int, tau: int, rng: np.random.Generator, filter_distance: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (start, first-goal) index pairs, rules 1-3."""
        starts: list[np.ndarray] = []
        goals: list[np.ndarray] = []
        have = 0
        for _ in range(10_000):
            i = rng.integers(0, self.size, size=max(2 * (n - have), 64))
            end = self.path_end[i]
            i = i[end - 1 - i >= tau]
            end = self.path_end[i]
            g = i + 1 + np.floor(rng.random(len(i)) * (end - 1 - i)).astype(np.int64)
            if filter_distance is not None:
                keep = np.linalg.norm(self.ag[i] - self.ag[g], axis=-1) >= filter_distance
                i, g = i[keep], g[keep]
            starts.append(i)
            goals.append(g)
            have += len(i)
            if have >= n:
                return np.concatenate(starts)[:n], np.concatenate(goals)[:n]
        raise ValueError(
            f"cannot draw a GAN batch: too few stored steps have {tau} future steps (and pass "
            "filter_train_batch); collect longer or more varied paths"
        )

    def goal_sequence(self, starts: np.ndarray, first: np.ndarray, tau: int,
                      random_future_goals: bool, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
        """The ``(n, tau)`` goal indices of each sample, rule 4."""
        end = self.path_end[starts]
        out = np.empty((len(starts), tau), dtype=np.int64)
        out[:, 0] = first
        if random_future_goals:
            for t in range(1, tau):
                prev = out[:, t - 1]
                out[:, t] = prev + np.floor(rng.random(len(prev)) * (end - prev)).astype(np.int64)
        else:
            advance = (first - starts) < tau - 1
            steps = np.arange(tau) * advance[:, None]
            out[:] = np.minimum(first[:, None] + steps, (end - 1)[:, None])
        return out

    def sample_gan(self, n: int, tau: int, rng: np.random.Generator, random_future_goals: bool,
                   filter_distance: float | None, noise: float) -> GanBatch:  # fmt: skip
        """A batch of ``n`` relabelled segments (raw, not normalised), rules 1-5."""
        starts, first = self.sample_gan_starts(n, tau, rng, filter_distance)
        goal_index = self.goal_sequence(starts, first, tau, random_future_goals, rng)
        rows = starts[:, None] + np.arange(tau)[None, :]
        states = np.concatenate([self.obs[rows], self.next_obs[rows[:, -1:]]], axis=1)
        actions = self.actions[rows]
        goals = self.ag[goal_index]
        states = states + rng.normal(0.0, noise, size=states.shape)
        actions = np.clip(actions + rng.normal(0.0, noise, size=actions.shape), -1.0, 1.0)
        goals = goals + rng.normal(0.0, noise, size=goals.shape)
        return GanBatch(states, actions, goals)

    def sample_transitions(self, n: int, rng: np.random.Generator, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """``n`` uniform transitions ``(s, a, s')`` with the same noise."""
        i = rng.integers(0, self.size, size=n)
        s = self.obs[i] + rng.normal(0.0, noise, size=(n, self.obs.shape[1]))
        a = np.clip(self.actions[i] + rng.normal(0.0, noise, size=(n, self.actions.shape[1])), -1.0, 1.0)  # fmt: skip
        s2 = self.next_obs[i] + rng.normal(0.0, noise, size=(n, self.obs.shape[1]))
        return s, a, s2

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        n = self.size
        return {
            "capacity": self.capacity, "size": n, "obs": self.obs[:n].copy(),
            "next_obs": self.next_obs[:n].copy(), "actions": self.actions[:n].copy(),
            "ag": self.ag[:n].copy(), "path_end": self.path_end[:n].copy(),
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = int(state["size"])
        if n > self.capacity:
            raise ValueError(f"the checkpoint's buffer holds {n} steps, capacity is {self.capacity}")  # fmt: skip
        for name in ("obs", "next_obs", "actions", "ag", "path_end"):
            getattr(self, name)[:n] = state[name]
        self.size = n
