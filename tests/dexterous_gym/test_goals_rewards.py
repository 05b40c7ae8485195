"""Goals, distances, rewards, success and resets, against the original Dexterous Gym formulas."""

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from dexterous_gym import goals
from dexterous_gym.envs.pen_spin import pen_spin_reward
from dexterous_gym.tasks import OVERARM_HAND_QPOS


def _rotation(angle, axis):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.concatenate(([np.cos(angle / 2)], np.sin(angle / 2) * axis))


def test_distances_match_hand_computation():
    a = np.concatenate(([1.0, 2.0, 3.0], _rotation(0.0, [0, 0, 1])))
    d = np.concatenate(([1.0, 2.0, 3.5], _rotation(0.3, [1, 1, 0])))
    d_pos, d_rot = goals.goal_distances(a, d)
    assert d_pos[0] == pytest.approx(0.5)
    assert d_rot[0] == pytest.approx(0.3)
    # q and -q are not identified, as in the original metric
    _, d_rot_neg = goals.goal_distances(a, np.concatenate((d[:3], -d[3:])))
    assert d_rot_neg[0] == pytest.approx(2 * np.pi - 0.3)


@pytest.mark.parametrize(
    "env_id,prefactor,multiplier",
    [
        ("EggHandOver-v0", 1.0, 20.0),
        ("BlockCatchUnderarm-v0", 0.2, 50.0),
        ("PenCatchOverarm-v0", 0.2, 50.0),
    ],
)
def test_dense_reward_per_family(env_id, prefactor, multiplier):
    env = gym.make(env_id).unwrapped
    a = np.concatenate(([1.0, 0.9, 0.2], _rotation(0.0, [0, 0, 1])))
    d = np.concatenate(([1.0, 0.9, 0.25], _rotation(0.4, [0, 1, 0])))
    expected = np.exp(-prefactor * (multiplier * 0.05 + 0.4))
    assert env.compute_reward(a, d, {}) == pytest.approx(expected)
    env.close()


def test_two_object_rewards_are_flat_sums_and_products():
    dense = gym.make("TwoEggCatchUnderArm-v0").unwrapped
    sparse = gym.make("TwoEggCatchUnderArmSparse-v0").unwrapped
    pose = np.concatenate(([1.0, 0.4, 0.3], _rotation(0.0, [0, 0, 1])))
    far = pose + np.array([0.1, 0, 0, 0, 0, 0, 0])
    both = np.concatenate((pose, pose))
    one_off = np.concatenate((pose, far))
    assert dense.compute_reward(both, both, {}) == pytest.approx(2.0)
    assert dense.compute_reward(one_off, both, {}) == pytest.approx(1.0 + np.exp(-0.2 * 50 * 0.1))
    assert sparse.compute_reward(both, both, {}) == 0.0
    assert sparse.compute_reward(one_off, both, {}) == -1.0  # both objects must succeed
    dense.close()
    sparse.close()


