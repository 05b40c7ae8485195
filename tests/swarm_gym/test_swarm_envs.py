"""Gymnasium environments, registration, the PettingZoo wrapper and rendering."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import swarm_gym
from swarm_gym import FSMSwarm
from swarm_gym.envs import FSMFocalEnv, FSMSwarmEnv

SMALL = {"n_agents": 6, "horizon": 2, "max_steps": 5}


def test_registration_and_make():
    assert "FSMSwarm-v0" in gym.registry and "FSMFocal-v0" in gym.registry
    env = gym.make("FSMSwarm-v0", n_agents=5, horizon=1)
    assert env.action_space == gym.spaces.MultiDiscrete([5] * 5)
    env2 = gym.make("swarm_gym:FSMFocal-v0", n_agents=5, horizon=1)
    assert env2.action_space == gym.spaces.Discrete(5)
    swarm_gym.register_envs()  # idempotent


def test_check_env_gymnasium():
    check_env(
        gym.make("FSMSwarm-v0", render_mode="rgb_array", **SMALL).unwrapped, skip_render_check=False
    )
    check_env(
        gym.make("FSMFocal-v0", render_mode="rgb_array", **SMALL).unwrapped, skip_render_check=False
    )


@pytest.mark.skipif(importlib.util.find_spec("stable_baselines3") is None,
                    reason="stable_baselines3 not installed")  # fmt: skip
def test_check_env_sb3():
    from stable_baselines3.common.env_checker import check_env as sb3_check

    sb3_check(FSMSwarmEnv(**SMALL), warn=True)
    sb3_check(FSMFocalEnv(**SMALL), warn=True)


def test_expert_action_reproduces_fsm_swarm():
    env = FSMSwarmEnv(n_agents=8, horizon=2, max_steps=6)
    obs, info = env.reset(seed=11)
    ref = FSMSwarm(n_agents=8, horizon=2, seed=11)
    np.testing.assert_array_equal(info["positions"], ref.positions)
    total = 0.0
    for _ in range(6):
        expert = info["expert_action"]
        counts = info["fsm_counts"]
        assert counts.shape == (8, 5) and info["expert_tied"][np.arange(8), expert].all()
        obs, reward, terminated, truncated, info = env.step(expert)
        applied = ref.step()
        np.testing.assert_array_equal(applied, expert)
        np.testing.assert_array_equal(info["positions"], ref.positions)
        # reward: mean log of the chosen branch's count
        exp_r = np.where(counts[np.arange(8), expert] > 0,
                         np.log(np.maximum(counts[np.arange(8), expert], 1)), -1.0)  # fmt: skip
        np.testing.assert_allclose(info["rewards"], exp_r)
        assert reward == pytest.approx(exp_r.mean())
        total += reward
        assert not terminated
    assert truncated
    assert obs.shape == (8, 2, 40) and obs.dtype == np.int8
    assert 0.0 <= info["order_parameter"] <= 1.0 and "opacity" in info
    assert total > 0


def test_bad_actions_raise_and_leave_state_unchanged():
    env = FSMSwarmEnv(**SMALL)
    env.reset(seed=0)
    pos = env.unwrapped.swarm.positions
    for bad in (np.zeros(5, dtype=np.int64), np.full(6, 5), np.full(6, -1), np.full(6, 0.5)):
        with pytest.raises(ValueError, match="actions"):
            env.step(bad)
    np.testing.assert_array_equal(env.unwrapped.swarm.positions, pos)
    focal = FSMFocalEnv(**SMALL)
    focal.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        focal.step(7)


def test_bad_env_parameters():
    with pytest.raises(ValueError, match="reward_mode"):
        FSMSwarmEnv(reward_mode="banana")
    with pytest.raises(ValueError, match="soft"):
        FSMSwarmEnv(reward_mode="soft")
    with pytest.raises(ValueError, match="max_steps"):
        FSMSwarmEnv(max_steps=0)
    with pytest.raises(ValueError, match="n_agents"):
        gym.make("FSMSwarm-v0", n_agents=1)
    with pytest.raises(ValueError, match="others_policy"):
        FSMFocalEnv(others_policy="nn")
    with pytest.raises(ValueError, match="render_mode"):
        FSMSwarmEnv(render_mode="ansi")


@pytest.mark.parametrize("mode", ["normalized", "regret", "empowerment_next"])
def test_reward_modes(mode):
    env = FSMSwarmEnv(reward_mode=mode, **SMALL)
    _, info = env.reset(seed=2)
    _, _, _, _, info2 = env.step(info["expert_action"])
    r = info2["rewards"]
    if mode == "regret":
        np.testing.assert_allclose(r[info["fsm_counts"].max(1) > 0], 0.0)
    elif mode == "empowerment_next":
        # log of the distinct depth-tau states over all branches: at least the best branch's
        # leaf count, at most 5 branches x 5**(tau-1) leaves
        assert np.all(r <= np.log(5 * 5)) and np.all(r >= 0) and r.max() > np.log(5)
        assert info2["fsm_counts"].shape == (6, 5)
    else:
        assert np.all(r <= 1.0 + 1e-12)


def test_soft_reward_with_continuous_model():
    env = FSMSwarmEnv(reward_mode="soft", model="continuous", **SMALL)
    _, info = env.reset(seed=0)
    _, reward, _, _, _ = env.step(info["expert_action"])
    assert reward > 0


def test_focal_env_follows_fsm_others():
    env = FSMFocalEnv(n_agents=6, horizon=2, focal=2, max_steps=4)
    obs, info = env.reset(seed=4)
    ref = FSMSwarm(n_agents=6, horizon=2, seed=4)
    assert obs.shape == (80,) and obs.dtype == np.int8
    for _ in range(4):
        obs, _, term, trunc, info = env.step(info["expert_action"])
        ref.step()
        np.testing.assert_array_equal(info["positions"], ref.positions)
    assert trunc and not term


def test_focal_env_lost_termination():
    env = FSMFocalEnv(n_agents=3, horizon=1, others_policy="ballistic", lost_steps=2, max_steps=50)
    env.reset(seed=0)
    env.unwrapped.swarm.set_state(np.array([[0.0, 0.0], [1e5, 0.0], [1e5, 50.0]]), np.zeros(3))
    _, _, term1, _, _ = env.step(3)
    _, _, term2, _, _ = env.step(3)
    assert not term1 and term2  # sees nothing (the others are 1e5 away) for 2 steps


def test_render_rgb_array():
    env = FSMSwarmEnv(render_mode="rgb_array", **SMALL)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (400, 400, 3) and frame.dtype == np.uint8
    assert (frame != frame[0, 0]).any(axis=-1).sum() > 50  # agents were drawn
    assert FSMSwarmEnv(**SMALL).render() is None


def test_pettingzoo_parallel_api():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test

    env = swarm_gym.parallel_env(n_agents=4, horizon=1, max_steps=6)
    parallel_api_test(env, num_cycles=10)
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(env.possible_agents) and obs["agent_0"].shape == (2, 40)
    acts = {a: infos[a]["expert_action"] for a in env.agents}
    _, rewards, _, trunc, _ = env.step(acts)
    assert set(rewards) == set(env.possible_agents) and not any(trunc.values())


def test_pettingzoo_test_battery():
    """PettingZoo's own tests: the parallel and AEC APIs, seeding, max_cycles, state, render."""
    pytest.importorskip("pettingzoo")
    pytest.importorskip("matplotlib")  # render_mode "human"
    import functools
    import types

    from pettingzoo.test import (
        api_test,
        max_cycles_test,
        parallel_api_test,
        parallel_seed_test,
        performance_benchmark,
        render_test,
        seed_test,
        state_test,
    )

    from swarm_gym import pettingzoo_env

    small = {"n_agents": 4, "horizon": 1}
    make_parallel = functools.partial(pettingzoo_env.parallel_env, **small)
    make_aec = functools.partial(pettingzoo_env.env, **small)
    parallel_api_test(make_parallel(), num_cycles=5)
    api_test(make_aec(), num_cycles=5)
    parallel_seed_test(make_parallel)
    seed_test(make_aec)
    max_cycles_test(types.SimpleNamespace(parallel_env=make_parallel, env=make_aec))
    state_test(make_aec(), make_parallel())
    render_test(make_aec)
    performance_benchmark(make_aec())  # steps for about 5 s and prints the rate
    env = make_parallel(max_cycles=3)
    env.reset(seed=0)
    assert env.state_space.contains(env.state()) and env.max_cycles == 3
    with pytest.raises(ValueError, match="pass max_cycles or max_steps, not both"):
        make_parallel(max_cycles=3, max_steps=3)


