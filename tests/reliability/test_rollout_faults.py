"""Batched rollouts: a diverging simulation is flagged per (sequence, step) as ``env.step`` flags
it, with ``env.step``'s rewards; bad inputs are refused by name before anything runs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401
from dexterous_gym.rollout import BatchedRollout
from dexterous_gym.simulation import state_slices

fault = pytest.mark.fault
bad_input = pytest.mark.bad_input


def _diverging(env_id: str, **kwargs: Any) -> tuple[gym.Env, np.ndarray, np.ndarray]:
    """An env, a good state and a state MuJoCo cannot integrate (huge velocities)."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    u = env.unwrapped
    good = u.get_state()
    u.data.qvel[:] = 1e12
    bad = u.get_state()
    u.set_state(good)
    return env, good, bad


def _env_steps(
    u: Any, state: np.ndarray, actions: np.ndarray
) -> tuple[list[float], list[bool], np.ndarray]:
    u.set_state(state)
    rewards, flags = [], []
    for action in actions:
        _, reward, _, _, info = u.step(action)
        rewards.append(reward)
        flags.append(info["simulation_unstable"])
    return rewards, flags, u.get_state()


@fault
@pytest.mark.parametrize("env_id", ["EggCatchUnderarm-v0", "PenSpin-v0", "TwoPenCatchUnderArm-v0"])
@pytest.mark.parametrize("one_start", [False, True], ids=["per-sequence starts", "one start"])
def test_divergence_is_flagged_per_sequence_and_step_like_env_step(
    env_id: str, one_start: bool
) -> None:
    env, good, bad = _diverging(env_id)
    u = env.unwrapped
    n_batch, horizon = 3, 3
    actions = np.random.default_rng(0).uniform(-1, 1, (n_batch, horizon, u.sim.n_actions))
    starts = np.stack([bad] * n_batch) if one_start else np.stack([good, bad, good])
    with BatchedRollout.from_env(env, n_threads=2) as batched:
        result = batched.rollout(bad if one_start else starts, actions)
    assert result.unstable.shape == (n_batch, horizon) and result.unstable.dtype == bool
    for b in range(n_batch):
        rewards, flags, final = _env_steps(u, starts[b], actions[b])
        np.testing.assert_array_equal(result.unstable[b], flags)
        np.testing.assert_allclose(result.dense_rewards[b], rewards, rtol=0, atol=1e-12)
        if flags[0]:  # replayed as env.step does: the final state is bitwise, warm start included
            np.testing.assert_array_equal(result.final_states[b], final)
    assert result.unstable[:, 0].tolist() == ([True] * 3 if one_start else [False, True, False])
    assert not result.unstable[:, 1:].any()  # MuJoCo reset the data; the sequence goes on


@fault
def test_divergence_on_the_only_substep_from_time_zero_is_still_flagged() -> None:
    # CatchOverarm starts at time 0 (no settling); with one substep of one step, a reset to time 0
    # followed by one substep gives the time a normal step would give
    env, good, bad = _diverging("EggCatchOverarm-v0", n_substeps=1)
    assert bad[0] == 0.0
    u = env.unwrapped
    actions = np.zeros((2, 1, u.sim.n_actions))
    with BatchedRollout.from_env(env, n_threads=1) as batched:
        result = batched.rollout(np.stack([good, bad]), actions)
    assert result.unstable.tolist() == [[False], [True]]
    _, flags, final = _env_steps(u, bad, actions[1])
    assert flags == [True]
    np.testing.assert_array_equal(result.final_states[1], final)


def test_stable_rollouts_report_no_instability() -> None:
    env = gym.make("EggHandOver-v0")
    env.reset(seed=1)
    with BatchedRollout.from_env(env, n_threads=1) as batched:
        result = batched.rollout(env.unwrapped.get_state(), np.zeros((2, 4, 40)))
    assert result.unstable.shape == (2, 4) and not result.unstable.any()


@pytest.fixture(scope="module")
def rollout_setup() -> Any:
    env = gym.make("EggHandOver-v0")
    env.reset(seed=0)
    batched = BatchedRollout.from_env(env, n_threads=1)
    yield env, batched
    batched.close()


def _with_applied_force(env: Any) -> np.ndarray:
    state = env.unwrapped.get_state()
    state[state_slices(env.unwrapped.model)["xfrc_applied"].start + 6] = 1.0
    return state


def _other_family() -> np.ndarray:
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    return env.unwrapped.get_state()


