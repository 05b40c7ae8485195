"""Inputs that used to give a silently wrong answer, now refused with a message naming them."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from baselines.common.trajectory import TrajectoryFileError, load_trajectory, save_trajectory

bad_input = pytest.mark.bad_input


@pytest.fixture(scope="module")
def sparse_env():
    env = gym.make("EggHandOverSparse-v0").unwrapped
    env.reset(seed=0)
    return env


@bad_input
@pytest.mark.parametrize("which", ["achieved_goal", "desired_goal"])
def test_a_nan_goal_is_refused_not_scored_as_a_failure(sparse_env, which) -> None:
    goals = {"achieved_goal": np.zeros(7), "desired_goal": np.zeros(7)}
    goals[which] = np.full(7, np.nan)  # used to give the sparse reward -1, a plain failure
    with pytest.raises(ValueError, match=f"{which} must be finite"):
        sparse_env.compute_reward(goals["achieved_goal"], goals["desired_goal"], None)


@bad_input
def test_goal_batches_that_do_not_broadcast_are_named(sparse_env) -> None:
    with pytest.raises(ValueError, match=r"achieved_goal and desired_goal must have broadcastable batch shapes, got \(3, 7\) and \(2, 7\)"):  # fmt: skip
        sparse_env.compute_reward(np.zeros((3, 7)), np.zeros((2, 7)), None)
    assert sparse_env.compute_reward(np.zeros((3, 7)), np.zeros((1, 7)), None).shape == (3,)


@bad_input
def test_a_float32_copy_of_a_state_is_named_as_such(sparse_env) -> None:
    with pytest.raises(ValueError, match="state must be float64, as get_state\\(\\) returns it; got a float32 copy"):  # fmt: skip
        sparse_env.set_state(sparse_env.get_state().astype(np.float32))


@bad_input
def test_keep_step_count_follows_gym_makes_max_episode_steps() -> None:
    env = gym.make("EggHandOver-v0", max_episode_steps=10)
    env.reset(seed=0)
    for _ in range(6):
        env.step(np.zeros(40))
    replay = gym.make("EggHandOver-v0", max_episode_steps=10)
    replay.reset(options={"state": env.unwrapped.get_state(), "keep_step_count": True})
    truncations = [replay.step(np.zeros(40))[3] for _ in range(4)]
    assert truncations == [False, False, False, True]  # steps 7-10 of a 10-step episode


def _egg_trajectory(path: Path, success: float = 1.0) -> Path:
    env = gym.make("EggHandOver-v0").unwrapped
    env.reset(seed=0)
    states = [env.get_state()]
    env.step(np.zeros(40))
    states.append(env.get_state())
    arrays = {"start_state": states[0], "actions": np.zeros((1, 40)), "rewards": np.zeros(1),
              "success": np.array([success]), "states": np.array(states)}  # fmt: skip
    meta = {"env_id": "EggHandOver-v0", "goal": [], "seed": 0, "config": {}, "planner": "topdm"}
    return save_trajectory(path, arrays, meta)


@bad_input
def test_a_sidecar_of_another_env_or_success_labels_not_0_1_are_refused(tmp_path: Path) -> None:
    path = _egg_trajectory(tmp_path / "egg.npz")
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "env_id": "PenSpin-v0"}))
    with pytest.raises(
        TrajectoryFileError,
        match=r"its states have 628 entries, but the sidecar's env PenSpin-v0 has states of 349",
    ):
        load_trajectory(path)
    with pytest.raises(TrajectoryFileError, match="success must hold 0, 1"):
        _egg_trajectory(tmp_path / "half.npz", success=0.5)