SWARM_ASYNC_AFTER_PARENT_STEP = """
import gymnasium as gym, numpy as np, swarm_gym
kwargs = {"policy": "{policy}"}
parent = gym.make("FSMSwarm-v0", **kwargs)
parent.reset(seed=0)
parent.step(np.zeros(parent.action_space.shape, dtype=parent.action_space.dtype))  # OpenMP runs here
kinds = {"async": {"context": "fork"}, "sync": {}}
rewards = {}
for mode, extra in kinds.items():
    envs = gym.make_vec("FSMSwarm-v0", num_envs=2, vectorization_mode=mode, vector_kwargs=extra, **kwargs)
    envs.reset(seed=3)
    zero = np.zeros(envs.action_space.shape, dtype=envs.action_space.dtype)
    rewards[mode] = np.concatenate([envs.step(zero)[1] for _ in range(3)])
    envs.close()
assert np.array_equal(rewards["async"], rewards["sync"]), rewards
print("ok")
"""


@pytest.mark.parametrize("policy", ["fsm", "heuristic"])
def test_async_vector_env_works_after_the_parent_stepped(policy):
    # forked workers of a process that already ran the OpenMP kernels run them serially
    import subprocess
    import sys

    script = SWARM_ASYNC_AFTER_PARENT_STEP.replace("{policy}", policy)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
