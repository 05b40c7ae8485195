"""The DAgger driver of the FSM heuristic (baselines.swarm_heuristic.dagger)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines.swarm_heuristic import dagger
from baselines.swarm_heuristic.dataset import load_run, run_indices, run_path
from swarm_gym import FSMSwarm

pytest.importorskip("torch")

ARGS = ["--preset", "smoke", "--runs", "3", "--test-runs", "1", "--epochs", "2", "--hidden", "8",
        "--flight-every", "1", "--flight-steps", "3", "--flight-seeds", "900"]  # fmt: skip


def test_dagger_smoke_flies_the_previous_net_and_resumes_by_round(tmp_path: Path) -> None:
    out = tmp_path / "dagger"
    lines: list[str] = []
    cfg = dagger.parse_config(dagger.DaggerConfig, [*ARGS, "--out", str(out), "--rounds", "1"],
                              dagger.PROG)  # fmt: skip
    summary = dagger.dagger(cfg, log=lines.append)
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert any(line.startswith("round 1: flight") for line in lines)
    # round 1 was flown greedily by round 0's net on every agent, labelled by the FSM
    r1 = out / "round_01" / "data"
    conf = json.loads((r1 / "config.json").read_text())
    assert conf["weights"] == str(out / "round_00" / "train" / "weights.npz")
    assert conf["fraction"] == 1.0 and "sample" not in conf and run_indices(r1) == [0, 1, 2]
    run = load_run(run_path(r1, 0))
    flown = FSMSwarm(8, 2, seed=conf["seed"], policy="heuristic", heuristic_agents=1.0,
                     weights=out / "round_00" / "train" / "weights.npz")  # fmt: skip
    assert np.array_equal(run["moved"], flown.run(10)["actions"])
    # round 1 trains on round 0's training runs plus all of round 1's
    s0 = json.loads((out / "round_00" / "train" / "summary.json").read_text())
    s1 = json.loads((out / "round_01" / "train" / "summary.json").read_text())
    assert s1["samples"]["train"] == s0["samples"]["train"] + 3 * 10 * 8
    assert s1["select_by"] == "flight" and s1["flight_candidates"]
    # resume: a killed round 2 (partial data, partial training) completes; rounds 0-1 are kept
    weights0 = (out / "round_00" / "train" / "weights.npz").read_bytes()
    cfg2 = dagger.parse_config(dagger.DaggerConfig, [*ARGS, "--out", str(out), "--rounds", "2",
                                                     "--resume"], dagger.PROG)  # fmt: skip
    (out / "round_02" / "train.partial").mkdir(parents=True)
    (out / "round_02" / "train.partial" / "config.json").write_text("{}")
    summary2 = dagger.dagger(cfg2, log=lambda _: None)
    assert [r["round"] for r in summary2["rounds"]] == [0, 1, 2]
    assert (out / "round_00" / "train" / "weights.npz").read_bytes() == weights0
    assert not (out / "round_02" / "train.partial").exists()
    assert summary2["rounds"][:2] == json.loads(json.dumps(summary["rounds"]))  # kept as they were
    # a new run may not reuse the folder
    assert dagger.main([*ARGS, "--out", str(out)]) == 2
