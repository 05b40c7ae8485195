"""Model selection by flight (baselines.swarm_heuristic.flight, train --select-by flight)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines.swarm_heuristic.flight import flight_score, fly
from swarm_gym import FSMSwarm
from swarm_gym.heuristic import HeuristicPolicy
from swarm_gym.metrics import largest_cluster, order_parameter


def test_fly_averages_order_and_cluster_over_the_last_half_of_a_greedy_all_agent_flight() -> None:
    policy = HeuristicPolicy.load(greedy=False)  # fly() makes it greedy
    got = fly(policy, seed=5, steps=6, n_agents=12)
    swarm = FSMSwarm(12, 4, seed=5, policy=HeuristicPolicy.load(), heuristic_agents=1.0)
    traj = swarm.run(6)
    last = range(4, 7)  # states after steps 4, 5, 6
    assert got["order"] == pytest.approx(
        np.mean([order_parameter(traj["headings"][t]) for t in last])
    )
    assert got["cluster"] == pytest.approx(
        np.mean([len(largest_cluster(traj["positions"][t], 30.0)) / 12 for t in last]))  # fmt: skip
    score = flight_score(policy, seeds=(5, 6), steps=6)
    assert score["flight"] == min(score["order"], score["cluster"])
    assert [r["seed"] for r in score["per_seed"]] == [5, 6]
    assert score["order"] == pytest.approx(np.mean([r["order"] for r in score["per_seed"]]))
    with pytest.raises(ValueError, match="at least one validation seed"):
        flight_score(policy, seeds=())
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        fly(policy, seed=0, steps=0)


def test_train_selects_the_flown_candidate_with_the_best_flight(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from baselines.swarm_heuristic import record, train

    data = tmp_path / "data"
    assert record.main(["--preset", "smoke", "--out", str(data), "--runs", "3"]) == 0
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--test-runs", "1", "--epochs", "3",
            "--hidden", "8", "--select-by", "flight", "--flight-every", "2", "--flight-steps",
            "4", "--flight-seeds", "900,901"]  # fmt: skip
    assert train.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    flown = summary["flight_candidates"]
    assert [c["epoch"] for c in flown] == [2, 3]  # every 2nd epoch and the last
    best = max(flown, key=lambda c: c["flight"])
    assert summary["chosen"]["best_epoch"] == best["epoch"]
    assert summary["chosen"]["flight"] == best["flight"] == min(best["order"], best["cluster"])
    assert summary["select_by"] == "flight"
    # the shipped file is the chosen candidate: flying it again gives its score
    again = flight_score(HeuristicPolicy.load(out / "weights.npz"), (900, 901), 4)
    assert again["flight"] == pytest.approx(best["flight"])
