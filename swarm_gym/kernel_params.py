"""The parameters of the tree-search kernel, as one typed record.

:func:`swarm_gym.kernels.branch_scores_against` takes a :class:`KernelParams` and reads its fields by name
(numba passes a ``NamedTuple`` as a plain struct, so this costs nothing per call).
:func:`kernel_params` is the one place that builds it from a :class:`~swarm_gym.config.SwarmConfig`;
it casts every field to the type the compiled kernel expects (float64, int64, bool, (5,) float64),
so a config holding, say, ``radius=1`` (an int) still runs the same machine code.

Option codes (see :mod:`swarm_gym.config`): ``halfwidth`` 0 = atan, 1 = asin; ``swept`` 0 =
slope-intercept (reference), 1 = robust; ``count_mode`` 0 = all depths, 1 = leaf only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from swarm_gym.config import COUNT_CODE, HALFWIDTH_CODE, SWEPT_CODE, SwarmConfig, max_branch_nodes


class KernelParams(NamedTuple):
    """Everything the tree search needs besides the state.

    Attributes:
        radius: agent radius R.
        dt: time step.
        threshold: sensor threshold (a sensor is on iff its fill is > threshold).
        cull2: squared end distance beyond which no swept collision is possible (an exact shortcut
            of the collision loop: 2R plus the largest relative displacement in one step, padded).
        v0: nominal speed, the speed of the others' ballistic model.
        tau: look-ahead depth.
        halfwidth: half-width code (0 atan, 1 asin).
        swept: swept-test code (0 slope-intercept, 1 robust).
        count_mode: 0 counts depths 1..tau, 1 depth tau only.
        continuous: score branches by W (continuous model) instead of distinct states.
        early_exit: the reference collision-test early exit for overlapping start positions.
        n_sensors: number of sensors.
        table_size: size of the per-branch hash set of visual states (a power of 2).
        collect_leaf: also return the depth-tau keys of every branch (for reachable counts).
        speeds: (5,) float64 speed of each move (right, left, slow, keep, fast).
        turns: (5,) float64 heading change of each move.
    """

    radius: float
    dt: float
    threshold: float
    cull2: float
    v0: float
    tau: int
    halfwidth: int
    swept: int
    count_mode: int
    continuous: bool
    early_exit: bool
    n_sensors: int
    table_size: int
    collect_leaf: bool
    speeds: np.ndarray
    turns: np.ndarray


def kernel_params(
    cfg: SwarmConfig, collect_leaf: bool = False, others_speed: float | None = None
) -> KernelParams:
    """Build the kernel record of ``cfg``; ``collect_leaf`` asks for the depth-tau keys;
    ``others_speed`` is the others' largest speed when they do not fly at v0 (closure)."""
    if others_speed is None:  # the others fly straight at v0
        max_rel = (2.0 * cfg.v0 + cfg.dv) * cfg.dt  # largest relative displacement in one step
    else:
        max_rel = (cfg.v0 + cfg.dv + others_speed) * cfg.dt
    cull = (2.0 * cfg.radius + max_rel) * (1.0 + 1e-9) + 1e-9
    table_size = 1 << max(4, math.ceil(math.log2(2 * max_branch_nodes(cfg.horizon) + 1)))
    return KernelParams(
        radius=float(cfg.radius),
        dt=float(cfg.dt),
        threshold=float(cfg.sensor_threshold),
        cull2=float(cull * cull),
        v0=float(cfg.v0),
        tau=int(cfg.horizon),
        halfwidth=int(HALFWIDTH_CODE[cfg.halfwidth]),
        swept=int(SWEPT_CODE[cfg.swept_test]),
        count_mode=int(COUNT_CODE[cfg.count_depths]),
        continuous=cfg.model == "continuous",
        early_exit=bool(cfg.early_exit),
        n_sensors=int(cfg.n_sensors),
        table_size=int(table_size),
        collect_leaf=bool(collect_leaf),
        speeds=np.array(cfg.speeds, dtype=np.float64),
        turns=np.array(cfg.turns, dtype=np.float64),
    )
