"""The running observation normaliser of TD3+demos (the HER papers' normaliser).

It keeps running sums of x and x^2 with a count that starts at 1 (a slight bias the original
has too) and recomputes ``mean = sum/n`` and ``std = sqrt(max(0.01^2, sumsq/n - mean^2))`` every 20
updates; inputs are normalised as ``clip((x - mean) / std, -5, 5)``. Before the first recompute
the transform is ``clip(x, -5, 5)``. Only the ``observation`` entry is normalised: the previous
action enters the networks raw.

As a ``VecNormalize`` subclass it slots into Stable-Baselines3 unchanged: the replay buffer keeps
raw observations and normalises sampled batches with the current statistics, and evaluation envs
are synchronised with ``sync_envs_normalization``. Every observation a training step returns is
added (the reset observation of a segment included), which is the set of observations the
policy acts on, as in the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecNormalize


class RunningSums:
    """Sums, squared sums and a count, turned into mean and std every ``recompute_every`` updates."""

    def __init__(
        self,
        shape: tuple[int, ...],
        recompute_every: int = 20,
        std_floor: float = 0.01,
    ) -> None:
        if recompute_every < 1:
            raise ValueError(f"recompute_every must be >= 1, got {recompute_every}")
        self.sum = np.zeros(shape)
        self.sumsq = np.zeros(shape)
        self.count = 1.0
        self.mean = np.zeros(shape)
        self.std = np.ones(shape)
        self.recompute_every = recompute_every
        self.std_floor = std_floor
        self.n_updates = 0

    def update(self, batch: np.ndarray) -> None:
        """Add a batch of rows (one per env); every ``recompute_every`` calls, recompute."""
        rows = np.asarray(batch, dtype=np.float64).reshape(-1, *self.sum.shape)
        self.sum += rows.sum(axis=0)
        self.sumsq += np.square(rows).sum(axis=0)
        self.count += rows.shape[0]
        self.n_updates += 1
        if self.n_updates % self.recompute_every == 0:
            self.recompute()

    def recompute(self) -> None:
        self.mean = self.sum / self.count
        var = self.sumsq / self.count - np.square(self.mean)
        self.std = np.sqrt(np.maximum(self.std_floor**2, var))


class RunningObsNormalizer(VecNormalize):
    """``VecNormalize`` with :class:`RunningSums` statistics on the ``keys`` entries only."""

    def __init__(
        self,
        venv: VecEnv,
        keys: Sequence[str] = ("observation",),
        clip: float = 5.0,
        recompute_every: int = 20,
        training: bool = True,
    ) -> None:
        super().__init__(
            venv,
            training=training,
            norm_obs=True,
            norm_reward=False,
            clip_obs=clip,
            norm_obs_keys=list(keys),
        )
        space = self.observation_space
        if not isinstance(space, spaces.Dict):
            raise TypeError(f"venv: RunningObsNormalizer needs Dict observations, got {space}")
        stats: dict[str, Any] = {
            key: RunningSums(space.spaces[key].shape or (), recompute_every) for key in keys
        }
        self.obs_rms = stats

    def _normalize_obs(self, obs: np.ndarray, obs_rms: RunningSums) -> np.ndarray:  # type: ignore[override]
        return np.clip((obs - obs_rms.mean) / obs_rms.std, -self.clip_obs, self.clip_obs)

    def _unnormalize_obs(self, obs: np.ndarray, obs_rms: RunningSums) -> np.ndarray:  # type: ignore[override]
        return obs * obs_rms.std + obs_rms.mean
