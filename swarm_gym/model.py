"""The FSM swarm simulator, usable without Gymnasium.

>>> from swarm_gym import FSMSwarm
>>> swarm = FSMSwarm(n_agents=50, horizon=4, seed=0)
>>> swarm.step()            # every agent decides by FSM; synchronous update
>>> swarm.metrics()["order_parameter"]

Observers (steering, the environments, the experiment runners) read the state through
:attr:`FSMSwarm.view`, a read-only :class:`~swarm_gym.view.SwarmView` that never copies.

Random numbers come from one :class:`numpy.random.Generator` in a fixed order: the initial state,
then per step one uniform per agent for the tie rule (drawn when the decision is made) and two
normals per agent for the noise (drawn when the moves are applied, even when the noise is 0). The
tree search itself uses no randomness, so results do not depend on the number of numba threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from swarm_gym import metrics as _metrics
from swarm_gym.config import HALFWIDTH_CODE, SwarmConfig, as_config
from swarm_gym.decision import Decision, DecisionRule
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.kernels import visual_states
from swarm_gym.view import SteeringHook, SwarmView

# Above this many agents FSMSwarm needs allow_large=True (see its constructor's error message).
MAX_AGENTS = 5000


class FSMSwarm:
    """N agents on the infinite plane, each maximising its number of distinct future visual states.

    How the agents choose their moves is one :class:`~swarm_gym.decision.DecisionRule`
    (:attr:`rule`): pass it as ``rule``, or describe it with ``policy``, ``weights``,
    ``heuristic_agents`` and ``others`` (:meth:`DecisionRule.create`).

    Args:
        n_agents: number of agents N.
        horizon: look-ahead depth tau.
        seed: seed of the generator (None: fresh entropy).
        config: a :class:`SwarmConfig`; keyword ``options`` override its fields.
        steering: optional :class:`swarm_gym.steering.Steering` (any
            :class:`~swarm_gym.view.SteeringHook`) biasing a subset of agents (FSM rules only).
        policy: ``"fsm"`` (default: every agent searches its future states) or ``"heuristic"``
            (the NN heuristic of :mod:`swarm_gym.heuristic`: moves from the previous and current
            visual states, no search), or a :class:`~swarm_gym.heuristic.HeuristicPolicy`.
        weights: path of a heuristic weights file (None: the shipped weights of the swarm's
            ``model``, one trained on discrete-model and one on continuous-model decisions).
        heuristic_agents: which agents use the heuristic: None (all), a fraction in (0, 1] (the
            first round(fraction * N) agents), an (N,) bool mask or agent indices; the others
            are FSM agents. The heuristic agents' Decision counts are zero (tied: all moves)
            unless :attr:`score_all` is set.
        others: how a searching agent models the others: ``"straight"`` (default, the
            reference: straight on at v0) or ``"heuristic"`` (closure: their moves predicted by
            the heuristic of ``weights``, see :mod:`swarm_gym.closure`).
        rule: a ready :class:`~swarm_gym.decision.DecisionRule`, instead of the four options
            above.
        **options: any other :class:`SwarmConfig` field (``variant``, ``model``, ``tie_break``...),
            and ``allow_large=True`` to run more than :data:`MAX_AGENTS` agents.

    Raises:
        ValueError: for a bad or unknown parameter (before any compilation).
    """

    def __init__(
        self,
        n_agents: int | None = None,
        horizon: int | None = None,
        seed: int | None = None,
        config: SwarmConfig | None = None,
        steering: SteeringHook | None = None,
        policy: str | HeuristicPolicy = "fsm",
        weights: str | Path | None = None,
        heuristic_agents: float | np.ndarray | None = None,
        others: str = "straight",
        rule: DecisionRule | None = None,
        **options: Any,
    ) -> None:
        if n_agents is not None:
            options["n_agents"] = n_agents
        if horizon is not None:
            options["horizon"] = horizon
        allow_large = bool(options.pop("allow_large", False))
        self.config: SwarmConfig = as_config(config, **options)
        if self.config.n_agents > MAX_AGENTS and not allow_large:
            raise ValueError(
                f"n_agents={self.config.n_agents} is above {MAX_AGENTS}: the visual states cost "
                "O(N^2 log N) time and the tree search O(N) memory per agent per step (N = 10^7 "
                "needs over 7 GB, N = 10^5 over 30 s a step); pass allow_large=True to run it"
            )
        if rule is None:
            rule = DecisionRule.create(self.config, policy, weights, heuristic_agents, others)
        elif not isinstance(rule, DecisionRule):
            raise ValueError(f"rule must be a DecisionRule or None, got {type(rule).__name__}")
        else:
            described = (
                not (isinstance(policy, str) and policy == "fsm")
                or weights is not None
                or heuristic_agents is not None
                or others != "straight"
            )
            if described:
                raise ValueError(
                    "pass either rule or policy/weights/heuristic_agents/others, not both"
                )
            rule.check(self.config)
        if steering is not None and rule.heuristic is not None:
            raise ValueError("steering is not supported with policy='heuristic'")
        self._rule = rule
        self.steering = steering
        self._view = _LiveView(self)
        self.reset(seed)

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        """Draw a new initial state and clear the step counter.

        Positions are uniform in ``[0, box]^2`` and headings N(0, ``heading_sd``) about +x
        (``init_heading="aligned"``), as in Movie S1 of the paper and the reference C++.

        ``rng`` (e.g. a Gymnasium env's ``np_random``) replaces ``default_rng(seed)``.
        """
        cfg = self.config
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):  # fmt: skip
            raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        n = cfg.n_agents
        pos = self.rng.uniform(0.0, cfg.box, size=(n, 2))
        if cfg.init_overlap == "reject":
            pos = _reject_overlaps(pos, self.rng, cfg.box, 2.0 * cfg.radius)
        if cfg.init_heading == "aligned":
            th = cfg.init_heading_sd * self.rng.standard_normal(n)
        else:
            th = self.rng.uniform(0.0, 2.0 * np.pi, size=n)
        self._pos = pos
        self._th = th
        self._speed = np.full(n, cfg.v0)
        self.t = 0
        self._decision: Decision | None = None
        self._visual: tuple[np.ndarray, np.ndarray] | None = None
        self._prev_keys: np.ndarray | None = None  # the last step's visual states, for the rule
        if self.steering is not None:
            self.steering.reset(self._view)

    def set_state(
        self,
        positions: np.ndarray,
        headings: np.ndarray,
        speeds: np.ndarray | float | None = None,
    ) -> None:
        """Replace the state (e.g. to replay a dump). Shapes (N, 2) and (N,)."""
        n = self.config.n_agents
        positions = np.asarray(positions, dtype=np.float64)
        headings = np.asarray(headings, dtype=np.float64)
        if positions.shape != (n, 2) or headings.shape != (n,):
            raise ValueError(
                f"positions must have shape ({n}, 2) and headings ({n},), "
                f"got {positions.shape} and {headings.shape}"
            )
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(headings))):
            raise ValueError("positions and headings must be finite")
        new_speeds = None
        if speeds is not None:  # checked in full before anything is assigned
            try:
                new_speeds = np.broadcast_to(np.asarray(speeds, dtype=np.float64), (n,)).copy()
            except (ValueError, TypeError):
                raise ValueError(
                    f"speeds must be a number or an array of shape ({n},), got {np.shape(speeds)}"
                ) from None
            if not np.all(np.isfinite(new_speeds)) or np.any(new_speeds < 0):
                raise ValueError(f"speeds must be finite and >= 0, got {speeds!r}")
        self._pos = positions.copy()
        self._th = headings.copy()
        if new_speeds is not None:
            self._speed = new_speeds
        self._decision = None
        self._visual = None
        self._prev_keys = None

    @property
    def view(self) -> SwarmView:
        """Read-only view of the current state, without copies (see :class:`_LiveView`)."""
        return self._view

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.config.n_agents

    @property
    def positions(self) -> np.ndarray:
        """(N, 2) positions (a copy)."""
        return self._pos.copy()

    @property
    def headings(self) -> np.ndarray:
        """(N,) unwrapped headings in radians, counter-clockwise from +x (a copy)."""
        return self._th.copy()

    @property
    def speeds(self) -> np.ndarray:
        """(N,) speed of each agent's last move (v0 at t = 0, and v0 after a turn)."""
        return self._speed.copy()

    @property
    def velocities(self) -> np.ndarray:
        """(N, 2) velocity of the last move: speed times heading unit vector."""
        return self._speed[:, None] * np.stack([np.cos(self._th), np.sin(self._th)], axis=1)

    # ------------------------------------------------------------------ decisions
    @property
    def rule(self) -> DecisionRule:
        """How the agents choose their moves (a frozen :class:`~swarm_gym.decision.DecisionRule`)."""
        return self._rule

    @property
    def score_all(self) -> bool:
        """With a heuristic: run the tree search for the heuristic agents too (their counts and
        scores in the Decision; their moves stay the heuristic's). Settable."""
        return self._rule.score_all

    @score_all.setter
    def score_all(self, value: bool) -> None:
        self._rule = self._rule.replace(score_all=value)

    @property
    def collect_reachable(self) -> bool:
        """Also count the distinct depth-tau states over all branches (``Decision.reachable``).
        Settable."""
        return self._rule.collect_reachable

    @collect_reachable.setter
    def collect_reachable(self, value: bool) -> None:
        self._rule = self._rule.replace(collect_reachable=value)

    def decide(self, active: np.ndarray | None = None) -> Decision:
        """Score the moves of every agent at the current snapshot and apply the decision rule.

        Cached until the state changes. Draws the per-agent tie uniforms on first call. ``active``
        (an (N,) bool mask) restricts the tree search to some agents (the others get zero counts);
        it is only honoured on the first call for a given state.
        """
        if self._decision is None:
            uniforms = self.rng.random(self.config.n_agents)
            visual_keys = None
            if self._rule.reads_visual_states:
                keys = self.visual()[0]
                visual_keys = (keys if self._prev_keys is None else self._prev_keys, keys)
            decision = self._rule.decide(
                self.config, self._pos, self._th, uniforms, active, visual_keys
            )
            if self.steering is not None:
                action = self.steering.adjust(
                    self._view, decision.counts, decision.scores, decision.action, uniforms
                )
                decision = dataclasses.replace(decision, action=action)
            self._decision = decision
        return self._decision

    @property
    def policy(self) -> str:
        """``"fsm"``, or ``"heuristic"`` when some agents move by the NN heuristic."""
        return "fsm" if self._rule.heuristic is None else "heuristic"

    @property
    def heuristic_agents(self) -> np.ndarray:
        """(N,) bool mask of the agents that move by the heuristic (all False for ``"fsm"``)."""
        if self._rule.heuristic_agents is None:
            return np.zeros(self.config.n_agents, dtype=np.bool_)
        return self._rule.heuristic_agents.copy()

    @property
    def others_model(self) -> str:
        """How the tree search models the others: ``"straight"`` or ``"heuristic"`` (closure)."""
        return "straight" if self._rule.others is None else "heuristic"

    def step(self, actions: np.ndarray | None = None) -> np.ndarray:
        """Advance one time step. ``actions`` (N,) in 0..4 overrides the FSM choice.

        Returns the actions applied. Raises ValueError for a bad ``actions`` array (state
        unchanged).
        """
        n = self.config.n_agents
        if actions is None:
            actions = self.decide().action
        else:
            actions = validate_actions(actions, n)
            if self._decision is None:
                # keep the random stream identical to the FSM-driven run
                self.rng.random(n)
        self._apply(actions)
        return actions

    def _apply(self, actions: np.ndarray) -> None:
        cfg = self.config
        if self._rule.reads_visual_states:
            self._prev_keys = self.visual()[0]
        n = cfg.n_agents
        xi = self.rng.standard_normal((n, 2))  # xi0 speed noise, xi1 turn noise
        turns = np.asarray(cfg.turns)[actions]
        is_turn = actions < 2
        th = self._th + turns
        if cfg.turn_noise > 0.0:
            th = th + np.where(is_turn, cfg.turn_noise * xi[:, 1], 0.0)
        move_speed = np.asarray(cfg.speeds)[actions]
        if cfg.speed_noise > 0.0:
            move_speed = move_speed + cfg.speed_noise * xi[:, 0]
        pos = self._pos.copy()
        pos[:, 0] = pos[:, 0] + move_speed * cfg.dt * np.cos(th)
        pos[:, 1] = pos[:, 1] + move_speed * cfg.dt * np.sin(th)
        self._speed = np.where(is_turn, cfg.v0, move_speed)
        self._pos = pos
        self._th = th
        self.t += 1
        self._decision = None
        self._visual = None
        if self.steering is not None:
            self.steering.after_step(self._view)

    # ------------------------------------------------------------------ observations / metrics
    def visual(self) -> tuple[np.ndarray, np.ndarray]:
        """Depth-0 visual states: ``(keys, coverage)``, (N,) int64 packed bits and (N,) opacity."""
        if self._visual is None:
            cfg = self.config
            self._visual = visual_states(
                self._pos,
                self._th,
                float(cfg.radius),
                int(HALFWIDTH_CODE[cfg.halfwidth]),
                int(cfg.n_sensors),
                float(cfg.sensor_threshold),
            )
        return self._visual

    def visual_bits(self) -> np.ndarray:
        """(N, n_s) uint8 current visual state of every agent (bit k = sensor k)."""
        return unpack_bits(self.visual()[0], self.config.n_sensors)

    def metrics(self, cluster_link: float = 30.0) -> dict[str, float]:
        """Swarm metrics of the current state (see :mod:`swarm_gym.metrics`)."""
        keys, coverage = self.visual()
        return _metrics.swarm_metrics(
            self._pos,
            self._th,
            radius=self.config.radius,
            bits=unpack_bits(keys, self.config.n_sensors),
            coverage=coverage,
            cluster_link=cluster_link,
        )

    def run(self, n_steps: int, progress: bool = False) -> dict[str, np.ndarray]:
        """Step ``n_steps`` times by FSM and record the trajectory.

        Returns arrays ``positions`` (T+1, N, 2), ``headings`` (T+1, N), ``speeds`` (T+1, N) and
        ``actions`` (T, N), where index 0 is the state before the first step.
        """
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
        n = self.config.n_agents
        pos = np.empty((n_steps + 1, n, 2))
        th = np.empty((n_steps + 1, n))
        sp = np.empty((n_steps + 1, n))
        acts = np.empty((n_steps, n), dtype=np.int64)
        pos[0], th[0], sp[0] = self._pos, self._th, self._speed
        it: Iterable[int] = range(n_steps)
        if progress:
            it = tqdm(it, desc="FSM swarm", unit="step")
        for t in it:
            acts[t] = self.step()
            pos[t + 1], th[t + 1], sp[t + 1] = self._pos, self._th, self._speed
        return {"positions": pos, "headings": th, "speeds": sp, "actions": acts}


class _LiveView:
    """The :class:`~swarm_gym.view.SwarmView` of an :class:`FSMSwarm`: no copies.

    Its arrays are read-only numpy views of the swarm's own arrays. A step replaces those arrays
    (it never writes into them), so an array read before a step keeps the values it had.
    """

    __slots__ = ("_swarm",)

    def __init__(self, swarm: FSMSwarm) -> None:
        self._swarm = swarm

    @property
    def config(self) -> SwarmConfig:
        """The swarm's parameters."""
        return self._swarm.config

    @property
    def n_agents(self) -> int:
        """Number of agents N."""
        return self._swarm.config.n_agents

    @property
    def t(self) -> int:
        """Steps taken since the last reset."""
        return self._swarm.t

    @property
    def positions(self) -> np.ndarray:
        """(N, 2) positions (read-only)."""
        return _readonly(self._swarm._pos)

    @property
    def headings(self) -> np.ndarray:
        """(N,) unwrapped headings in radians (read-only)."""
        return _readonly(self._swarm._th)

    @property
    def speeds(self) -> np.ndarray:
        """(N,) speed of each agent's last move (read-only)."""
        return _readonly(self._swarm._speed)

    def visual_bits(self) -> np.ndarray:
        """(N, n_s) uint8 current visual states (cached by the swarm until the state changes)."""
        return self._swarm.visual_bits()

    def __repr__(self) -> str:
        return f"<view of FSMSwarm n_agents={self.n_agents} t={self.t}>"


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def unpack_bits(keys: np.ndarray, n_sensors: int) -> np.ndarray:
    """Unpack int64 visual-state keys into (..., n_sensors) uint8 bits."""
    keys = np.asarray(keys, dtype=np.int64)
    return ((keys[..., None] >> np.arange(n_sensors, dtype=np.int64)) & 1).astype(np.uint8)


def validate_actions(actions: Any, n: int) -> np.ndarray:
    """Check an (N,) array of moves in 0..4; raise ValueError naming ``actions`` otherwise."""
    arr = np.asarray(actions)
    if arr.shape != (n,):
        raise ValueError(f"actions must have shape ({n},), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"actions must be integers in 0..4, got dtype {arr.dtype}")
    if np.any(arr < 0) or np.any(arr > 4):
        raise ValueError(f"actions must be in 0..4, got values {np.unique(arr)[:10].tolist()}")
    return arr.astype(np.int64)


def _reject_overlaps(
    pos: np.ndarray, rng: np.random.Generator, box: float, contact: float
) -> np.ndarray:
    """Redraw positions one by one until no two centres are closer than ``contact``."""
    n = pos.shape[0]
    out = pos.copy()
    for i in range(1, n):
        for _ in range(10_000):
            d = np.hypot(*(out[:i] - out[i]).T)
            if np.all(d >= contact):
                break
            out[i] = rng.uniform(0.0, box, size=2)
        else:
            raise ValueError("box too small to place the agents without overlap")
    return out
