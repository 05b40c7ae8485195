"""PenReorientation-v0: SCDM's one-hand pen task (spaces, reward, goals, state, arguments)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dexterous_gym
from dexterous_gym.envs import PenReorientationEnv, PenSpinEnv
from dexterous_gym.goals import quat_multiply
from dexterous_gym.rollout import BatchedRollout
from dexterous_gym.tasks import PEN_REORIENTATION_ID, PEN_REORIENTATION_TARGET_RANGE

ENV_ID = "PenReorientation-v0"


@pytest.fixture(scope="module")
def env() -> Iterator[PenReorientationEnv]:
    made = gym.make(ENV_ID).unwrapped
    assert isinstance(made, PenReorientationEnv)
    yield made
    made.close()


def test_registered_beside_the_original_31_ids() -> None:
    assert PEN_REORIENTATION_ID == ENV_ID and dexterous_gym.EXTRA_ENV_IDS == (ENV_ID,)
    assert len(dexterous_gym.ENV_IDS) == 31 and ENV_ID not in dexterous_gym.ENV_IDS
    spec = gym.spec(ENV_ID)
    assert spec.max_episode_steps == 100
    assert spec.additional_wrappers == gym.spec("PenSpin-v0").additional_wrappers


def test_spaces_and_gymnasium_check_env() -> None:
    made = gym.make(ENV_ID)
    u = made.unwrapped
    assert made.action_space == gym.spaces.Box(-1.0, 1.0, (20,), np.float32)
    for key, size in (("observation", 61), ("achieved_goal", 7), ("desired_goal", 7)):
        space = made.observation_space[key]
        assert space.shape == (size,) and space.dtype == np.float64
    obs, info = made.reset(seed=0)
    assert obs in made.observation_space and set(info) == {"is_success"}
    # the observation is PenSpin's: hand qpos, hand qvel, pen qvel, pen qpos
    spin = PenSpinEnv()
    np.testing.assert_array_equal(u._obs_index, spin._obs_index)
    spin.close()
    pen = u.model.joint("object:joint").qposadr[0]
    np.testing.assert_array_equal(obs["achieved_goal"], u.data.qpos[pen : pen + 7])
    np.testing.assert_array_equal(obs["observation"][54:61], obs["achieved_goal"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(u, skip_render_check=True)
    problems = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning) and "infinity" not in str(w.message)
    ]
    assert not problems, problems
    made.close()


def test_the_target_pen_is_a_visible_ghost_at_the_goal(env: PenReorientationEnv) -> None:
    env.reset(seed=3)
    model, target = env.model, env.model.body("target").id
    assert model.body_gravcomp[target] == 1.0
    geom = model.geom("target")
    assert geom.contype[0] == 0 and geom.conaffinity[0] == 0 and geom.group[0] == 2
    assert model.geom_rgba[geom.id][3] > 0 or model.mat_rgba[geom.matid[0]][3] > 0
    np.testing.assert_array_equal(env.data.qpos[env._target_qpos], env.goal)
    env.step(np.zeros(20))  # the ghost stays at the goal
    np.testing.assert_allclose(env.data.qpos[env._target_qpos], env.goal, atol=1e-9)


def test_reward_success_and_is_dead_on_constructed_poses(env: PenReorientationEnv) -> None:
    env.reset(seed=0)
    pose = env.data.qpos[env._pen_qpos].copy()
    at_goal = env.evaluate_goals(pose, pose)
    # 1 up to arccos's resolution near 1 (d_rot ~ 1e-8 for a quaternion of norm 1 - 1e-16)
    assert at_goal.reward == pytest.approx(1.0, abs=1e-6) and at_goal.success == 1.0
    assert at_goal.terms["is_dead"] == 0.0 and at_goal.terms["d_pos"] == 0.0
    # a pen below z = 0 has fallen: reward 0 even at its goal
    fallen = pose.copy()
    fallen[2] = -0.05
    dead = env.evaluate_goals(fallen, fallen)
    assert dead.reward == 0.0 and dead.terms["is_dead"] == 1.0
    assert env.compute_reward(fallen, fallen, None) == 0.0
    # a known d_pos and d_rot: 2 cm along y and 0.3 rad about the pen's own z axis
    desired = pose.copy()
    desired[1] += 0.02
    half = 0.15
    desired[3:] = quat_multiply(pose[3:], np.array([np.cos(half), 0.0, 0.0, np.sin(half)]))
    evaluation = env.evaluate_goals(pose, desired)
    assert evaluation.terms["d_pos"] == pytest.approx(0.02, abs=1e-12)
    assert evaluation.terms["d_rot"] == pytest.approx(0.3, abs=1e-6)  # z rotation is scored
    expected = np.exp(-(10.0 * evaluation.terms["d_pos"] + evaluation.terms["d_rot"]))
    assert evaluation.reward == pytest.approx(expected, rel=1e-12)
    assert evaluation.success == 0.0
    # success needs d_pos < 0.01 and d_rot < 0.1
    near = pose.copy()
    near[0] += 0.009
    assert env.compute_success(pose, near) == 1.0
    near[0] += 0.002
    assert env.compute_success(pose, near) == 0.0
    # batches: any leading shape
    batch = np.stack([pose, fallen, desired])
    rewards = env.compute_reward(batch, np.stack([pose, fallen, pose]), None)
    np.testing.assert_allclose(rewards, [at_goal.reward, 0.0, evaluation.reward], rtol=1e-12)


def test_step_reward_equals_compute_reward_and_the_rollout_reward(env: PenReorientationEnv) -> None:
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(2):
        env.step(rng.uniform(-1, 1, 20))
    state = env.get_state()
    actions = rng.uniform(-1, 1, (1, 3, 20))
    rewards, infos = [], []
    for action in actions[0]:
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        assert info["is_success"] == env.compute_success(obs["achieved_goal"], obs["desired_goal"])
        assert not terminated and not truncated
        rewards.append(reward)
        infos.append(info)
    assert set(infos[0]) == {"is_success", "d_pos", "d_rot", "is_dead", "simulation_unstable"}
    with BatchedRollout(env, n_threads=1) as batched:
        result = batched.rollout(state, actions)
    np.testing.assert_allclose(result.dense_rewards[0], rewards, rtol=0, atol=1e-12)
    assert result.success is not None
    np.testing.assert_array_equal(result.success[0], [i["is_success"] for i in infos])
    for name in ("d_pos", "d_rot", "is_dead"):
        np.testing.assert_allclose(result.terms[name][0], [i[name] for i in infos], atol=1e-12)


def test_goals_lie_in_the_range_around_the_start_and_are_seeded(env: PenReorientationEnv) -> None:
    lows, highs = (np.asarray(b) for b in PEN_REORIENTATION_TARGET_RANGE)
    goals_seen = []
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        offset = obs["desired_goal"][:3] - obs["achieved_goal"][:3]
        assert np.all(offset >= lows) and np.all(offset <= highs), offset
        assert np.linalg.norm(obs["desired_goal"][3:]) == pytest.approx(1.0, abs=1e-12)
        assert obs["achieved_goal"][2] > 0.04
        box_lo, box_hi = env.goal_box
        assert np.all(obs["desired_goal"][:3] >= box_lo) and np.all(
            obs["desired_goal"][:3] <= box_hi
        )
        goals_seen.append(obs["desired_goal"])
    assert len({g.tobytes() for g in goals_seen}) == len(goals_seen)
    other = gym.make(ENV_ID)
    for seed in (0, 5):
        a, _ = env.reset(seed=seed)
        b, _ = other.reset(seed=seed)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    other.close()


def test_state_round_trip_and_goals_outside_the_box_are_refused(env: PenReorientationEnv) -> None:
    env.reset(seed=4)
    env.step(np.full(20, 0.3))
    state = env.get_state()
    zero = np.zeros(20)
    after = env.step(zero)[0]
    env.set_state(state)
    np.testing.assert_array_equal(env.get_state(), state)
    again = env.step(zero)[0]
    for key in after:
        np.testing.assert_array_equal(after[key], again[key])
    goal_at = env.state_layout.physics_size
    before = env.get_state()
    far = state.copy()
    far[goal_at : goal_at + 3] = (1.0, 0.87, 1.0)  # 80 cm above the hand
    with pytest.raises(ValueError, match="position of the goal"):
        env.set_state(far)
    bad_quat = state.copy()
    bad_quat[goal_at + 3 : goal_at + 7] = (1.0, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="quaternion of the goal"):
        env.reset(options={"state": bad_quat})
    spin = gym.make("PenSpin-v0").unwrapped
    spin.reset(seed=0)
    with pytest.raises(ValueError):
        env.set_state(spin.get_state())
    spin.close()
    np.testing.assert_array_equal(env.get_state(), before)  # refused states change nothing


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"distance_threshold": -0.01}, "distance_threshold"),
        ({"rotation_threshold": 0.0}, "rotation_threshold"),
        ({"alpha": float("nan")}, "alpha"),
        ({"dist_fact": -1.0}, "dist_fact"),
        ({"death_tol": float("inf")}, "death_tol"),
        ({"n_substeps": 0}, "n_substeps"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PenReorientationEnv(**kwargs)


def test_arguments_reach_the_reward() -> None:
    made = gym.make(ENV_ID, dist_fact=20.0, alpha=0.5, death_tol=0.2, distance_threshold=0.05)
    u = made.unwrapped
    made.reset(seed=0)
    pose = u.data.qpos[u._pen_qpos].copy()  # the settled pen lies below z = 0.2
    desired = pose.copy()
    desired[0] += 0.03
    evaluation = u.evaluate_goals(pose, desired)
    assert evaluation.terms["is_dead"] == 1.0 and evaluation.reward == 0.0
    assert evaluation.success == 1.0
    lifted = pose.copy()
    lifted[2] = 0.3
    desired[2] = 0.3
    expected = np.exp(-0.5 * (20.0 * 0.03))
    assert u.compute_reward(lifted, desired, None) == pytest.approx(expected, abs=1e-6)
    made.close()
