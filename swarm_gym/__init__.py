"""FSM swarm: Future State Maximisation collective motion (Charlesworth & Turner, PNAS 2019).

``import swarm_gym`` registers the Gymnasium environments ``FSMSwarm-v0`` and ``FSMFocal-v0``;
``gym.make("swarm_gym:FSMSwarm-v0")`` works without the import. The simulator
:class:`FSMSwarm` needs no Gymnasium. The PettingZoo wrapper (optional dependency) is
:func:`parallel_env`.

Public API: :class:`SwarmConfig` (parameters), :class:`FSMSwarm` (the simulator) and its read-only
:class:`SwarmView`, :class:`DecisionRule` (how the agents choose their moves), :class:`Decision`
and :data:`MOVES`, :class:`SteeringConfig` (frozen steering settings) and :class:`Steering` (a
run's informed agents), :class:`SteeringHook` (what the simulator calls on its ``steering``), the
environments (:mod:`swarm_gym.envs`), and the experiments
(:mod:`swarm_gym.experiments`, ``python -m swarm_gym.experiments``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from swarm_gym.config import SwarmConfig
from swarm_gym.decision import MOVES, Decision, DecisionRule
from swarm_gym.model import FSMSwarm
from swarm_gym.steering import Steering, SteeringConfig
from swarm_gym.view import SteeringHook, SwarmView

if TYPE_CHECKING:
    from swarm_gym.pettingzoo_env import FSMSwarmParallelEnv

try:  # one version for the three packages: the distribution's (pyproject.toml)
    __version__ = version("dexterous-gym")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ENV_SPECS",
    "MOVES",
    "Decision",
    "DecisionRule",
    "FSMSwarm",
    "Steering",
    "SteeringConfig",
    "SteeringHook",
    "SwarmConfig",
    "SwarmView",
    "__version__",
    "parallel_env",
    "register_envs",
]

#: The registered environments, as data.
ENV_SPECS: tuple[dict[str, Any], ...] = (
    {"id": "FSMSwarm-v0", "entry_point": "swarm_gym.envs:FSMSwarmEnv", "max_episode_steps": 1000},
    {"id": "FSMFocal-v0", "entry_point": "swarm_gym.envs:FSMFocalEnv", "max_episode_steps": 1000},
)


def register_envs() -> None:
    """Register every entry of :data:`ENV_SPECS` with Gymnasium (idempotent)."""
    for spec in ENV_SPECS:
        if spec["id"] not in gym.registry:
            gym.register(**spec)


def parallel_env(**kwargs: Any) -> FSMSwarmParallelEnv:
    """The PettingZoo ``ParallelEnv`` view of :class:`swarm_gym.envs.FSMSwarmEnv` (needs the
    ``pettingzoo`` extra)."""
    from swarm_gym.pettingzoo_env import FSMSwarmParallelEnv  # imports the optional pettingzoo

    return FSMSwarmParallelEnv(**kwargs)


register_envs()
