"""Steering the swarm with a subset of informed agents ("making the swarm turn", "guiding the swarm
to follow a trajectory").

Mechanism (our own; the talk gives only the slide titles, and the follow-up by Turley & Turner
describes "a subset of agents with a directional bias" without the exact form). An informed agent i
keeps the FSM objective but adds a heading preference to it:

    score_alpha = log(n_alpha) + strength * cos(theta_i + dtheta_alpha - psi_i)

where n_alpha is its branch count (W_alpha in the continuous model), theta_i + dtheta_alpha its
heading after first move alpha, and psi_i its preferred direction: a fixed target direction
(which may change at ``turn_step``) or the bearing from the agent to the current waypoint. A branch
with n_alpha = 0 (predicted collision) scores -inf, so the bias never overrides collision avoidance.
Ties go to the lowest move index. Uninformed agents are unchanged and do not know who is informed.
An informed agent whose bias weight is 0 (``strength = 0``, or fully gated, see ``gate``) keeps its
plain FSM choice, tie rule included.

With a plain bias, informed agents either change nothing (weak bias) or leave the flock alone
(strong bias), as the follow-up paper also reports. The ``gate`` keeps them in: the bias weight of
agent i is ``strength * clip(1 + (m_i . e(psi_i)) / gate, 0, 1)``, where m_i is the mean direction of
what agent i currently sees (its sensor bits as unit vectors, averaged over the on sensors, length
<= 1). An informed agent that sees the others behind it with respect to the target switches its
bias off and flies as a plain FSM agent until the flock catches up; one that sees the flock toward
the target pushes. It uses only the agent's own visual state. ``tolerance``, ``cohesion`` and
``align`` are further options that were tried (see docs/swarm.md).

Belief (``belief_turn``, the mechanism that meets the turning target; it can replace the heading
bias, ``strength = 0``): the informed agent changes its *model of the others*, not its objective.
In its own tree search it assumes that every other agent turns toward psi_i by up to
``belief_turn`` (radians; the others' headings rotated toward psi_i, clipped to that angle, then
flown ballistically as usual) and it takes the plain FSM choice, tie rule included, in that imagined
world. It keeps to where the turned flock would be, so it stays with the flock while leading it
round. The angle is scaled by the same weight as the bias (``steering_weights``): with ``gate`` or
``lead_distance`` set, an agent too far ahead of the flock with respect to the target believes in
no turn and is a plain FSM agent. ``lead_distance`` measures the lead against the centre of the
whole flock, which stops informed agents from taking a subgroup away (the visual gate cannot see
that: a split subgroup sees mostly itself). The ``steer`` preset's ``belief`` variant is
``belief_turn = pi / 6, lead_distance = 60``.

Settings and run state are separate: :class:`SteeringConfig` (frozen, validated) holds the
settings, :class:`Steering` the state of one run (the informed agents, the active waypoint, when
each waypoint was reached). Both see the swarm only through :class:`swarm_gym.view.SwarmView`.

Waypoints: the informed agents aim at waypoint k until the centre of the flock (the mean position of
all agents) comes within ``reach`` of it, then at waypoint k + 1; after the last they keep aiming
at it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from swarm_gym.decision import choose, score_moves
from swarm_gym.view import SwarmView


@dataclass(frozen=True)
class SteeringConfig:
    """Settings of a subset of informed agents biased toward a direction or a sequence of waypoints.

    Attributes:
        fraction: fraction of agents that are informed (rounded, at least 1 if > 0).
        strength: weight lambda of the heading preference (in units of log-count).
        target_angle: preferred direction (radians) before ``turn_step``.
        turn_angle: change of the preferred direction at ``turn_step`` (e.g. pi/2).
        turn_step: step at which the target turns (None: never).
        waypoints: optional (K, 2) path (any array-like; stored as a tuple of (x, y) pairs); when
            set it replaces the direction target.
        reach: distance of the flock centre to a waypoint at which the next one becomes active.
        tolerance: if set, an informed agent only considers moves whose branch score is at
            least (1 - tolerance) times its best (so the bias can never cost more than that
            fraction of future states).
        align: weight of the mean heading of the other agents within ``align_radius`` in the
            preferred direction: psi = angle(e(target) + align * e(local mean heading)).
        align_radius: radius of the neighbourhood of ``align``.
        cohesion: weight kappa of the agent's own "visual mass" vector
            C = (1/n_s) * sum_k b_k e(theta_i + phi_k) (b_k its current sensor bits, phi_k the
            sensor centres) in the preferred direction: psi = angle(e(target) + kappa * C).
            Surrounded agents have C ~ 0; an agent drifting out of the flock sees the others on
            one side, so C pulls it back. It uses only what the agent sees.
        gate: if set (a scale c0 > 0), the bias of informed agent i is multiplied by
            clip(1 + (C_i . e(psi_i)) / (f_i c0), 0, 1), f_i its fraction of sensors on (so
            C_i / f_i is the mean direction of what it sees, of length <= 1): an agent that sees
            the others behind it with respect to the target (it is ahead of the flock in the
            target direction) stops pulling until the flock catches up, so informed agents lead
            without leaving. It scales ``belief_turn`` in the same way.
        belief_turn: if set (radians, in (0, pi]), the largest angle by which an informed agent
            assumes the others turn toward its preferred direction in its own tree search (see
            the module docstring); scaled by the steering weight (``gate`` and
            ``lead_distance``, see :meth:`Steering.steering_weights`).
        lead_distance: if set (a distance d0 > 0), the steering of informed agent i (bias and
            belief) is also multiplied by clip(1 - a_i / d0, 0, 1), a_i how far it is ahead of
            the flock centre (the mean position of all agents) in its preferred direction: it
            may lead by up to d0 and no further. The FSM's model of the others already uses
            their positions, so this adds no information the agent lacks.
        seed: seed of the choice of informed agents (independent of the swarm's generator).

    Raises:
        ValueError: naming the first bad setting.
    """

    fraction: float = 0.1
    strength: float = 0.5
    target_angle: float = 0.0
    turn_angle: float = 0.0
    turn_step: int | None = None
    waypoints: tuple[tuple[float, float], ...] | None = None
    reach: float = 30.0
    tolerance: float | None = None
    align: float = 0.0
    align_radius: float = 20.0
    cohesion: float = 0.0
    gate: float | None = None
    belief_turn: float | None = None
    lead_distance: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {self.fraction}")
        if not np.isfinite(self.strength) or self.strength < 0:
            raise ValueError(f"strength must be a finite number >= 0, got {self.strength}")
        if self.tolerance is not None and not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"tolerance must be None or in [0, 1), got {self.tolerance}")
        if self.gate is not None and not self.gate > 0:
            raise ValueError(f"gate must be None or > 0, got {self.gate}")
        if self.belief_turn is not None and not 0.0 < self.belief_turn <= np.pi:
            raise ValueError(
                f"belief_turn must be None or in (0, pi] radians, got {self.belief_turn}"
            )
        if self.lead_distance is not None and not (
            np.isfinite(self.lead_distance) and self.lead_distance > 0
        ):
            raise ValueError(
                f"lead_distance must be None or a finite number > 0, got {self.lead_distance}"
            )
        if self.align < 0:
            raise ValueError(f"align must be >= 0, got {self.align}")
        if self.reach <= 0:
            raise ValueError(f"reach must be > 0, got {self.reach}")
        if self.waypoints is not None:
            wp = np.asarray(self.waypoints, dtype=np.float64)
            if wp.ndim != 2 or wp.shape[1] != 2 or wp.shape[0] == 0:
                raise ValueError(f"waypoints must have shape (K, 2), got {wp.shape}")
            pairs = tuple((float(x), float(y)) for x, y in wp)
            object.__setattr__(self, "waypoints", pairs)

    def direction(self, t: int) -> float:
        """The target direction at step ``t`` (direction mode)."""
        if self.turn_step is not None and t >= self.turn_step:
            return self.target_angle + self.turn_angle
        return self.target_angle

    def replace(self, **settings: Any) -> SteeringConfig:
        """A validated copy with some settings changed."""
        return dataclasses.replace(self, **settings)


class Steering:
    """The informed agents of one run: a :class:`SteeringConfig` and the run's state.

    ``Steering(config)`` or ``Steering(**settings)`` (the fields of :class:`SteeringConfig`; both
    forms may be combined, the settings then override the config's). Pass it to
    :class:`swarm_gym.model.FSMSwarm` as ``steering``; the swarm calls :meth:`reset`,
    :meth:`adjust` and :meth:`after_step` (the :class:`swarm_gym.view.SteeringHook` protocol).

    Attributes:
        informed: (k,) int64 sorted indices of the informed agents (chosen at :meth:`reset`).
        waypoint_index: index of the active waypoint (waypoint mode).
        reached_at: the step at which each waypoint was reached, in order.

    Raises:
        TypeError: for an unknown setting; ValueError: for a bad one.
    """

    def __init__(self, config: SteeringConfig | None = None, **settings: Any) -> None:
        if config is None:
            config = SteeringConfig(**settings)
        elif not isinstance(config, SteeringConfig):
            raise TypeError(f"config must be a SteeringConfig, got {type(config).__name__}")
        elif settings:
            config = config.replace(**settings)
        self._config = config
        self._waypoints: np.ndarray | None = None
        if config.waypoints is not None:
            self._waypoints = np.array(config.waypoints, dtype=np.float64)
            self._waypoints.flags.writeable = False
        self.informed: np.ndarray = np.zeros(0, dtype=np.int64)
        self.waypoint_index = 0
        self.reached_at: list[int] = []

    @property
    def config(self) -> SteeringConfig:
        """The settings (frozen)."""
        return self._config

    @property
    def waypoints(self) -> np.ndarray | None:
        """(K, 2) read-only waypoint array, or None in direction mode."""
        return self._waypoints

    def __repr__(self) -> str:
        return (
            f"Steering({self._config!r}, informed={self.informed.tolist()}, "
            f"waypoint_index={self.waypoint_index}, reached_at={self.reached_at})"
        )

    # -- hooks called by FSMSwarm ------------------------------------------------------------
    def reset(self, swarm: SwarmView) -> None:
        """Choose the informed agents and restart the waypoint sequence."""
        cfg = self._config
        n = swarm.n_agents
        k = round(cfg.fraction * n)
        if cfg.fraction > 0 and k == 0:
            k = 1
        rng = np.random.default_rng(cfg.seed)
        self.informed = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
        self.waypoint_index = 0
        self.reached_at = []

    def target_directions(self, swarm: SwarmView) -> np.ndarray:
        """Preferred direction psi of each informed agent at the current step."""
        cfg = self._config
        positions = swarm.positions
        pos = positions[self.informed]
        if self._waypoints is not None:
            w = self._waypoints[self.waypoint_index]
            psi = np.arctan2(w[1] - pos[:, 1], w[0] - pos[:, 0])
        else:
            psi = np.full(len(self.informed), cfg.direction(swarm.t))
        if cfg.cohesion > 0:
            cx, cy = self.visual_mass(swarm)
            psi = np.arctan2(np.sin(psi) + cfg.cohesion * cy, np.cos(psi) + cfg.cohesion * cx)
        if cfg.align > 0:
            headings = swarm.headings
            d = np.hypot(*(positions[None, :, :] - pos[:, None, :]).transpose(2, 0, 1))
            near = (d < cfg.align_radius) & (d > 0)
            cx = (near * np.cos(headings)[None, :]).sum(1)
            cy = (near * np.sin(headings)[None, :]).sum(1)
            norm = np.maximum(np.hypot(cx, cy), 1e-12)
            has = near.any(axis=1)
            ux = np.cos(psi) + np.where(has, cfg.align * cx / norm, 0.0)
            uy = np.sin(psi) + np.where(has, cfg.align * cy / norm, 0.0)
            psi = np.arctan2(uy, ux)
        return psi

    def visual_mass(
        self, swarm: SwarmView, bits: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """World-frame "visual mass" C = (1/n_s) sum_k b_k e(theta_i + phi_k) of each informed
        agent, from its current sensor bits b_k (phi_k: sensor centres). ``bits``: the informed
        agents' rows of ``swarm.visual_bits()``, if already computed."""
        n_s = swarm.config.n_sensors
        if bits is None:
            bits = swarm.visual_bits()[self.informed]
        bits = bits.astype(np.float64)
        centres = (np.arange(n_s) + 0.5) * (2.0 * np.pi / n_s)
        ang = swarm.headings[self.informed, None] + centres[None, :]
        return (bits * np.cos(ang)).sum(1) / n_s, (bits * np.sin(ang)).sum(1) / n_s

    def direction(self, t: int) -> float:
        """The target direction at step ``t`` (direction mode); see
        :meth:`SteeringConfig.direction`."""
        return self._config.direction(t)

    def steering_weights(self, swarm: SwarmView, psi: np.ndarray) -> np.ndarray:
        """Weight in [0, 1] of each informed agent's steering: the visual ``gate`` times the
        ``lead_distance`` factor (1 everywhere with neither)."""
        cfg = self._config
        weight = np.ones(len(self.informed))
        if cfg.gate is not None:
            bits = swarm.visual_bits()[self.informed]  # one visual-state pass for both terms
            cx, cy = self.visual_mass(swarm, bits)
            seen = np.maximum(bits.mean(axis=1), 1.0 / swarm.config.n_sensors)
            along = (cx * np.cos(psi) + cy * np.sin(psi)) / seen
            weight *= np.clip(1.0 + along / cfg.gate, 0.0, 1.0)
        if cfg.lead_distance is not None:
            positions = swarm.positions
            ahead = positions[self.informed] - positions.mean(axis=0)
            along = ahead[:, 0] * np.cos(psi) + ahead[:, 1] * np.sin(psi)
            weight *= np.clip(1.0 - along / cfg.lead_distance, 0.0, 1.0)
        return weight

    @staticmethod
    def believed_scores(
        swarm: SwarmView, agents: np.ndarray, psi: np.ndarray, turn: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counts and scores (k, 5) of the tree searches of ``agents`` (k indices) in which the
        others' headings are turned toward psi[k] by at most ``turn[k]`` (one search per agent)."""
        k = len(agents)
        counts, scores = np.zeros((k, 5), dtype=np.int64), np.zeros((k, 5))
        positions, th = swarm.positions, swarm.headings
        for row, (i, p, limit) in enumerate(zip(agents, psi, turn, strict=True)):
            believed = th + np.clip(np.angle(np.exp(1j * (p - th))), -limit, limit)
            believed[i] = th[i]  # its own heading is its own
            active = np.zeros(swarm.n_agents, dtype=np.bool_)
            active[i] = True
            c, _, s, _ = score_moves(swarm.config, positions, believed, active)
            counts[row], scores[row] = c[i], s[i]
        return counts, scores

    def adjust(
        self,
        swarm: SwarmView,
        counts: np.ndarray,
        scores: np.ndarray,
        action: np.ndarray,
        uniforms: np.ndarray | None = None,
    ) -> np.ndarray:
        """Replace the informed agents' choices by the biased argmax.

        ``uniforms``: the per-agent tie uniforms of this step (needed with ``belief_turn``, for
        the FSM choice in the believed world; 0.5 if not given).
        """
        if len(self.informed) == 0:
            return action
        cfg = self._config
        idx = self.informed
        psi = self.target_directions(swarm)
        steer_w = self.steering_weights(swarm, psi)
        c, s, fsm = counts[idx], scores[idx], action[idx]  # copies (fancy indexing)
        if cfg.belief_turn is not None:
            turn = cfg.belief_turn * steer_w
            believes = turn > 0  # a fully gated agent keeps the real world (and its FSM choice)
            if believes.any():
                bc, bs = self.believed_scores(swarm, idx[believes], psi[believes], turn[believes])
                c[believes], s[believes] = bc, bs
                u = np.full(len(idx), 0.5) if uniforms is None else uniforms[idx]
                fsm[believes] = choose(bs, u[believes], swarm.config.tie_break)
        with np.errstate(divide="ignore"):
            base = np.where((c > 0) & (s > 0), np.log(np.maximum(s, 1e-300)), -np.inf)
        # a positive-count branch with W = 0 (continuous model): rank it just above collisions
        base = np.where((c > 0) & ~(s > 0), -1e6, base)
        turns = np.asarray(swarm.config.turns)
        new_heading = swarm.headings[idx, None] + turns[None, :]
        weight = cfg.strength * steer_w
        biased = base + weight[:, None] * np.cos(new_heading - psi[:, None])
        if cfg.tolerance is not None:
            best = s.max(axis=1, keepdims=True)
            biased = np.where(s >= (1.0 - cfg.tolerance) * best, biased, -np.inf)
        out = action.copy()
        # an agent whose bias weight is 0 (strength 0, or fully gated) keeps its FSM choice
        out[idx] = np.where(weight > 0, np.argmax(biased, axis=1), fsm)
        return out

    def after_step(self, swarm: SwarmView) -> None:
        """Advance the waypoint when the flock centre is within ``reach``."""
        if self._waypoints is None or len(self.reached_at) > self.waypoint_index:
            return
        centre = swarm.positions.mean(axis=0)
        w = self._waypoints[self.waypoint_index]
        if np.hypot(*(centre - w)) < self._config.reach:
            self.reached_at.append(swarm.t)
            if self.waypoint_index < len(self._waypoints) - 1:
                self.waypoint_index += 1

    @property
    def done(self) -> bool:
        """True once every waypoint has been reached (waypoint mode)."""
        return self._waypoints is not None and len(self.reached_at) >= len(self._waypoints)
