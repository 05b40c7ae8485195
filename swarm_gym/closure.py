"""Closure: the tree search models the others with the learned heuristic instead of straight flight.

In the reference FSM model an agent imagines the others flying straight on at v0 while it
searches its own future moves. Turner's follow-up idea (Charlesworth & Turner, PNAS 2019,
discussion; Turner's talk) is closure: "iterative application of these heuristics as the model
for the behaviour of others, when determining the dynamics of self". With
``FSMSwarm(..., others="heuristic")`` every step first rolls the whole swarm ``tau`` steps forward
with the heuristic's most probable moves (no noise), and every agent's search then meets the
others at those predicted positions. The prediction is shared by all agents: it does not react to
the searching agent's own imagined moves (that would cost a rollout per node).
"""

from __future__ import annotations

import numpy as np

from swarm_gym.config import SwarmConfig
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.kernel_params import HALFWIDTH_CODE
from swarm_gym.kernels import visual_states

OTHERS_MODELS = ("straight", "heuristic")


def predicted_table(
    cfg: SwarmConfig,
    policy: HeuristicPolicy,
    positions: np.ndarray,
    headings: np.ndarray,
    prev_keys: np.ndarray,
    keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The others' positions at depths 0..tau under the heuristic, in the layout of
    :func:`swarm_gym.kernels.ballistic_table`: ``(qx, qy, bx, by)``, each (tau + 1, N), where
    ``bx[k]``, ``by[k]`` is the displacement of the step into depth k (row 0: straight at v0).

    Each predicted step takes every agent's most probable move from its [previous, current]
    visual states, moves it as :meth:`swarm_gym.model.FSMSwarm.step` does without noise, and
    recomputes the visual states.
    """
    tau, n = cfg.horizon, cfg.n_agents
    speeds, turns = np.asarray(cfg.speeds), np.asarray(cfg.turns)
    pos = np.array(positions, dtype=np.float64)
    th = np.array(headings, dtype=np.float64)
    qx, qy = np.empty((tau + 1, n)), np.empty((tau + 1, n))
    bx, by = np.empty((tau + 1, n)), np.empty((tau + 1, n))
    qx[0], qy[0] = pos[:, 0], pos[:, 1]
    bx[0], by[0] = cfg.v0 * cfg.dt * np.cos(th), cfg.v0 * cfg.dt * np.sin(th)
    prev, cur = np.asarray(prev_keys, np.int64), np.asarray(keys, np.int64)
    halfwidth = int(HALFWIDTH_CODE[cfg.halfwidth])
    for k in range(1, tau + 1):
        moves = np.argmax(policy.logits_from_keys(prev, cur), axis=1)
        th = th + turns[moves]
        step = speeds[moves] * cfg.dt
        bx[k], by[k] = step * np.cos(th), step * np.sin(th)
        qx[k], qy[k] = qx[k - 1] + bx[k], qy[k - 1] + by[k]
        pos = np.stack([qx[k], qy[k]], axis=1)
        if k < tau:
            keys, _ = visual_states(pos, th, float(cfg.radius), halfwidth,
                                    int(cfg.n_sensors), float(cfg.sensor_threshold))  # fmt: skip
            prev, cur = cur, keys
    return qx, qy, bx, by
