"""The swarm's boundary: known gaps, pinned as strict expected failures until ``swarm_gym`` (under
refactor elsewhere) is fixed; see docs/reliability.md for the proposed fixes. A strict xfail
turns into a failure the moment the fix lands, so the marker is removed with it."""

from __future__ import annotations

import numpy as np
import pytest

swarm_gym = pytest.importorskip("swarm_gym")

bad_input = pytest.mark.bad_input


@bad_input
@pytest.mark.xfail(
    strict=True, reason="FSMSwarm.set_state assigns positions before checking speeds"
)
def test_swarm_set_state_is_all_or_nothing() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    before = swarm.positions
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.zeros(3))
    np.testing.assert_array_equal(swarm.positions, before)


@bad_input
@pytest.mark.xfail(strict=True, reason="FSMSwarm.set_state accepts NaN speeds")
def test_swarm_set_state_refuses_non_finite_speeds() -> None:
    swarm = swarm_gym.FSMSwarm(n_agents=5, horizon=1, seed=0)
    with pytest.raises(ValueError, match="speeds"):
        swarm.set_state(np.zeros((5, 2)), np.zeros(5), speeds=np.full(5, np.nan))


@bad_input
@pytest.mark.xfail(strict=True, reason="SwarmConfig has no size guard on n_agents")
def test_swarm_sizes_have_a_guard() -> None:
    from swarm_gym.config import as_config

    with pytest.raises(ValueError, match="n_agents"):
        as_config(n_agents=10**7)  # about 7 GB at the first step


@bad_input
@pytest.mark.xfail(strict=True, reason="the PettingZoo wrapper truncates actions with int()")
def test_pettingzoo_actions_must_be_integers() -> None:
    pytest.importorskip("pettingzoo")
    from swarm_gym.pettingzoo_env import FSMSwarmParallelEnv

    env = FSMSwarmParallelEnv(n_agents=4, horizon=1)
    env.reset(seed=0)
    before = env.state()
    with pytest.raises(ValueError, match="agent_0"):
        env.step({agent: 2.7 for agent in env.agents})
    np.testing.assert_array_equal(env.state(), before)
