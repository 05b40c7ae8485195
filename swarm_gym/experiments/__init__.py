"""The FSM swarm's experiments: reproduce the paper's flock, steer it, sweep steering settings.

    python -m swarm_gym.experiments reproduce --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments steer --preset paper --out docs/results/swarm
    python -m swarm_gym.experiments sweep --variants V.json --seeds 0 1 2 --jobs 16 --out S.json

Modules: :mod:`~swarm_gym.experiments.presets` (the presets, typed data),
:mod:`~swarm_gym.experiments.runners` (the runs and what they write),
:mod:`~swarm_gym.experiments.figures` (plots and GIF frames) and
:mod:`~swarm_gym.experiments.cli` (the command line). The names below are re-exported here.
"""

from __future__ import annotations

from swarm_gym.experiments.cli import main
from swarm_gym.experiments.presets import (
    PRESETS,
    REPRODUCE_PRESETS,
    STEER_PRESETS,
    PathSpec,
    ReproducePreset,
    SteerPreset,
)
from swarm_gym.experiments.runners import reproduce, steer, steer_path, steer_turn, sweep

__all__ = [
    "PRESETS",
    "REPRODUCE_PRESETS",
    "STEER_PRESETS",
    "PathSpec",
    "ReproducePreset",
    "SteerPreset",
    "main",
    "reproduce",
    "steer",
    "steer_path",
    "steer_turn",
    "sweep",
]
