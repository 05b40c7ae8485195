"""Closure: the tree search meets the others where the heuristic predicts them (``others=``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from swarm_gym import FSMSwarm
from swarm_gym.closure import predicted_table
from swarm_gym.config import SwarmConfig
from swarm_gym.decision import MOVES
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.kernels import ballistic_table


def constant_policy(move: str) -> HeuristicPolicy:
    """A heuristic that always picks ``move`` (zero weights, one large output bias)."""
    weights = [np.zeros((80, 4)), np.zeros((4, 5))]
    biases = [np.zeros(4), np.where(np.arange(5) == MOVES.index(move), 5.0, 0.0)]
    return HeuristicPolicy(weights, biases, 40)


def save(policy: HeuristicPolicy, path: Path) -> Path:
    arrays: dict[str, Any] = policy.to_arrays()
    np.savez(path, **arrays)
    return path


def test_a_heuristic_that_keeps_course_predicts_the_straight_flight() -> None:
    cfg = SwarmConfig.create(n_agents=6, horizon=3)
    rng = np.random.default_rng(0)
    pos, th = rng.uniform(0, 30, (6, 2)), rng.normal(0, 0.3, 6)
    keys = np.zeros(6, dtype=np.int64)
    straight = ballistic_table(pos, th, 3, cfg.v0, cfg.dt)
    predicted = predicted_table(cfg, constant_policy("keep"), pos, th, keys, keys)
    for a, b in zip(straight, predicted, strict=True):
        np.testing.assert_array_equal(a, b)
    # a heuristic that always turns right: every predicted step turns by the right turn
    right = predicted_table(cfg, constant_policy("right"), pos, th, keys, keys)
    turn = cfg.turns[MOVES.index("right")]
    np.testing.assert_allclose(right[2][1], cfg.v0 * cfg.dt * np.cos(th + turn))
    np.testing.assert_allclose(right[2][3], cfg.v0 * cfg.dt * np.cos(th + 3 * turn))


def test_closure_with_a_straight_heuristic_is_the_reference_model(tmp_path: Path) -> None:
    weights = save(constant_policy("keep"), tmp_path / "keep.npz")
    ref = FSMSwarm(12, 3, seed=3).run(8)
    closed = FSMSwarm(12, 3, seed=3, others="heuristic", weights=weights)
    assert closed.others_model == "heuristic" and closed.policy == "fsm"
    out = closed.run(8)
    for key in ref:
        np.testing.assert_array_equal(ref[key], out[key], err_msg=key)


def test_closure_changes_the_search_and_is_deterministic(tmp_path: Path) -> None:
    weights = save(constant_policy("right"), tmp_path / "right.npz")
    ref = FSMSwarm(12, 3, seed=3).run(8)
    a = FSMSwarm(12, 3, seed=3, others="heuristic", weights=weights).run(8)
    b = FSMSwarm(12, 3, seed=3, others="heuristic", weights=weights).run(8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(ref["positions"], a["positions"])


def test_others_option_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="others must be one of"):
        FSMSwarm(10, 2, seed=0, others="ballistic")
    with pytest.raises(ValueError, match=r"not-there\.npz"):
        FSMSwarm(10, 2, seed=0, others="heuristic", weights=tmp_path / "not-there.npz")
