"""BatchedRollout equals stepping the env with the same actions.

Exactness: qpos/qvel (hence achieved goals and success) are bitwise equal to ``env.step``
because the start state's warm start is passed to ``mujoco.rollout``. Dense rewards are compared
within 1e-12: the env's vectorised reward on a (B, H) batch rounds its reductions differently
from the single-vector call inside ``env.step`` (differences are ~1e-17). Final states are
bitwise except ``qacc_warmstart``, which ``mujoco.rollout`` does not record and which is rebuilt
by one ``mj_forward`` (see :mod:`dexterous_gym.rollout`); stepping on from them is checked
within 1e-12.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from dexterous_gym.rollout import BatchedRollout

ENV_IDS = ["EggHandOver-v0", "TwoEggCatchUnderArm-v0", "PenSpin-v0"]


def _start(env_id: str):
    env = gym.make(env_id)
    u = env.unwrapped
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(2):
        u.step(rng.uniform(-1, 1, u.sim.n_actions))
    return env, u


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("per_sample_states", [False, True])
def test_rollout_equals_env_step(env_id: str, per_sample_states: bool) -> None:
    env, u = _start(env_id)
    n_batch, horizon = 3, 3
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1.2, 1.2, (n_batch, horizon, u.sim.n_actions))
    starts = [u.get_state()]
    for _ in range(n_batch - 1):
        u.step(rng.uniform(-1, 1, u.sim.n_actions))
        starts.append(u.get_state())
    states = np.array(starts) if per_sample_states else starts[0]
    with BatchedRollout.from_env(env, n_threads=2) as batched:
        result = batched.rollout(states, actions)
    n_phys = u.sim.physics_state_size
    warm = slice(
        mujoco.mj_stateSize(u.model, mujoco.mjtState.mjSTATE_FULLPHYSICS),
        mujoco.mj_stateSize(u.model, mujoco.mjtState.mjSTATE_FULLPHYSICS) + u.model.nv,
    )
    for b in range(n_batch):
        u.set_state(starts[b] if per_sample_states else starts[0])
        rewards, success = [], []
        for h in range(horizon):
            obs, reward, _, _, info = u.step(actions[b, h])
            rewards.append(reward)
            success.append(info.get("is_success", np.nan))
            if result.achieved_goals is not None:
                np.testing.assert_array_equal(result.achieved_goals[b, h], obs["achieved_goal"])
        np.testing.assert_allclose(result.dense_rewards[b], rewards, rtol=0, atol=1e-12)
        if result.success is not None:
            np.testing.assert_array_equal(result.success[b], success)
            np.testing.assert_array_equal(result.sparse_rewards[b], np.array(success) - 1.0)
        env_final = u.get_state()
        ours = result.final_states[b]
        mask = np.ones(env_final.shape, bool)
        mask[warm] = False
        np.testing.assert_array_equal(ours[mask], env_final[mask])
        final_count = u.state_layout.split(env_final).step_count
        start_count = u.state_layout.split(starts[0]).step_count
        assert u.state_layout.split(ours).step_count == final_count
        assert final_count == start_count + horizon + (b if per_sample_states else 0)
        assert ours[-1] == env_final[-1] == u.state_layout.model_tag
        # stepping on from the returned final state matches stepping on the env
        zero = np.zeros(u.sim.n_actions)
        u.step(zero)
        continued = u.get_state()
        u.set_state(ours)
        u.step(zero)
        np.testing.assert_allclose(u.get_state()[:n_phys][mask[:n_phys]], continued[:n_phys][mask[:n_phys]], rtol=0, atol=1e-12)  # fmt: skip


def test_goalless_env_has_no_success() -> None:
    env, u = _start("PenSpin-v0")
    with BatchedRollout.from_env(env, n_threads=1) as batched:
        result = batched.rollout(u.get_state(), np.zeros((2, 1, 20)), final_states=False)
    assert result.success is None and result.achieved_goals is None
    assert result.final_states is None and result.dense_rewards.shape == (2, 1)


def test_bad_inputs_raise() -> None:
    env, u = _start("EggHandOver-v0")
    state = u.get_state()
    nu = u.sim.n_actions
    with BatchedRollout.from_env(env, n_threads=1) as batched:
        with pytest.raises(ValueError, match="actions"):
            batched.rollout(state, np.zeros((2, 3, nu + 1)))
        with pytest.raises(ValueError, match="actions"):
            batched.rollout(state, np.zeros((3, nu)))
        bad = np.zeros((1, 2, nu))
        bad[0, 1, 0] = np.nan
        with pytest.raises(ValueError, match="actions must be finite"):
            batched.rollout(state, bad)
        with pytest.raises(ValueError, match="states"):
            batched.rollout(state[:-2], np.zeros((1, 2, nu)))
        with pytest.raises(ValueError, match="states must have shape"):
            batched.rollout(state[:-1], np.zeros((1, 2, nu)))  # without its model tag
        with pytest.raises(ValueError, match="states must hold"):
            batched.rollout(np.stack([state] * 2), np.zeros((3, 2, nu)))
        inf_state = state.copy()
        inf_state[5] = np.inf
        with pytest.raises(ValueError, match="states must be finite"):
            batched.rollout(inf_state, np.zeros((1, 2, nu)))
    with pytest.raises(ValueError, match="n_threads"):
        BatchedRollout.from_env(env, n_threads=0)
