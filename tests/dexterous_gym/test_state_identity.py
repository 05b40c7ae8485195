"""A state vector identifies its model: ``get_state()`` ends with the model tag of the env's scene.

States of another object of the same family (same layout, same goal boxes) are refused by every
entry point; dense and sparse variants share their scene; tags are stable numbers; a state without
its tag is refused everywhere, trajectory files too; the shipped demonstrations hold tagged states.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from baselines.common.trajectory import TrajectoryFileError, load_trajectory, save_trajectory
from dexterous_gym.rollout import BatchedRollout
from dexterous_gym.scenes import SCENES, scene_of_tag

PAIRS = [
    ("EggHandOver-v0", "BlockHandOver-v0"),
    ("EggCatchUnderarm-v0", "PenCatchUnderarm-v0"),
    ("TwoEggCatchUnderArm-v0", "TwoBlockCatchUnderArm-v0"),
]
SHIPPED = Path(__file__).resolve().parents[2] / "baselines" / "td3_demos" / "demos" / "PenSpin-v0"


def _state_after(env_id: str, steps: int = 2, seed: int = 0) -> np.ndarray:
    env = gym.make(env_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(rng.uniform(-1, 1, env.action_space.shape))
    state = env.unwrapped.get_state()
    env.close()
    return state


@pytest.mark.parametrize(("env_id", "other_id"), PAIRS)
def test_a_state_of_another_object_is_refused_everywhere(env_id: str, other_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=3)
    u = env.unwrapped
    foreign = _state_after(other_id)
    assert foreign.shape == (u.state_size,)  # same layout: only the tag tells them apart
    mine, theirs = u.state_layout.scene, gym.make(other_id).unwrapped.state_layout.scene
    message = f"a state of the {theirs} scene, not of {env_id}'s {mine} scene"
    before = u.get_state()
    with pytest.raises(ValueError, match=message):
        u.set_state(foreign)
    np.testing.assert_array_equal(u.get_state(), before)
    with pytest.raises(ValueError, match=r"options\['state'\] is " + message):
        env.reset(options={"state": foreign})
    np.testing.assert_array_equal(u.get_state(), before)
    with pytest.raises(ValueError, match="state is " + message):
        u.check_state(foreign)
    with pytest.raises(ValueError, match=r"states\[1\] is " + message):
        u.check_state_batch(np.stack([before, foreign]))
    actions = np.zeros((2, 1, u.sim.n_actions))
    rollout = BatchedRollout(env, n_threads=1)
    with rollout, pytest.raises(ValueError, match=r"states\[1\] is " + message):
        rollout.rollout(np.stack([before, foreign]), actions)
    np.testing.assert_array_equal(u.get_state(), before)
    env.close()


@pytest.mark.parametrize(
    ("dense", "sparse"),
    [
        ("EggHandOver-v0", "EggHandOverSparse-v0"),
        ("PenCatchUnderarm-v0", "PenCatchUnderarmSparse-v0"),
    ],
)
def test_a_dense_state_is_accepted_by_its_sparse_twin(dense: str, sparse: str) -> None:
    state = _state_after(dense)
    env = gym.make(sparse).unwrapped
    env.set_state(state)
    np.testing.assert_array_equal(env.get_state(), state)
    env.close()


def test_pen_spin_and_pen_reorientation_states_are_told_apart() -> None:
    spin = gym.make("PenSpin-v0").unwrapped
    reorientation = gym.make("PenReorientation-v0").unwrapped
    assert spin.state_layout.model_tag != reorientation.state_layout.model_tag
    parts = reorientation.state_layout.split(_state_after("PenReorientation-v0"))
    assert parts.physics.shape == (spin.state_layout.physics_size,)
    # the same physics layout, the goal dropped, the tag kept: refused as PenReorientation's
    forged = np.concatenate([parts.physics, [parts.step_count, parts.model_tag]])
    with pytest.raises(ValueError, match="a state of the one_hand/PenReorientation scene"):
        spin.check_state(forged)


def test_model_tags_are_stable_numbers() -> None:
    # exact values: a change of the naming scheme would make every saved state foreign
    egg = gym.make("EggHandOver-v0").unwrapped
    spin = gym.make("PenSpin-v0").unwrapped
    assert egg.state_layout.scene == "two_hands/HandOver/egg"
    assert egg.state_layout.model_tag == 1158645432
    assert egg.state_layout.model_tag == zlib.crc32(b"two_hands/HandOver/egg") & 0x7FFFFFFF
    assert spin.state_layout.model_tag == 1303958078
    assert egg.get_state()[-1] == 1158645432.0 and spin.get_state()[-1] == 1303958078.0
    assert len({scene_of_tag(zlib.crc32(s.encode()) & 0x7FFFFFFF) for s in SCENES}) == len(SCENES)
    assert scene_of_tag(12345.0) is None


def test_a_state_without_its_model_tag_is_refused_everywhere() -> None:
    env = gym.make("EggHandOver-v0")
    u = env.unwrapped
    untagged = _state_after("EggHandOver-v0")[:-1]
    before = u.get_state()
    for call in (lambda: u.set_state(untagged), lambda: env.reset(options={"state": untagged})):
        with pytest.raises(ValueError, match=f"flat array of {u.state_size} floats"):
            call()
        np.testing.assert_array_equal(u.get_state(), before)
    rollout = BatchedRollout(env, n_threads=1)
    with rollout, pytest.raises(ValueError, match=f"states must have shape \\({u.state_size},\\)"):
        rollout.rollout(untagged, np.zeros((1, 1, u.sim.n_actions)))
    with pytest.raises(ValueError, match="last dimension"):
        u.state_layout.split(np.stack([untagged, untagged]))
    env.close()


def test_a_trajectory_file_without_model_tags_is_refused(tmp_path: Path) -> None:
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=1)
    u = env.unwrapped
    states, actions, rewards, success = [u.get_state()], [], [], []
    for _ in range(3):
        action = np.full(u.sim.n_actions, 0.1)
        _, reward, _, _, info = env.step(action)
        states.append(u.get_state())
        actions.append(action)
        rewards.append(reward)
        success.append(info["is_success"])
    arrays = {
        "start_state": states[0],
        "actions": np.array(actions),
        "rewards": np.array(rewards),
        "success": np.array(success),
        "states": np.array(states),
    }
    meta = {"env_id": "EggCatchUnderarm-v0", "goal": [], "seed": 1, "config": {}, "planner": "test"}
    path = save_trajectory(tmp_path / "current.npz", arrays, meta)
    untagged = tmp_path / "untagged.npz"
    with np.load(path) as data:
        old = {k: data[k] for k in data.files}
    old["start_state"], old["states"] = old["start_state"][:-1], old["states"][:, :-1]
    np.savez(untagged, **old)
    untagged.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(TrajectoryFileError, match=f"states have {u.state_size - 1} entries"):
        load_trajectory(untagged)
    np.testing.assert_array_equal(load_trajectory(path).states, np.array(states))
    env.close()


def test_the_shipped_pen_spin_demos_load_and_their_states_are_accepted() -> None:
    from baselines.td3_demos.demos import demo_states, load_demos

    env = gym.make("PenSpin-v0").unwrapped
    files = sorted(SHIPPED.glob("*.npz"))
    assert files
    with np.load(files[0]) as data:  # stored in the current layout: tagged states
        assert data["states"].shape[1] == env.state_size
        assert np.all(data["states"][:, -1] == env.state_layout.model_tag)
    assert json.loads(files[0].with_suffix(".json").read_text())["env_id"] == "PenSpin-v0"
    trajectories = load_demos(SHIPPED, "PenSpin-v0")
    pooled = demo_states(trajectories, "PenSpin-v0")
    assert pooled.states.shape[1] == env.state_size
    for traj in trajectories:
        for state in traj.states[:: max(1, len(traj.states) // 5)]:
            env.set_state(state)
            np.testing.assert_array_equal(env.get_state(), state)
    env.close()