BAD_ROLLOUTS: list[tuple[str, Any, type[Exception], str]] = [
    ("actions of strings", lambda s: (s, np.full((1, 2, 40), "0")), TypeError, "actions"),
    ("actions None", lambda s: (s, None), TypeError, "actions"),
    ("actions complex", lambda s: (s, np.zeros((1, 2, 40), complex)), TypeError, "actions"),
    ("actions 2-d", lambda s: (s, np.zeros((2, 40))), ValueError, "actions"),
    ("actions of another env", lambda s: (s, np.zeros((1, 2, 52))), ValueError, "actions"),
    ("actions empty batch", lambda s: (s, np.zeros((0, 2, 40))), ValueError, "actions"),
    (
        "actions nan",
        lambda s: (s, np.full((1, 2, 40), np.nan)),
        ValueError,
        "actions must be finite",
    ),
    ("states of strings", lambda s: (s.astype(str), np.zeros((1, 2, 40))), TypeError, "states"),
    ("states None", lambda s: (None, np.zeros((1, 2, 40))), TypeError, "states"),
    ("states 3-d", lambda s: (s[None, None], np.zeros((1, 2, 40))), ValueError, "states"),
    (
        "states too few",
        lambda s: (np.stack([s, s]), np.zeros((3, 2, 40))),
        ValueError,
        "states must hold",
    ),
    (
        "states inf",
        lambda s: (np.where(np.arange(s.size) == 4, np.inf, s), np.zeros((1, 2, 40))),
        ValueError,
        "finite",
    ),
    (
        "state of another family",
        lambda s: (_other_family(), np.zeros((1, 2, 40))),
        ValueError,
        "states",
    ),
    (
        "state with a bad quaternion",
        lambda s: (np.where(np.arange(s.size) == 60, 3.0, s), np.zeros((1, 2, 40))),
        ValueError,
        "quaternion",
    ),
    (
        "one bad state in a batch",
        lambda s: (
            np.stack([s, np.where(np.arange(s.size) == s.size - 1, -4.0, s)]),
            np.zeros((2, 2, 40)),
        ),
        ValueError,
        r"states\[1\]",
    ),
]


@bad_input
@pytest.mark.parametrize("label,make,error,part", BAD_ROLLOUTS, ids=[r[0] for r in BAD_ROLLOUTS])
def test_bad_rollout_inputs_are_refused_by_name(rollout_setup, label, make, error, part) -> None:
    env, batched = rollout_setup
    states, actions = make(env.unwrapped.get_state())
    with pytest.raises(error, match=part):
        batched.rollout(states, actions)


@bad_input
def test_states_with_applied_forces_are_refused(rollout_setup) -> None:
    env, batched = rollout_setup
    with pytest.raises(ValueError, match="applied forces"):
        batched.rollout(_with_applied_force(env), np.zeros((1, 1, 40)))


@bad_input
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_final_states_must_be_a_bool(rollout_setup, value) -> None:
    env, batched = rollout_setup
    with pytest.raises(TypeError, match="final_states"):
        batched.rollout(env.unwrapped.get_state(), np.zeros((1, 1, 40)), final_states=value)


@bad_input
@pytest.mark.parametrize(
    "n_threads,error",
    [
        (0, ValueError),
        (-2, ValueError),
        (10**7, ValueError),
        (2.5, TypeError),
        ("2", TypeError),
        (True, TypeError),
    ],
)
def test_bad_thread_counts_are_refused(n_threads, error) -> None:
    with pytest.raises(error, match="n_threads"):
        BatchedRollout.from_env("EggHandOver-v0", n_threads=n_threads)


@bad_input
@pytest.mark.parametrize("env", ["NoSuchEnv-v0", "CartPole-v1", 5, None])
def test_envs_that_are_not_dexterous_gym_envs_are_refused(env) -> None:
    with pytest.raises(ValueError, match="env"):
        BatchedRollout.from_env(env)


@fault
def test_every_divergence_of_an_env_is_reported_not_only_the_first() -> None:
    # MuJoCo's reset after a divergence clears its warning counters and counts 1: a second
    # divergence on the same data left the count at 1 and went unreported
    env, good, bad = _diverging("EggCatchUnderarm-v0")
    for _ in range(3):
        env.unwrapped.set_state(bad)
        *_, truncated, info = env.step(np.zeros(52))
        assert info["simulation_unstable"] is True and truncated is True
    env.unwrapped.set_state(good)
    assert env.step(np.zeros(52))[4]["simulation_unstable"] is False
