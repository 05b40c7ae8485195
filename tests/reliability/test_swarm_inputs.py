"""The swarm's boundary: all-or-nothing set_state, the size guard, integer PettingZoo actions, and
blockwise (interruptible) searches of large flocks giving the same decisions as one call."""

from __future__ import annotations

import numpy as np
import pytest

swarm_gym = pytest.importorskip("swarm_gym")

bad_input = pytest.mark.bad_input


@bad_input
def test_swarm_set_state_is_all_or_nothing() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    before = swarm.positions
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.zeros(3))
    np.testing.assert_array_equal(swarm.positions, before)


@bad_input
def test_swarm_set_state_refuses_non_finite_speeds() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.full(5, np.nan))


@bad_input
def test_swarm_sizes_have_a_guard() -> None:
    with pytest.raises(ValueError, match="allow_large=True"):
        swarm_gym.FSMSwarm(n_agents=10**7, horizon=1)  # about 7 GB at the first step
    # the explicit override is accepted (construction itself is cheap)
    assert swarm_gym.FSMSwarm(n_agents=6000, horizon=1, allow_large=True).config.n_agents == 6000


@bad_input
def test_pettingzoo_actions_must_be_integers() -> None:
    pytest.importorskip("pettingzoo")
    from swarm_gym.pettingzoo_env import FSMSwarmParallelEnv

    env = FSMSwarmParallelEnv(n_agents=4, horizon=1)
    env.reset(seed=0)
    before = env.state()
    with pytest.raises(ValueError, match="agent_0"):
        env.step({agent: 2.7 for agent in env.agents})
    np.testing.assert_array_equal(env.state(), before)


@bad_input
def test_large_flock_search_in_blocks_equals_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from swarm_gym import decision

    swarm = swarm_gym.FSMSwarm(n_agents=30, horizon=2, seed=3)
    swarm.run(5)
    pos, th = swarm.positions, swarm.headings
    whole = decision.score_moves(swarm.config, pos, th)
    monkeypatch.setattr(decision, "INTERRUPT_BLOCK", 7)
    blocked = decision.score_moves(swarm.config, pos, th)
    for a, b in zip(whole[:3], blocked[:3], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.bad_input
def test_pettingzoo_refuses_a_step_before_reset_and_agents_that_are_not_live() -> None:
    pytest.importorskip("pettingzoo")
    import swarm_gym

    env = swarm_gym.parallel_env(n_agents=4, horizon=1)
    moves = {f"agent_{i}": 3 for i in range(4)}
    with pytest.raises(ValueError, match=r"step\(\) needs a live episode: call reset\(\) first"):
        env.step(moves)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions holds agents that are not live: \['agent_9'\]"):
        env.step({**moves, "agent_9": 1})
    env.step(moves)  # the refused steps changed nothing


@pytest.mark.bad_input
@pytest.mark.parametrize("env_id", ["FSMSwarm-v0", "FSMFocal-v0"])
def test_swarm_envs_refuse_reset_options_instead_of_ignoring_them(env_id) -> None:
    import gymnasium as gym

    import swarm_gym  # noqa: F401

    env = gym.make(env_id, n_agents=4, horizon=1)
    with pytest.raises(
        ValueError, match=r"options: the swarm envs take no reset options, got \['state'\]"
    ):
        env.reset(options={"state": [0.0]})
    env.reset(seed=0, options={})  # empty options are fine


@pytest.mark.bad_input
@pytest.mark.parametrize("value", [-1, 2.5, "x", True])
def test_run_and_seed_name_their_argument(value) -> None:
    from swarm_gym import FSMSwarm

    swarm = FSMSwarm(8, 1, seed=0)
    with pytest.raises(ValueError, match=r"n_steps must be an integer >= 0"):
        swarm.run(value)
    if value != 2.5 and value != "x":
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0 or None"):
            FSMSwarm(8, 1, seed=-3 if value == -1 else value)


@pytest.mark.bad_input
def test_the_swarm_env_takes_the_allow_large_its_error_recommends() -> None:
    import gymnasium as gym

    import swarm_gym  # noqa: F401

    with pytest.raises(ValueError, match="pass allow_large=True to run it"):
        gym.make("FSMSwarm-v0", n_agents=6000, horizon=1)
    assert gym.make("FSMSwarm-v0", n_agents=6000, horizon=1, allow_large=True).unwrapped.config.n_agents == 6000  # fmt: skip
    with pytest.raises(ValueError, match="allow_large must be True or False, got 'yes'"):
        gym.make("FSMSwarm-v0", n_agents=4, horizon=1, allow_large="yes")
