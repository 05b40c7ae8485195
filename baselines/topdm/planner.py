"""The TOPDM planning call (Charlesworth & Montana, ICML 2021) and PDDM-style MPPI, on :class:`BatchedRollout`.

Both planners see the simulator only through :meth:`dexterous_gym.rollout.BatchedRollout.rollout`
and score a sequence identically (:func:`score`): dense reward plus, on goal envs, one per step
with success (weights ``lambda^(j+1)``, the success bonus with the reversed index, as the
original).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from baselines.topdm.config import TopdmConfig
from dexterous_gym.rollout import BatchedRollout, RolloutResult


@dataclass
class PlanResult:
    """Best-ever score, its executed actions (H, d) and means (H, d), per-iteration history."""

    best_score: float
    best_actions: np.ndarray
    best_means: np.ndarray
    best_per_iteration: list[float] = field(default_factory=list)
    last_mean: float = 0.0
    last_std: float = 0.0
    sim_steps: int = 0  # env steps simulated by this call


def score(result: RolloutResult, config: TopdmConfig) -> np.ndarray:
    """R_i = sum_j r_j w_j + 1{success_j} w_{H-1-j}, w_j = lambda^(j+1) (or r_{H-1} alone).

    With ``drop_penalty`` p > 0, each step's reward first loses p per pen end below
    ``drop_height`` (the ``z_bottom`` / ``z_top`` terms of PenSpin's reward)."""
    rewards = result.dense_rewards
    if config.drop_penalty > 0:
        missing = {"z_bottom", "z_top"} - set(result.terms)
        if missing:
            raise ValueError(f"drop_penalty needs the pen's end heights among the env's reward terms (PenSpin-v0); this env has {sorted(result.terms)}")  # fmt: skip
        below = (result.terms["z_bottom"] < config.drop_height).astype(float)
        below += result.terms["z_top"] < config.drop_height
        rewards = rewards - config.drop_penalty * below
    horizon = rewards.shape[1]
    if not config.sum_rewards:
        return rewards[:, -1].copy()
    weights = config.tau_scaler ** np.arange(1, horizon + 1)
    total = rewards @ weights
    if config.success_bonus and result.success is not None:
        total = total + result.success @ weights[::-1]
    return total


def sparse_noise(
    rng: np.random.Generator, shape: tuple[int, ...], std: float, frac: float
) -> np.ndarray:
    """Gaussian noise of ``std`` on each entry independently with probability ``frac``."""
    mask = rng.random(shape) < frac
    return np.where(mask, std * rng.standard_normal(shape), 0.0)


def couple(means: np.ndarray, past: np.ndarray, forgotten: np.ndarray, beta: float) -> np.ndarray:
    """The beta recursion: a_0 = beta m_0 + (1-beta) P (or m_0 if forgotten),
    a_k = beta m_k + (1-beta) a_{k-1}; clipped to [-1, 1] (a no-op, kept as the original)."""
    actions = np.empty_like(means)
    first = beta * means[:, 0] + (1.0 - beta) * past
    actions[:, 0] = np.where(forgotten[:, None], means[:, 0], first)
    for k in range(1, means.shape[1]):
        actions[:, k] = beta * means[:, k] + (1.0 - beta) * actions[:, k - 1]
    return np.clip(actions, -1.0, 1.0)


def mppi_weights(scores: np.ndarray, gamma: float, normalize: bool) -> np.ndarray:
    """exp(gamma * R_i) up to a constant; with ``normalize``, R is first standardised (R - max R) /
    std R, so gamma does not depend on the reward scale (equal scores give equal weights)."""
    shifted = scores - scores.max()
    if normalize:
        spread = scores.std()
        shifted = shifted / spread if spread > 0 else np.zeros_like(shifted)
    return np.exp(gamma * shifted)


class Planner:
    """A receding-horizon planner over a :class:`BatchedRollout`: one :meth:`plan` per control step."""

    def __init__(self, rollout: BatchedRollout, config: TopdmConfig):
        self.rollout = rollout
        self.config = config
        self.n_actions = rollout.n_actions

    def plan(
        self,
        state: np.ndarray,
        prev_action: np.ndarray,
        prev_means: np.ndarray | None,
        n_iterations: int,
        rng: np.random.Generator,
    ) -> PlanResult:
        """Plan from ``state`` (a ``get_state()`` vector) with ``n_iterations`` updates of
        ``config.n_samples`` rollouts; ``prev_action`` is the last executed action and
        ``prev_means`` the previous call's shifted best means (None at the first step)."""
        raise NotImplementedError


class TopdmPlanner(Planner):
    """One TOPDM planning call per control step, on a :class:`BatchedRollout`."""

    def plan(
        self,
        state: np.ndarray,
        prev_action: np.ndarray,
        prev_means: np.ndarray | None,
        n_iterations: int,
        rng: np.random.Generator,
    ) -> PlanResult:
        cfg = self.config
        n, h, d = cfg.n_samples, cfg.horizon, self.n_actions
        # 1. fresh means
        means = np.clip(cfg.init_noise * rng.standard_normal((n, h, d)), -1.0, 1.0)
        # 2. warm start from the previous best means, shifted (last slot stays fresh)
        n_prev = int(cfg.init_frac_prev * n) if prev_means is not None else 0
        if prev_means is not None and n_prev and h > 1:
            warm = np.broadcast_to(prev_means, (n_prev, h - 1, d))
            noise = sparse_noise(rng, (n_prev, h - 1, d), cfg.later_noise, cfg.later_noise_frac)
            means[:n_prev, : h - 1] = np.clip(warm + noise, -1.0, 1.0)
        # 3. groups: warm-started [0, n_prev), fresh [n_prev, n); elites counted per group
        n_elite = cfg.n_elites
        elites_prev = int(cfg.frac_best * n_prev)
        groups = []
        for lo, hi, n_el in ((0, n_prev, elites_prev), (n_prev, n, n_elite - elites_prev)):
            if hi > lo:  # fix: a non-empty group keeps at least one elite
                groups.append((lo, hi, max(1, min(n_el, hi - lo))))
        # 4. per-sample past action; forgotten with probability forget_frac
        past = np.tile(np.asarray(prev_action, dtype=np.float64), (n, 1))
        past[rng.random(n) < cfg.forget_frac] = 0.0
        best = PlanResult(-np.inf, np.zeros((h, d)), np.zeros((h, d)))
        for it in range(n_iterations):
            forgotten = np.abs(past).sum(axis=1) < 1e-8
            actions = couple(means, past, forgotten, cfg.beta)
            result = self.rollout.rollout(state, actions, final_states=False)
            best.sim_steps += n * h
            scores = score(result, cfg)
            i_best = int(np.argmax(scores))
            if scores[i_best] > best.best_score:  # best-ever record across iterations and groups
                best.best_score = float(scores[i_best])
                best.best_actions = actions[i_best].copy()
                best.best_means = means[i_best].copy()
            best.best_per_iteration.append(best.best_score)
            best.last_mean, best.last_std = float(scores.mean()), float(scores.std())
            if it == n_iterations - 1:
                break
            # 5d. re-sample each group from its own elites (tiled e1..eE, e1..eE, ...)
            parents = np.empty(n, dtype=int)
            for lo, hi, n_el in groups:
                order = lo + np.argsort(-scores[lo:hi], kind="stable")
                parents[lo:hi] = np.resize(order[:n_el], hi - lo)
            noise = sparse_noise(rng, (n, h, d), cfg.later_noise, cfg.later_noise_frac)
            means = np.clip(means[parents] + noise, -1.0, 1.0)
            past = past[parents]  # children inherit the parent's past action (and forgetting)
        return best


class MppiPlanner(Planner):
    """PDDM-style MPPI (Nagabandi et al. 2019) at TOPDM's simulator budget: ``n_iterations`` updates of
    N filtered-noise samples per control step, same horizon and :func:`score`."""

    def plan(
        self,
        state: np.ndarray,
        prev_action: np.ndarray,
        prev_means: np.ndarray | None,
        n_iterations: int,
        rng: np.random.Generator,
    ) -> PlanResult:
        cfg = self.config
        n, h, d = cfg.n_samples, cfg.horizon, self.n_actions
        mu = np.zeros((h, d))
        if prev_means is not None and h > 1:
            mu[: h - 1] = prev_means
            mu[h - 1] = prev_means[-1]  # shift, repeating the last entry
        best = PlanResult(-np.inf, mu.copy(), mu.copy())
        for _ in range(n_iterations):
            u = cfg.mppi_sigma * rng.standard_normal((n, h, d))
            noise = np.empty_like(u)
            noise[:, 0] = cfg.mppi_beta * u[:, 0]
            for k in range(1, h):
                noise[:, k] = cfg.mppi_beta * u[:, k] + (1.0 - cfg.mppi_beta) * noise[:, k - 1]
            actions = np.clip(mu + noise, -1.0, 1.0)
            result = self.rollout.rollout(state, actions, final_states=False)
            best.sim_steps += n * h
            scores = score(result, cfg)
            weights = mppi_weights(scores, cfg.mppi_gamma, cfg.mppi_normalize)
            mu = np.tensordot(weights / weights.sum(), actions, axes=1)
            if scores.max() > best.best_score:
                best.best_score = float(scores.max())
            best.best_per_iteration.append(best.best_score)
            best.last_mean, best.last_std = float(scores.mean()), float(scores.std())
        best.best_actions, best.best_means = mu.copy(), mu.copy()  # MPPI executes the mean
        return best
