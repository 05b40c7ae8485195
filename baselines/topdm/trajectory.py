"""Moved to :mod:`baselines.common.trajectory` (TD3+demos and dataset export read it too)."""

from baselines.common.trajectory import (
    ARRAY_KEYS,
    FORMAT_VERSION,
    META_KEYS,
    Trajectory,
    TrajectoryFileError,
    load_trajectory,
    save_trajectory,
)

__all__ = [
    "ARRAY_KEYS",
    "FORMAT_VERSION",
    "META_KEYS",
    "Trajectory",
    "TrajectoryFileError",
    "load_trajectory",
    "save_trajectory",
]
