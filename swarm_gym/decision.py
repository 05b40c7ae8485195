"""The FSM decision rule (fact sheet section 1.9) and the kernel call that scores the moves."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from swarm_gym.config import COUNT_CODE, HALFWIDTH_CODE, SWEPT_CODE, SwarmConfig, max_branch_nodes

#: Move names in index order (the order matters for tie-breaks).
MOVES: tuple[str, ...] = ("right", "left", "slow", "keep", "fast")


@dataclass(frozen=True)
class Decision:
    """Scores and the FSM choice for every agent at one snapshot.

    Attributes:
        counts: (N, 5) int64 distinct visual states per first move (n_alpha).
        nodes: (N, 5) int64 surviving counted nodes per first move.
        scores: (N, 5) float64 what the rule maximises: counts (discrete) or W (continuous).
        tied: (N, 5) bool, moves attaining the maximum score.
        action: (N,) int64 the FSM choice (tie rule applied).
        reachable: (N,) int64 distinct depth-tau visual states over all five branches (the
            deterministic tau-step empowerment count), or None when not requested.
    """

    counts: np.ndarray
    nodes: np.ndarray
    scores: np.ndarray
    tied: np.ndarray
    action: np.ndarray
    reachable: np.ndarray | None = None


def kernel_params(cfg: SwarmConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pack a config into the float/int parameter arrays of :func:`kernels.branch_scores`."""
    max_rel = (2.0 * cfg.v0 + cfg.dv) * cfg.dt  # largest relative displacement in one step
    cull = (2.0 * cfg.radius + max_rel) * (1.0 + 1e-9) + 1e-9
    params = np.array([cfg.radius, cfg.dt, cfg.sensor_threshold, cull * cull, cfg.v0])
    tsize = 1 << max(4, math.ceil(math.log2(2 * max_branch_nodes(cfg.horizon) + 1)))
    iparams = np.array(
        [
            cfg.horizon,
            HALFWIDTH_CODE[cfg.halfwidth],
            SWEPT_CODE[cfg.swept_test],
            COUNT_CODE[cfg.count_depths],
            1 if cfg.model == "continuous" else 0,
            1 if cfg.early_exit else 0,
            cfg.n_sensors,
            tsize,
            0,
        ],
        dtype=np.int64,
    )
    speeds = np.array(cfg.speeds, dtype=np.float64)
    turns = np.array(cfg.turns, dtype=np.float64)
    return params, iparams, speeds, turns


def score_moves(
    cfg: SwarmConfig,
    positions: np.ndarray,
    headings: np.ndarray,
    active: np.ndarray | None = None,
    reachable: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Run the tree search for the agents in ``active`` (all by default).

    Returns ``(counts, nodes, scores, reach)`` with ``scores = counts`` (as float) for the discrete
    model and ``scores = W`` for the continuous one; ``reach`` (with ``reachable=True``, else None)
    is the number of distinct depth-tau visual states of each agent over all first moves.
    """
    import numba

    from swarm_gym import kernels

    n = positions.shape[0]
    if active is None:
        active = np.ones(n, dtype=np.bool_)
    params, iparams, speeds, turns = kernel_params(cfg)
    iparams[8] = 1 if reachable else 0
    # agents' costs differ (collisions prune branches): hand them to threads one at a time
    with numba.parallel_chunksize(1):
        counts, nodes, weights, leaf_keys, n_leaf = kernels.branch_scores(
            np.ascontiguousarray(positions, dtype=np.float64),
            np.ascontiguousarray(headings, dtype=np.float64),
            np.ascontiguousarray(active, dtype=np.bool_),
            params,
            iparams,
            speeds,
            turns,
        )
    scores = weights if cfg.model == "continuous" else counts.astype(np.float64)
    reach = None
    if reachable:
        reach = np.array(
            [
                np.unique(np.concatenate([leaf_keys[i, a, : n_leaf[i, a]] for a in range(5)])).size
                for i in range(n)
            ],
            dtype=np.int64,
        )
    return counts, nodes, scores, reach


def choose(scores: np.ndarray, uniforms: np.ndarray, tie_break: str = "cpp") -> np.ndarray:
    """Apply the decision rule to (N, 5) scores with one pre-drawn uniform in [0, 1) per agent.

    ``"cpp"`` (reference): if a turn attains the maximum, take it (both turns: right if u < 0.5,
    else left); otherwise the lowest of slow, keep, fast attaining it. ``"uniform"``: a uniformly
    random maximal move.
    """
    scores = np.asarray(scores, dtype=np.float64)
    tied = scores == scores.max(axis=1, keepdims=True)
    n = scores.shape[0]
    if tie_break == "uniform":
        k = tied.sum(axis=1)
        pick = np.minimum((uniforms * k).astype(np.int64), k - 1)
        order = np.cumsum(tied, axis=1) - 1
        return np.argmax(tied & (order == pick[:, None]), axis=1).astype(np.int64)
    action = np.argmax(tied[:, 2:], axis=1).astype(np.int64) + 2  # lowest of slow/keep/fast
    both = tied[:, 0] & tied[:, 1]
    action = np.where(tied[:, 1], 1, action)
    action = np.where(tied[:, 0], 0, action)
    action = np.where(both, np.where(uniforms < 0.5, 0, 1), action)
    assert action.shape == (n,)
    return action


def tied_moves(scores: np.ndarray) -> np.ndarray:
    """(N, 5) bool mask of the moves attaining each agent's maximum score."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores == scores.max(axis=1, keepdims=True)
