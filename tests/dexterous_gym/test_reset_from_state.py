"""``reset(options={"state": s})``: start an episode from a ``get_state()`` vector."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym  # noqa: F401

IDS = ["EggCatchUnderarm-v0", "TwoPenCatchUnderArmSparse-v0", "PenSpin-v0"]


def _flat(obs: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
    return np.concatenate(list(obs.values())) if isinstance(obs, dict) else obs


@pytest.mark.parametrize("env_id", IDS)
def test_reset_from_a_state_returns_its_observation_and_continues_bitwise(env_id: str) -> None:
    source = gym.make(env_id)
    source.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, _, _, _, info = source.step(rng.uniform(-1, 1, source.action_space.shape))
    state = source.unwrapped.get_state()

    env = gym.make(env_id)
    env.reset(seed=99)
    start_obs, start_info = env.reset(options={"state": state})
    np.testing.assert_array_equal(_flat(start_obs), _flat(obs))
    assert start_obs in env.observation_space
    assert start_info == ({"is_success": info["is_success"]} if "is_success" in info else {})
    restored = env.unwrapped.get_state()
    layout = env.unwrapped.state_layout
    restored_parts, parts = layout.split(restored), layout.split(state)
    np.testing.assert_array_equal(restored_parts.physics, parts.physics)
    np.testing.assert_array_equal(restored_parts.goal, parts.goal)
    assert restored_parts.model_tag == parts.model_tag == layout.model_tag
    assert restored_parts.step_count == 0.0  # the step count restarts

    actions = rng.uniform(-1, 1, (4, *env.action_space.shape))
    for action in actions:
        o1, r1, *_ = source.step(action)
        o2, r2, *_ = env.step(action)
        np.testing.assert_array_equal(_flat(o1), _flat(o2))
        assert r1 == r2
    source.close()
    env.close()


def test_the_step_count_restarts_for_the_time_limit() -> None:
    env = gym.make("EggHandOver-v0")  # TimeLimit at 75
    env.reset(seed=0)
    for _ in range(70):
        env.step(np.zeros(40))
    late = env.unwrapped.get_state()
    env.reset(options={"state": late})
    truncations = [env.step(np.zeros(40))[3] for _ in range(75)]
    assert truncations == [False] * 74 + [True]
    assert env.unwrapped.state_layout.split(env.unwrapped.get_state()).step_count == 75
    env.close()


def test_keep_step_count_ends_the_episode_where_the_original_would() -> None:
    env = gym.make("EggHandOver-v0")
    env.reset(seed=0)
    for _ in range(70):
        env.step(np.zeros(40))
    late = env.unwrapped.get_state()
    env.reset(options={"state": late, "keep_step_count": True})
    assert env.unwrapped.state_layout.split(env.unwrapped.get_state()).step_count == 70
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    truncations = [env.step(np.zeros(40))[3] for _ in range(5)]
    assert truncations == [False] * 4 + [True]
    assert [clone.step(np.zeros(40))[3] for _ in range(5)] == truncations  # pickling keeps it
    # a later reset forgets the kept count
    env.reset(options={"state": late})
    assert not any(env.step(np.zeros(40))[3] for _ in range(5))
    env.close()


def test_reset_from_a_state_draws_no_random_numbers_but_seeds() -> None:
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    state = env.unwrapped.get_state()
    env.reset(seed=7, options={"state": state})
    after_state_reset = env.reset()[0]
    reference = gym.make("EggCatchUnderarm-v0")
    np.testing.assert_array_equal(_flat(after_state_reset), _flat(reference.reset(seed=7)[0]))
    env.close()
    reference.close()


def test_empty_options_are_a_standard_reset() -> None:
    env = gym.make("TwoEggCatchUnderArm-v0")
    a = _flat(env.reset(seed=3)[0])
    b = _flat(env.reset(seed=3, options={})[0])
    np.testing.assert_array_equal(a, b)
    env.close()


@pytest.mark.parametrize(
    "options,match",
    [
        ({"sate": None}, r"unknown reset option\(s\) \['sate'\]"),
        ({"state": None, "goal": 1, "steps": 2}, r"\['goal', 'steps'\]"),
        ({"keep_step_count": True}, "keep_step_count needs a 'state'"),
        ({"state": "SHORT", "keep_step_count": 1}, "keep_step_count must be True or False"),
        ({"state": "SHORT"}, r"options\['state'\] must be a flat array of"),
        ({"state": "UNTAGGED"}, r"options\['state'\] must be a flat array of .*got shape"),
        ({"state": "NAN"}, r"options\['state'\] must be finite"),
        ({"state": "BATCH"}, "flat array"),
    ],
)
def test_bad_reset_options_raise_and_leave_the_env_unchanged(options: dict, match: str) -> None:
    env = gym.make("EggCatchUnderarm-v0")
    env.reset(seed=0)
    env.step(np.ones(52))
    before = env.unwrapped.get_state()
    bad_states = {
        "SHORT": before[:-2],
        "UNTAGGED": before[:-1],  # without its model tag
        "NAN": np.where(np.arange(before.size) == 5, np.nan, before),
    }
    bad_states["BATCH"] = before[None]
    options = {k: bad_states.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    rng_before = env.unwrapped.np_random.bit_generator.state
    with pytest.raises(ValueError, match=match):
        env.reset(seed=123, options=options)
    np.testing.assert_array_equal(env.unwrapped.get_state(), before)
    assert env.unwrapped.np_random.bit_generator.state == rng_before  # not even re-seeded
    env.close()


@pytest.mark.parametrize("env_id,tries", [("EggHandOver-v0", 10), ("PenSpin-v0", 100)])
def test_reset_gives_up_after_max_reset_tries(env_id: str, tries: int, monkeypatch) -> None:
    env = gym.make(env_id).unwrapped
    assert env.max_reset_tries == tries
    calls = []
    monkeypatch.setattr(env, "_reset_simulation", lambda: calls.append(1) and False)
    with pytest.raises(RuntimeError, match=f"no valid start state in {tries} resets"):
        env.reset(seed=0)
    assert len(calls) == tries
    env.close()
