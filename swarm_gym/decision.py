"""The FSM decision rule and the kernel call that scores the moves.

The rule is that of the authors' reference C++ (Charlesworth & Turner, PNAS 2019; the code is
``henrycharlesworth/intrinsically_motivated_collective_motion`` on GitHub): the first move whose
branch holds the most distinct future visual states, ties broken as in :func:`choose`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swarm_gym.config import SwarmConfig
from swarm_gym.kernel_params import kernel_params

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


def score_moves(
    cfg: SwarmConfig,
    positions: np.ndarray,
    headings: np.ndarray,
    active: np.ndarray | None = None,
    reachable: bool = False,
    others: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Run the tree search for the agents in ``active`` (all by default).

    ``others`` is a table of the others' positions and displacements at depths 0..tau (see
    :func:`swarm_gym.kernels.ballistic_table`); None: they fly straight at v0 (the reference).

    Returns ``(counts, nodes, scores, reach)`` with ``scores = counts`` (as float) for the discrete
    model and ``scores = W`` for the continuous one; ``reach`` (with ``reachable=True``, else None)
    is the number of distinct depth-tau visual states of each agent over all first moves.
    """
    import numba

    from swarm_gym import kernels

    n = positions.shape[0]
    if active is None:
        active = np.ones(n, dtype=np.bool_)
    kp = kernel_params(cfg, collect_leaf=reachable,
                       others_speed=None if others is None else cfg.v0 + cfg.dv)  # fmt: skip
    pos = _kernel_array(positions, np.float64)
    th = _kernel_array(headings, np.float64)
    active = _kernel_array(active, np.bool_)
    # Large flocks are searched in blocks of agents, so that Ctrl-C (seen by Python only between
    # numba calls) stops a long step within one block; each agent's search is independent, so
    # the results are the same as in one call.
    blocks = [active] if n <= INTERRUPT_BLOCK else _blocks(active, INTERRUPT_BLOCK)
    parts = []
    for block in blocks:
        # agents' costs differ (collisions prune branches): hand them to threads one at a time
        with numba.parallel_chunksize(1):
            if others is None:
                parts.append(kernels.branch_scores(pos, th, block, kp))
            else:
                parts.append(kernels.branch_scores_against(pos, th, block, kp, *others))
    if len(parts) == 1:
        counts, nodes, weights, leaf_keys, n_leaf = parts[0]
    else:
        merged = [np.zeros_like(out) for out in parts[0]]
        for block, part in zip(blocks, parts, strict=True):
            for total, out in zip(merged, part, strict=True):
                total[block] = out[block]
        counts, nodes, weights, leaf_keys, n_leaf = merged
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


INTERRUPT_BLOCK = 1024  # agents per kernel call in large flocks


def _blocks(active: np.ndarray, size: int) -> list[np.ndarray]:
    """``active`` split into masks of at most ``size`` consecutive agents each."""
    out = []
    for start in range(0, active.shape[0], size):
        block = np.zeros_like(active)
        block[start : start + size] = active[start : start + size]
        out.append(block)
    return out


def _kernel_array(a: np.ndarray, dtype: type) -> np.ndarray:
    """A C-contiguous, writeable array of ``dtype`` (a copy only when needed): read-only views
    (:attr:`swarm_gym.view.SwarmView.positions`) would otherwise compile a second specialisation
    of the kernel."""
    return np.require(a, dtype=dtype, requirements=["C", "W"])


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
