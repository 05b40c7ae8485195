"""What the swarm shows to the code around it, and what it calls back.

:class:`SwarmView` is the read-only face of a swarm: steering, the environments and the experiment
runners read the state through it and never touch the simulator's own attributes.
:attr:`swarm_gym.model.FSMSwarm.view` is one that never copies (its arrays are read-only numpy
views); an :class:`~swarm_gym.model.FSMSwarm` itself also satisfies the protocol (its properties
return copies). :class:`SteeringHook` is what :class:`~swarm_gym.model.FSMSwarm` calls on its
``steering`` object (e.g. :class:`swarm_gym.steering.Steering`); it receives views only.

This module depends on neither the simulator nor the steering, so neither imports the other.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from swarm_gym.config import SwarmConfig


@runtime_checkable
class SwarmView(Protocol):
    """Read-only state of a swarm at its current step."""

    @property
    def config(self) -> SwarmConfig:
        """The swarm's parameters."""
        ...

    @property
    def n_agents(self) -> int:
        """Number of agents N."""
        ...

    @property
    def t(self) -> int:
        """Steps taken since the last reset."""
        ...

    @property
    def positions(self) -> np.ndarray:
        """(N, 2) float64 positions."""
        ...

    @property
    def headings(self) -> np.ndarray:
        """(N,) float64 unwrapped headings, radians counter-clockwise from +x."""
        ...

    @property
    def speeds(self) -> np.ndarray:
        """(N,) float64 speed of each agent's last move."""
        ...

    def visual_bits(self) -> np.ndarray:
        """(N, n_s) uint8 current visual state of every agent (bit k = sensor k)."""
        ...


@runtime_checkable
class SteeringHook(Protocol):
    """Callbacks of :class:`~swarm_gym.model.FSMSwarm` to an object that steers some agents."""

    def reset(self, swarm: SwarmView) -> None:
        """Called after every reset of the swarm (new initial state, ``t = 0``)."""
        ...

    def adjust(
        self,
        swarm: SwarmView,
        counts: np.ndarray,
        scores: np.ndarray,
        action: np.ndarray,
        uniforms: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return the (N,) moves to take, given the FSM's (N, 5) ``counts`` and ``scores``, its
        choice ``action`` and the step's (N,) tie uniforms (do not modify the inputs)."""
        ...

    def after_step(self, swarm: SwarmView) -> None:
        """Called after every step, with the new state."""
        ...
