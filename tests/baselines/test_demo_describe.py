"""``describe_demos``: what a demonstration does under the env's reward, and where the pen falls."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401  (registers the envs)
from baselines.common.trajectory import load_trajectory
from baselines.td3_demos.demos import PEN_DROP_HEIGHT, describe_demos, main, summaries_table

ENV = "PenSpin-v0"


def test_pen_lost_step_agrees_with_the_env_stepping_the_same_actions(tmp_path: Path, random_demos) -> None:  # fmt: skip
    folder = random_demos(tmp_path, ENV, 2, 40)
    summaries = describe_demos(folder, ENV)
    assert [s.name for s in summaries] == ["demo_0.npz", "demo_1.npz"]
    env = gym.make(ENV).unwrapped
    for summary in summaries:
        traj = load_trajectory(folder / summary.name)
        env.reset(seed=0)
        env.set_state(traj.states[0])
        lowest_ends = []
        for action in traj.actions:
            info = env.step(action)[4]
            lowest_ends.append(min(info["z_bottom"], info["z_top"]))
        below = [t + 1 for t, z in enumerate(lowest_ends) if z < PEN_DROP_HEIGHT]
        assert summary.steps == 40
        assert summary.total_return == pytest.approx(traj.rewards.sum())
        assert summary.pen_lost_at == (below[0] if below else None)
        assert summary.lowest_end_z == pytest.approx(min(lowest_ends), abs=1e-9)
    # random actions drop the pen within 40 steps: the test sees a real loss, not only "never"
    assert any(s.pen_lost_at is not None for s in summaries)


def test_envs_without_pen_ends_report_no_pen_columns(tmp_path: Path, random_demos) -> None:
    folder = random_demos(tmp_path, "EggHandOver-v0", 1, 3, success=0.0)
    (summary,) = describe_demos(folder, "EggHandOver-v0")
    assert summary.lowest_end_z is None and summary.pen_lost_at is None
    assert "| n/a | n/a |" in summaries_table([summary])


def test_cli_describes_without_packing_and_needs_out_or_describe(tmp_path: Path, random_demos, capsys) -> None:  # fmt: skip
    folder = random_demos(tmp_path / "demos", ENV, 1, 5)
    assert main([str(folder), "--env", ENV, "--describe"]) == 0
    table = capsys.readouterr().out
    assert "| demo_0.npz | 5 |" in table and "**mean of 1**" in table
    assert sorted(p.name for p in folder.iterdir()) == ["demo_0.json", "demo_0.npz"]
    with pytest.raises(SystemExit) as exc:
        main([str(folder), "--env", ENV])
    assert exc.value.code == 2 and "give --out DIR" in capsys.readouterr().err
    assert np.isfinite(describe_demos(folder / "demo_0.npz", ENV)[0].total_return)
