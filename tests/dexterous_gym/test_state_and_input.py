"""State round trips, bitwise replay, bad input and instability handling."""

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym

IDS = ["EggCatchUnderarm-v0", "TwoBlockCatchUnderArmSparse-v0", "PenSpin-v0", "PenHandOver-v0"]


def _rollout(env, actions):
    out = []
    for a in actions:
        obs, reward, _terminated, _truncated, _info = env.step(a)
        flat = np.concatenate(list(obs.values())) if isinstance(obs, dict) else obs
        out.append((flat.copy(), reward))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_replay_from_restored_state_is_bitwise_identical(env_id):
    env = gym.make(env_id)
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    for a in rng.uniform(-1, 1, size=(5, env.action_space.shape[0])):
        env.step(a)
    state = env.unwrapped.get_state()
    assert state.dtype == np.float64 and state.ndim == 1
    assert state.shape == (env.unwrapped.state_size,)
    actions = rng.uniform(-1, 1, size=(8, env.action_space.shape[0]))
    first = _rollout(env, actions)
    env.unwrapped.set_state(state)
    np.testing.assert_array_equal(env.unwrapped.get_state(), state)
    second = _rollout(env, actions)
    # a second env of the same ID, restored from the same vector, continues identically too
    other = gym.make(env_id)
    other.reset(seed=123)
    other.unwrapped.set_state(state)
    third = _rollout(other, actions)
    for (o1, r1), (o2, r2), (o3, r3) in zip(first, second, third, strict=True):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(o1, o3)
        assert r1 == r2 == r3
    env.close()
    other.close()


def test_state_holds_goal_and_step_count():
    env = gym.make("EggHandOver-v0")
    env.reset(seed=0)
    env.step(np.zeros(40))
    state = env.unwrapped.get_state()
    goal = env.unwrapped.goal.copy()
    env.reset(seed=1)
    assert not np.array_equal(env.unwrapped.goal, goal)
    env.unwrapped.set_state(state)
    np.testing.assert_array_equal(env.unwrapped.goal, goal)
    assert env.unwrapped._elapsed_steps == 1
    env.close()


def test_bad_states_raise_and_leave_the_env_untouched():
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    before = env.unwrapped.get_state()
    with pytest.raises(ValueError, match="flat array of"):
        env.unwrapped.set_state(before[:-2])
    with pytest.raises(ValueError, match="flat array of"):
        env.unwrapped.set_state(before[:-1])
    with pytest.raises(ValueError, match="flat array of"):
        env.unwrapped.set_state(before.reshape(1, -1))
    bad = before.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="finite"):
        env.unwrapped.set_state(bad)
    np.testing.assert_array_equal(env.unwrapped.get_state(), before)
    env.close()


@pytest.mark.parametrize("env_id", ["EggHandOver-v0", "PenSpin-v0"])
def test_bad_actions_raise_and_leave_the_simulation_untouched(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    n = env.action_space.shape[0]
    before = env.unwrapped.get_state()
    with pytest.raises(ValueError, match=rf"\({n},\)"):
        env.unwrapped.step(np.zeros(n + 1))
    with pytest.raises(ValueError, match=rf"\({n},\)"):
        env.unwrapped.step(np.zeros((1, n)))
    for bad in (np.nan, np.inf, -np.inf):
        action = np.zeros(n)
        action[3] = bad
        with pytest.raises(ValueError, match="finite"):
            env.unwrapped.step(action)
    np.testing.assert_array_equal(env.unwrapped.get_state(), before)
    env.close()


def test_out_of_range_actions_are_clipped_like_the_original():
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    state = env.unwrapped.get_state()
    big = np.full(52, 5.0)
    obs_big = env.step(big)[0]["observation"]
    env.unwrapped.set_state(state)
    obs_one = env.step(np.ones(52))[0]["observation"]
    np.testing.assert_array_equal(obs_big, obs_one)
    ctrl = env.unwrapped.data.ctrl
    np.testing.assert_allclose(ctrl, env.unwrapped.model.actuator_ctrlrange[:, 1], atol=1e-12)
    env.close()


def test_instability_is_reported_and_truncates():
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    u = env.unwrapped
    u.data.qvel[:] = 1e12  # a state MuJoCo cannot integrate
    obs, _reward, terminated, truncated, info = env.step(np.zeros(52))
    assert info["simulation_unstable"] is True
    assert truncated is True and terminated is False
    assert np.all(np.isfinite(obs["observation"]))
    env.reset(seed=0)
    *_, truncated, info = env.step(np.zeros(52))
    assert info["simulation_unstable"] is False and truncated is False
    env.close()


@pytest.mark.parametrize("env_id", ["TwoEggCatchUnderArm-v0", "PenSpin-v0"])
def test_pickle_and_deepcopy_continue_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=5)
    env.step(env.action_space.sample())
    actions = np.random.default_rng(1).uniform(-1, 1, size=(4, env.action_space.shape[0]))
    clones = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    reference = _rollout(env, actions)
    for clone in clones:
        for (o1, r1), (o2, r2) in zip(reference, _rollout(clone, actions), strict=True):
            np.testing.assert_array_equal(o1, o2)
            assert r1 == r2
        # the random stream travels too: the next reset draws the same goal
        clone.close()
    a = pickle.loads(pickle.dumps(env))
    obs_a = a.reset()[0]
    obs_b = env.reset()[0]
    np.testing.assert_array_equal(
        np.concatenate(list(obs_a.values())) if isinstance(obs_a, dict) else obs_a,
        np.concatenate(list(obs_b.values())) if isinstance(obs_b, dict) else obs_b,
    )
    env.close()


def _flat(obs):
    return np.concatenate(list(obs.values())) if isinstance(obs, dict) else obs


@pytest.mark.parametrize("env_id", dexterous_gym.ENV_IDS)
def test_a_never_reset_env_pickles_copies_and_then_resets_like_the_original(env_id):
    # gymnasium-robotics' test_pickle_env pickles a freshly made env
    env = gym.make(env_id)
    clones = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    reference = env.reset(seed=3)[0]
    for clone in clones:
        obs = clone.reset(seed=3)[0]
        np.testing.assert_array_equal(_flat(obs), _flat(reference))
        assert clone.spec.id == env_id
        clone.close()
    env.close()


def test_errors_of_an_unpickled_env_name_its_id():
    env = pickle.loads(pickle.dumps(gym.make("EggHandOver-v0")))
    with pytest.raises(ValueError, match="not a state of EggHandOver-v0"):
        state = np.zeros(env.unwrapped.state_size)
        state[-1] = env.unwrapped.state_layout.model_tag
        env.unwrapped.set_state(state)
