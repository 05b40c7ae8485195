"""How the agents choose their moves: :class:`DecisionRule`, the tree search and the tie rule.

The FSM rule is that of the authors' reference C++ (Charlesworth & Turner, PNAS 2019; the code is
``henrycharlesworth/intrinsically_motivated_collective_motion`` on GitHub): the first move whose
branch holds the most distinct future visual states, ties broken as in :func:`choose`. A
:class:`DecisionRule` may hand some agents to the learned heuristic (:mod:`swarm_gym.heuristic`)
and model the others in the search by that heuristic (closure, :mod:`swarm_gym.closure`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from swarm_gym import kernels
from swarm_gym.closure import OTHERS_MODELS, predicted_table
from swarm_gym.config import SwarmConfig
from swarm_gym.heuristic import HeuristicPolicy, heuristic_mask, resolve_policy
from swarm_gym.interrupts import deferred_interrupts, run_in_blocks
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


@dataclass(frozen=True, eq=False)
class DecisionRule:
    """How every agent of a swarm chooses its move at a snapshot.

    The default rule is the FSM's: every agent searches its future states (:func:`score_moves`)
    and takes the best first move (:func:`choose`, with the config's ``tie_break``). Build other
    rules with :meth:`create` (the options of :class:`~swarm_gym.model.FSMSwarm`).

    Attributes:
        heuristic: the learned heuristic that moves the agents of ``heuristic_agents`` from their
            previous and current visual states (no search), or None (FSM only).
        heuristic_agents: (N,) read-only bool mask of the agents the heuristic moves (None
            without a heuristic). Their Decision counts are zero (tied: all moves) unless
            ``score_all``.
        others: the heuristic that predicts the others in the tree search (closure,
            :func:`swarm_gym.closure.predicted_table`), or None: they fly straight at v0 (the
            reference).
        score_all: with a heuristic, run the tree search for the heuristic agents too (their
            counts and scores in the Decision; their moves stay the heuristic's).
        collect_reachable: also count the distinct depth-tau states over all branches
            (``Decision.reachable``).
    """

    heuristic: HeuristicPolicy | None = None
    heuristic_agents: np.ndarray | None = None
    others: HeuristicPolicy | None = None
    score_all: bool = False
    collect_reachable: bool = False

    def __post_init__(self) -> None:
        for name in ("heuristic", "others"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, HeuristicPolicy):
                raise ValueError(f"{name} must be a HeuristicPolicy or None, got {value!r:.80}")
        mask = self.heuristic_agents
        if (self.heuristic is None) != (mask is None):
            raise ValueError("heuristic and heuristic_agents must be given together")
        if mask is not None:
            mask = np.array(mask)
            if mask.dtype != np.bool_ or mask.ndim != 1:
                raise ValueError(
                    f"heuristic_agents must be an (N,) bool mask, got {mask.dtype} {mask.shape}"
                )
            mask.flags.writeable = False
            object.__setattr__(self, "heuristic_agents", mask)
        for name in ("score_all", "collect_reachable"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))

    @classmethod
    def create(
        cls,
        config: SwarmConfig,
        policy: str | HeuristicPolicy = "fsm",
        weights: str | Path | None = None,
        heuristic_agents: float | np.ndarray | None = None,
        others: str = "straight",
    ) -> DecisionRule:
        """The rule of :class:`~swarm_gym.model.FSMSwarm`'s options (see its docstring) for a
        swarm of ``config``.

        Raises:
            ValueError: for an unknown option or options that do not go together.
        """
        if others not in OTHERS_MODELS:
            raise ValueError(f"others must be one of {list(OTHERS_MODELS)}, got {others!r}")
        heuristic = None
        mask = None
        if isinstance(policy, str) and policy == "fsm":
            if heuristic_agents is not None:
                raise ValueError("heuristic_agents needs policy='heuristic'")
            if weights is not None and others != "heuristic":
                raise ValueError("weights needs policy='heuristic' or others='heuristic'")
        else:
            heuristic = resolve_policy(policy, weights, config.n_sensors, config.model)
            mask = heuristic_mask(heuristic_agents, config.n_agents)
        closure = None
        if others == "heuristic":
            closure = heuristic or resolve_policy("heuristic", weights, config.n_sensors,
                                                  config.model)  # fmt: skip
        return cls(heuristic, mask, closure)

    def check(self, config: SwarmConfig) -> None:
        """Raise ValueError naming ``rule`` if this rule cannot drive a swarm of ``config``."""
        n = config.n_agents
        if self.heuristic_agents is not None and self.heuristic_agents.shape != (n,):
            raise ValueError(f"rule: heuristic_agents must have shape ({n},), got "
                             f"{self.heuristic_agents.shape}")  # fmt: skip
        for policy in (self.heuristic, self.others):
            if policy is not None:
                try:
                    resolve_policy(policy, None, config.n_sensors, config.model)
                except ValueError as err:
                    raise ValueError(f"rule: {err}") from None

    def replace(self, **changes: Any) -> DecisionRule:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def reads_visual_states(self) -> bool:
        """Whether :meth:`decide` needs the previous and current visual states."""
        return self.heuristic is not None or self.others is not None

    def decide(
        self,
        config: SwarmConfig,
        positions: np.ndarray,
        headings: np.ndarray,
        uniforms: np.ndarray,
        active: np.ndarray | None = None,
        visual_keys: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Decision:
        """Scores and moves of every agent at the snapshot (``positions``, ``headings``).

        ``uniforms``: one pre-drawn uniform in [0, 1) per agent (tie rule, heuristic sampling).
        ``active``: (N,) bool, the agents whose tree search runs (all by default; the others get
        zero counts). ``visual_keys``: ``(previous, current)`` (N,) packed visual states, needed
        when :attr:`reads_visual_states`.
        """
        n = config.n_agents
        search = np.ones(n, dtype=np.bool_) if active is None else np.asarray(active, np.bool_)
        if self.heuristic_agents is not None and not self.score_all:
            search = search & ~self.heuristic_agents
        if self.reads_visual_states and visual_keys is None:
            raise ValueError("visual_keys: this rule needs the previous and current visual states")
        table = None
        if self.others is not None:
            assert visual_keys is not None
            table = predicted_table(config, self.others, positions, headings, *visual_keys)
        if search.any() or self.heuristic is None:
            counts, nodes, scores, reach = score_moves(
                config, positions, headings, search, self.collect_reachable, table
            )
        else:
            counts = np.zeros((n, 5), dtype=np.int64)
            nodes = np.zeros((n, 5), dtype=np.int64)
            scores = np.zeros((n, 5))
            reach = np.zeros(n, dtype=np.int64) if self.collect_reachable else None
        action = choose(scores, uniforms, config.tie_break)
        if self.heuristic is not None:
            assert visual_keys is not None and self.heuristic_agents is not None
            moved = self.heuristic_agents
            prev, keys = visual_keys
            action[moved], _ = self.heuristic.act(prev[moved], keys[moved], uniforms[moved])
        return Decision(counts, nodes, scores, tied_moves(scores), action, reach)


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
    n = positions.shape[0]
    if active is None:
        active = np.ones(n, dtype=np.bool_)
    kp = kernel_params(cfg, collect_leaf=reachable,
                       others_speed=None if others is None else cfg.v0 + cfg.dv)  # fmt: skip
    pos = _kernel_array(positions, np.float64)
    th = _kernel_array(headings, np.float64)
    active = _kernel_array(active, np.bool_)
    n_leaf_max = 5 ** (cfg.horizon - 1) if reachable else 1
    counts = np.zeros((n, 5), dtype=np.int64)
    nodes = np.zeros((n, 5), dtype=np.int64)
    weights = np.zeros((n, 5))
    leaf_keys = np.zeros((n, 5, n_leaf_max), dtype=np.int64)
    n_leaf = np.zeros((n, 5), dtype=np.int64)

    def search(agents: np.ndarray, stop: np.ndarray) -> None:
        # agents' costs differ (collisions prune branches): hand them to threads one at a time
        with numba.parallel_chunksize(1):
            kernels.branch_scores_against(pos, th, agents, kp, *table, stop,
                                          counts, nodes, weights, leaf_keys, n_leaf)  # fmt: skip

    # every agent visits up to 5 (5^tau - 1) / 4 nodes, each costing O(N)
    work_per_agent = n * 5 * (5**cfg.horizon - 1) / 4
    with deferred_interrupts():
        table = kernels.ballistic_table(pos, th, kp.tau, kp.v0, kp.dt) if others is None else others
        run_in_blocks(np.flatnonzero(active), work_per_agent, search)
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
