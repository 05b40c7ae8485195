"""One reward path: ``step``, ``compute_reward`` and ``BatchedRollout`` all read the env's
``evaluate``; ``info`` carries the reward's named terms; ``StateLayout`` splits state vectors."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from dexterous_gym.envs import DexterousMujocoEnv, Evaluation, PenSpinEnv, PoseGoalEnv, TwoHandsEnv
from dexterous_gym.rollout import BatchedRollout
from dexterous_gym.simulation import StateLayout

ONE_OBJECT, TWO_OBJECTS, PEN_SPIN = "EggCatchUnderarm-v0", "TwoBlockCatchUnderArm-v0", "PenSpin-v0"
SPARSE = "BlockHandOverSparse-v0"
PEN_REORIENTATION = "PenReorientation-v0"


def _stepped(env_id: str, n_steps: int = 3) -> DexterousMujocoEnv:
    env = gym.make(env_id).unwrapped
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        env.step(rng.uniform(-1, 1, env.sim.n_actions))
    return env


@pytest.mark.parametrize("env_id", [ONE_OBJECT, TWO_OBJECTS, PEN_SPIN, SPARSE, PEN_REORIENTATION])
def test_step_reward_equals_compute_reward_and_the_rollout_reward(env_id: str) -> None:
    env = _stepped(env_id)
    state = env.get_state()
    action = np.random.default_rng(1).uniform(-1, 1, env.sim.n_actions)
    obs, reward, _, _, info = env.step(action)
    evaluation = env.evaluate(env.data.qpos, env.data.qvel, env.goal)
    assert reward == float(evaluation.reward)  # bitwise: step reads evaluate
    if isinstance(env, PoseGoalEnv):
        assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
    with BatchedRollout(env, n_threads=1) as batched:
        result = batched.rollout(state, action[None, None])
    rollout_reward = result.dense_rewards if env_id != SPARSE else result.sparse_rewards
    assert rollout_reward is not None
    # batched reductions may round differently from the single-vector call (see rollout.py)
    np.testing.assert_allclose(rollout_reward[0, 0], reward, rtol=0, atol=1e-12)
    for name, value in result.terms.items():
        np.testing.assert_allclose(value[0, 0], info[name], rtol=0, atol=1e-12)
    assert set(result.terms) == set(info) - {"is_success", "simulation_unstable"}
    env.close()


def test_compute_reward_and_rollouts_see_an_overridden_reward_function() -> None:
    """Subclasses change the reward in one place: ``evaluate_goals`` (goal envs) or
    ``evaluate``; step, compute_reward, compute_success and rollouts all follow."""

    class Doubled(TwoHandsEnv):
        def evaluate_goals(self, achieved_goal: np.ndarray, desired_goal: np.ndarray) -> Evaluation:
            e = super().evaluate_goals(achieved_goal, desired_goal)
            return dataclasses.replace(e, reward=2 * e.reward, dense_reward=2 * e.dense_reward)

    plain, doubled = TwoHandsEnv(task=ONE_OBJECT), Doubled(task=ONE_OBJECT)
    plain.reset(seed=0)
    doubled.reset(seed=0)
    zero = np.zeros(plain.sim.n_actions)
    obs, r_plain, *_ = plain.step(zero)
    _, r_doubled, *_ = doubled.step(zero)
    assert r_doubled == 2 * r_plain
    goals = obs["achieved_goal"], obs["desired_goal"]
    assert doubled.compute_reward(*goals, None) == 2 * plain.compute_reward(*goals, None)
    with BatchedRollout(plain, 1) as a, BatchedRollout(doubled, 1) as b:
        state, actions = plain.get_state(), np.zeros((1, 2, plain.sim.n_actions))
        np.testing.assert_array_equal(
            b.rollout(state, actions).dense_rewards, 2 * a.rollout(state, actions).dense_rewards
        )

    class Constant(PenSpinEnv):
        def evaluate(self, qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> Evaluation:
            one = np.ones(qpos.shape[:-1])
            return Evaluation(one, one, None, None, {})

    pen = Constant()
    pen.reset(seed=0)
    assert pen.step(np.zeros(20))[1] == 1.0
    with BatchedRollout(pen, 1) as c:
        np.testing.assert_array_equal(c.rollout(pen.get_state(), np.zeros((2, 3, 20))).rewards, 1)


def test_info_has_the_distances_of_the_reward_one_object() -> None:
    env = _stepped(ONE_OBJECT)
    obs, reward, *_, info = env.step(np.zeros(env.sim.n_actions))
    achieved, desired = obs["achieved_goal"], obs["desired_goal"]
    assert {"is_success", "d_pos", "d_rot", "simulation_unstable"} <= set(info)
    assert info["d_pos"] == pytest.approx(np.linalg.norm(achieved[:3] - desired[:3]), abs=1e-15)
    w = np.clip(np.dot(achieved[3:], desired[3:]), -1.0, 1.0)
    assert info["d_rot"] == pytest.approx(2 * np.arccos(w), abs=1e-12)
    expected = np.exp(-0.2 * (50.0 * info["d_pos"] + info["d_rot"]))
    assert reward == pytest.approx(expected, rel=1e-12)
    assert isinstance(info["d_pos"], float) and isinstance(info["d_rot"], float)
    env.close()


def test_info_has_the_distances_of_the_reward_per_object() -> None:
    env = _stepped(TWO_OBJECTS)
    obs, reward, *_, info = env.step(np.zeros(env.sim.n_actions))
    assert {"d_pos_1", "d_rot_1", "d_pos_2", "d_rot_2"} <= set(info) and "d_pos" not in info
    achieved, desired = obs["achieved_goal"], obs["desired_goal"]
    for k in (1, 2):
        pos = slice(7 * (k - 1), 7 * (k - 1) + 3)
        distance = np.linalg.norm(achieved[pos] - desired[pos])
        assert info[f"d_pos_{k}"] == pytest.approx(distance, abs=1e-15)
    expected = sum(np.exp(-0.2 * (50.0 * info[f"d_pos_{k}"] + info[f"d_rot_{k}"])) for k in (1, 2))
    assert reward == pytest.approx(expected, rel=1e-12)
    env.close()


def test_sparse_success_agrees_with_the_distances() -> None:
    env = _stepped(SPARSE)
    obs, _, *_, info = env.step(np.zeros(env.sim.n_actions))
    close = info["d_pos"] < env.distance_threshold and info["d_rot"] < env.rotation_threshold
    assert info["is_success"] == float(close)
    # a goal at the achieved pose: success, zero distances
    achieved = obs["achieved_goal"]
    evaluation = env.evaluate_goals(achieved, achieved)
    assert evaluation.success == 1.0 and evaluation.reward == 0.0
    assert evaluation.terms["d_pos"] == 0.0
    env.close()


def test_pen_spin_info_has_the_spin_and_tilt_terms() -> None:
    env = _stepped(PEN_SPIN)
    obs, reward, *_, info = env.step(np.zeros(20))
    assert set(info) == {"spin", "tilt", "z_bottom", "z_top", "simulation_unstable"}
    assert info["spin"] == obs[51]  # omega_x of the pen's free joint (pen frame)
    mujoco.mj_kinematics(env.model, env.data)  # site positions of the post-step state
    top, bottom = env.data.site("object:top").xpos, env.data.site("object:bottom").xpos
    assert info["tilt"] == pytest.approx(abs(bottom[2] - top[2]), abs=1e-12)
    assert info["z_bottom"] == pytest.approx(bottom[2], abs=1e-12)
    assert info["z_top"] == pytest.approx(top[2], abs=1e-12)
    assert reward == env.alpha * env.direction * info["spin"] - 15.0 * info["tilt"]
    env.close()


@pytest.mark.parametrize("env_id", [ONE_OBJECT, PEN_SPIN])
def test_state_layout_splits_and_joins_state_vectors(env_id: str) -> None:
    env = _stepped(env_id, n_steps=2)
    layout = env.state_layout
    assert isinstance(layout, StateLayout) and layout.size == env.state_size
    state = env.get_state()
    physics, goal, step_count, model_tag = layout.split(state)
    np.testing.assert_array_equal(physics, env.sim.physics_state())
    np.testing.assert_array_equal(goal, env.goal)
    assert step_count == 2.0 and goal.shape == (layout.goal_size,)
    assert model_tag == layout.model_tag and state[-1] == layout.model_tag
    assert layout.size == layout.physics_size + layout.goal_size + 2
    assert layout.join(physics, goal, step_count).tobytes() == state.tobytes()
    batch = np.stack([state, state])
    parts = layout.split(batch)
    assert parts.physics.shape == (2, layout.physics_size) and parts.step_count.shape == (2,)
    joined = layout.split(layout.join(parts.physics, goal, parts.step_count + 1))
    np.testing.assert_array_equal(joined.step_count, 3)
    np.testing.assert_array_equal(joined.model_tag, layout.model_tag)
    with pytest.raises(ValueError, match="last dimension"):
        layout.split(state[:-2])
    with pytest.raises(ValueError, match="last dimension"):
        layout.split(state[:-1])
    env.close()


def test_rollout_needs_a_dexterous_env() -> None:
    with pytest.raises(ValueError, match="DexterousMujocoEnv"):
        BatchedRollout(gym.make("CartPole-v1"))
