"""How a heuristic flies: the closed-loop score that chooses models (``train --select-by flight``).

Agreement with the FSM on recorded decisions does not predict flight (issue 29: a network that
agrees on 0.389 of held-out decisions flies, one at 0.375 fragments), so a candidate network is
judged by flying it: the greedy heuristic moves every agent of a reference swarm (N = 50, tau = 4,
the swarm the heuristic of Charlesworth & Turner, PNAS 2019, was trained on) for ``steps`` steps
from each validation seed. Over the last half of the steps (the first half lets the flock form)
it averages the order parameter and the largest cluster as a fraction of the agents
(:mod:`swarm_gym.metrics`, clusters linked at 30 radii as in ``FSMSwarm.metrics``). The score is
the smaller of the two: a flock must be both aligned and in one piece, and a high order parameter
of scattered fragments or one cluster milling in place scores low.

The validation seeds (:data:`FLIGHT_SEEDS`) are apart from the evaluation's test seeds 0, 1, 2
(:mod:`baselines.swarm_heuristic.evaluate`) and the recordings' seeds (100 onwards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from swarm_gym import FSMSwarm
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.metrics import largest_cluster, order_parameter

#: Validation seeds of the flight score (not the evaluation's test seeds 0, 1, 2).
FLIGHT_SEEDS: tuple[int, ...] = (900, 901)
#: Steps of one flight (the issue's 1 000).
FLIGHT_STEPS = 1000
#: Cluster link distance in radii (as ``FSMSwarm.metrics``).
CLUSTER_LINK = 30.0


def fly(policy: HeuristicPolicy, seed: int, steps: int = FLIGHT_STEPS, n_agents: int = 50,
        horizon: int = 4, model: str = "discrete") -> dict[str, float]:  # fmt: skip
    """Fly the greedy ``policy`` on every agent from ``seed``; the means over the last half of the
    steps (steps ``steps - steps // 2 + 1`` .. ``steps``, at least the last) of the order
    parameter (``order``) and the largest cluster's fraction of the agents (``cluster``)."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    greedy = HeuristicPolicy(policy.weights, policy.biases, policy.n_sensors, policy.meta, True)
    swarm = FSMSwarm(n_agents, horizon, seed=seed, model=model, policy=greedy,
                     heuristic_agents=1.0)  # fmt: skip
    first = steps - max(steps // 2, 1)
    order, cluster = [], []
    for t in range(steps):
        swarm.step()
        if t >= first:
            order.append(order_parameter(swarm.headings))
            cluster.append(len(largest_cluster(swarm.positions, CLUSTER_LINK)) / n_agents)
    return {"order": float(np.mean(order)), "cluster": float(np.mean(cluster))}


def flight_score(policy: HeuristicPolicy, seeds: Sequence[int] = FLIGHT_SEEDS,
                 steps: int = FLIGHT_STEPS, model: str = "discrete") -> dict[str, Any]:  # fmt: skip
    """:func:`fly` from every seed: ``order`` and ``cluster`` (means over the seeds), ``flight``
    = min(order, cluster) (the selection score), and ``per_seed`` (each seed's pair)."""
    if not seeds:
        raise ValueError("seeds must name at least one validation seed, got none")
    per_seed = [{"seed": int(s), **fly(policy, int(s), steps, model=model)} for s in seeds]
    order = float(np.mean([r["order"] for r in per_seed]))
    cluster = float(np.mean([r["cluster"] for r in per_seed]))
    return {"order": order, "cluster": cluster, "flight": min(order, cluster),
            "per_seed": per_seed}  # fmt: skip