@pytest.mark.parametrize("env_id", ["EggCatchUnderarmSparse-v0", "TwoPenCatchUnderArm-v0"])
def test_compute_reward_is_vectorised_over_any_batch_shape(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    achieved = obs["achieved_goal"] + rng.normal(0, 0.01, size=(4, 5, obs["achieved_goal"].size))
    desired = np.broadcast_to(obs["desired_goal"], achieved.shape)
    batch = env.unwrapped.compute_reward(achieved, desired, None)
    assert batch.shape == (4, 5)
    for i in range(4):
        for j in range(5):
            assert batch[i, j] == env.unwrapped.compute_reward(achieved[i, j], desired[i, j], {})
    env.close()


def test_step_reward_equals_compute_reward_and_success_threshold():
    env = gym.make("EggHandOverSparse-v0")
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, reward, terminated, _truncated, info = env.step(env.action_space.sample())
        assert reward == env.unwrapped.compute_reward(
            obs["achieved_goal"], obs["desired_goal"], info
        )
        assert reward == info["is_success"] - 1.0
        assert not terminated
    achieved = obs["desired_goal"].copy()
    achieved[0] += 0.009
    assert env.unwrapped.compute_success(achieved, obs["desired_goal"]) == 1.0
    achieved[0] += 0.002
    assert env.unwrapped.compute_success(achieved, obs["desired_goal"]) == 0.0
    env.close()


def _inside(point, box):
    lows, highs = np.asarray(box[0]), np.asarray(box[1])
    return bool(np.all(point >= lows) and np.all(point <= highs))


@pytest.mark.parametrize(
    "env_id",
    ["EggHandOver-v0", "BlockCatchUnderarm-v0", "PenCatchUnderarmHard-v0", "EggCatchOverarm-v0"],
)
def test_goal_lies_at_the_other_hand(env_id):
    """The object starts near range 1, so every reset's goal comes from range 2 (as the original)."""
    env = gym.make(env_id)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        goal = obs["desired_goal"]
        assert _inside(goal[:3], env.unwrapped.target_range_2)
        assert np.linalg.norm(goal[3:]) == pytest.approx(1.0)
    env.close()


def test_two_object_goals_swap_the_objects():
    env = gym.make("TwoBlockCatchUnderArm-v0")
    obs, _ = env.reset(seed=1)
    goal = obs["desired_goal"]
    # object 1 starts in hand 2 (range 1 side), so target 1 is near hand 1 and target 2 near hand 2
    assert _inside(goal[:3], env.unwrapped.target_range_2)
    assert _inside(goal[7:10], env.unwrapped.target_range_1)
    env.close()


def test_overarm_starts_from_the_recorded_state_without_settling():
    env = gym.make("PenCatchOverarm-v0")
    obs, _ = env.reset(seed=0)
    qpos = env.unwrapped.data.qpos
    np.testing.assert_array_equal(qpos[:60], OVERARM_HAND_QPOS)
    np.testing.assert_allclose(obs["achieved_goal"], [1.0, -0.2, 0.40267, 0.5, 0.5, 0.5, 0.5])
    assert env.unwrapped.data.time == 0.0  # no settle steps
    env.close()


def test_standard_reset_settles_ten_steps_and_randomises_egg_rotation():
    env = gym.make("EggCatchUnderarm-v0")
    quats = []
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        assert env.unwrapped.data.time == pytest.approx(10 * 0.04)
        np.testing.assert_allclose(obs["achieved_goal"][:3], [0.99, 0.36, 0.33], atol=0.03)
        quats.append(obs["achieved_goal"][3:])
    assert not np.allclose(quats[0], quats[1])
    env.close()
    pen = gym.make("PenCatchUnderarm-v0")
    first = pen.reset(seed=0)[0]["achieved_goal"]
    second = pen.reset(seed=1)[0]["achieved_goal"]
    np.testing.assert_allclose(first, second)  # pens start unrotated: only the goal is random
    pen.close()


def test_pen_spin_reward_formula_and_reset():
    env = gym.make("PenSpin-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (61,) and info == {}
    assert obs[48 + 6 + 2] > 0.04  # pen centre height
    obs, reward, *_ = env.step(np.zeros(20))
    u = env.unwrapped
    top = u.data.site("object:top").xpos
    bottom = u.data.site("object:bottom").xpos
    mujoco_tilt = abs(top[2] - bottom[2])
    import mujoco

    mujoco.mj_kinematics(u.model, u.data)  # site positions for the post-step state
    top, bottom = u.data.site("object:top").xpos, u.data.site("object:bottom").xpos
    expected = obs[48 + 3] - 15.0 * abs(bottom[2] - top[2])
    assert reward == pytest.approx(expected, abs=1e-9)
    assert mujoco_tilt == pytest.approx(abs(bottom[2] - top[2]), abs=0.01)
    # a horizontal pen spinning at 1 rad/s about its own x axis
    horizontal = np.array([1, 0.87, 0.2, np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0])
    spin = np.array([0, 0, 0, 1.0, 0, 0])
    assert pen_spin_reward(horizontal, spin, 1.0, 1.0, 0.1) == pytest.approx(1.0)
    assert pen_spin_reward(horizontal, spin, 2.0, -1.0, 0.1) == pytest.approx(-2.0)
    upright = np.array([1, 0.87, 0.2, 1, 0, 0, 0])
    assert pen_spin_reward(upright, spin * 0, 1.0, 1.0, 0.1) == pytest.approx(-3.0)
    env.close()


def test_pen_spin_direction_and_alpha_through_make():
    env = gym.make("PenSpin-v0", direction=-1, alpha=2.0)
    assert env.unwrapped.direction == -1.0 and env.unwrapped.alpha == 2.0
    env.close()
