"""Bad values of every type fed to the envs: constructor arguments, actions, states, reset
options, goals. Each must raise ValueError/TypeError naming the argument and leave the env (its
state and its random stream) unchanged; valid input of every env must still pass."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dexterous_gym
from dexterous_gym.envs import PenSpinEnv, TwoHandsEnv

bad_input = pytest.mark.bad_input

# --- constructor arguments ------------------------------------------------------------------

TWO_HAND_KWARGS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"dist_multiplier": -50}, ValueError, "dist_multiplier"),
    ({"dist_multiplier": np.nan}, ValueError, "dist_multiplier"),
    ({"dist_multiplier": np.inf}, ValueError, "dist_multiplier"),
    ({"dist_multiplier": "20"}, TypeError, "dist_multiplier"),
    ({"dist_multiplier": True}, TypeError, "dist_multiplier"),
    ({"distance_threshold": -1.0}, ValueError, "distance_threshold"),
    ({"distance_threshold": 0.0}, ValueError, "distance_threshold"),
    ({"distance_threshold": np.nan}, ValueError, "distance_threshold"),
    ({"distance_threshold": "0.01"}, TypeError, "distance_threshold"),
    ({"distance_threshold": None}, TypeError, "distance_threshold"),
    ({"rotation_threshold": -0.1}, ValueError, "rotation_threshold"),
    ({"rotation_threshold": np.inf}, ValueError, "rotation_threshold"),
    ({"rotation_threshold": [0.1]}, TypeError, "rotation_threshold"),
    ({"reward_type": "shaped"}, ValueError, "reward_type"),
    ({"reward_type": 1}, TypeError, "reward_type"),
    ({"target_rotation": "random"}, ValueError, "target_rotation"),
    ({"target_rotation": None}, TypeError, "target_rotation"),
    ({"target_range_1": [[1, 0], [0, 1], [0, 1]]}, ValueError, "target_range_1"),
    ({"target_range_1": [[0, 1], [0, 1]]}, ValueError, "target_range_1"),
    ({"target_range_1": [[0, np.nan], [0, 1], [0, 1]]}, ValueError, "target_range_1"),
    ({"target_range_2": "box"}, TypeError, "target_range_2"),
    ({"target_range_2": [[0, 1], [0, 1], [0]]}, TypeError, "target_range_2"),
    ({"randomise_initial_rotation": "yes"}, TypeError, "randomise_initial_rotation"),
    ({"randomise_initial_rotation": 1}, TypeError, "randomise_initial_rotation"),
    ({"n_substeps": 0}, ValueError, "n_substeps"),
    ({"n_substeps": -3}, ValueError, "n_substeps"),
    ({"n_substeps": 2.5}, TypeError, "n_substeps"),
    ({"n_substeps": "20"}, TypeError, "n_substeps"),
    ({"n_substeps": 10**9}, ValueError, "n_substeps"),
    ({"width": 0}, ValueError, "width"),
    ({"width": 10**6}, ValueError, "width"),
    ({"height": 1.5}, TypeError, "height"),
    ({"height": None}, TypeError, "height"),
    ({"task": 123}, TypeError, "task"),
    ({"task": "EggCatchUnderArm-v0"}, ValueError, "task"),
]


@bad_input
@pytest.mark.parametrize("kwargs,error,name", TWO_HAND_KWARGS, ids=lambda v: repr(v)[:40])
def test_bad_two_hand_arguments_are_refused_by_name(kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        gym.make("EggCatchUnderarm-v0", **kwargs)


PEN_SPIN_KWARGS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"direction": 2}, ValueError, "direction"),
    ({"direction": 0}, ValueError, "direction"),
    ({"direction": True}, TypeError, "direction"),
    ({"direction": "1"}, TypeError, "direction"),
    ({"direction": np.nan}, ValueError, "direction"),
    ({"direction": 1j}, TypeError, "direction"),
    ({"alpha": np.nan}, ValueError, "alpha"),
    ({"alpha": np.inf}, ValueError, "alpha"),
    ({"alpha": "1.0"}, TypeError, "alpha"),
    ({"alpha": None}, TypeError, "alpha"),
    ({"render_mode": "video"}, ValueError, "render_mode"),
    ({"render_mode": 3}, ValueError, "render_mode"),
]


@bad_input
@pytest.mark.parametrize("kwargs,error,name", PEN_SPIN_KWARGS, ids=lambda v: repr(v)[:40])
def test_bad_pen_spin_arguments_are_refused_by_name(kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        PenSpinEnv(**kwargs)


def test_the_issue_case_dist_multiplier_minus_50_and_valid_dense_rewards() -> None:
    with pytest.raises(ValueError, match=r"dist_multiplier must be a finite number >= 0, got -50"):
        gym.make("EggCatchUnderarm-v0", dist_multiplier=-50)
    env = gym.make("EggCatchUnderarm-v0", dist_multiplier=0.0)  # the boundary is allowed
    env.reset(seed=0)
    reward = env.step(np.zeros(52))[1]
    assert 0.0 < reward <= 1.0  # dense rewards stay in (0, 1] per object
    env.close()


# --- actions --------------------------------------------------------------------------------

N_ACTIONS = 40  # EggHandOver-v0

BAD_ACTIONS: list[tuple[str, Any, type[Exception]]] = [
    ("too long", np.zeros(N_ACTIONS + 1), ValueError),
    ("too short", np.zeros(N_ACTIONS - 1), ValueError),
    ("batched", np.zeros((1, N_ACTIONS)), ValueError),
    ("scalar", 0.5, ValueError),
    ("empty", np.zeros(0), ValueError),
    ("nan", np.where(np.arange(N_ACTIONS) == 3, np.nan, 0.0), ValueError),
    ("inf", np.where(np.arange(N_ACTIONS) == 3, np.inf, 0.0), ValueError),
    ("-inf", np.where(np.arange(N_ACTIONS) == 0, -np.inf, 0.0), ValueError),
    ("float32 nan", np.full(N_ACTIONS, np.nan, dtype=np.float32), ValueError),
    ("strings", np.array(["0.1"] * N_ACTIONS), TypeError),
    ("a string", "0.1", TypeError),
    ("None", None, TypeError),
    ("complex", np.zeros(N_ACTIONS, dtype=complex), TypeError),
    ("booleans", np.zeros(N_ACTIONS, dtype=bool), TypeError),
    ("objects", np.array([object()] * N_ACTIONS), TypeError),
    ("ragged list", [[0.0, 1.0], [0.0]], TypeError),
    ("a dict", {"a": 1}, TypeError),
]


@pytest.fixture(scope="module")
def hand_over() -> gym.Env:
    env = gym.make("EggHandOver-v0")
    env.reset(seed=0)
    env.step(np.ones(N_ACTIONS) * 0.3)
    return env


@bad_input
@pytest.mark.parametrize("what,action,error", BAD_ACTIONS, ids=[a[0] for a in BAD_ACTIONS])
@pytest.mark.parametrize("wrapped", [False, True], ids=["unwrapped", "gym.make"])
def test_bad_actions_raise_and_leave_the_env_unchanged(
    hand_over, what, action, error, wrapped
) -> None:
    env = hand_over if wrapped else hand_over.unwrapped
    before = hand_over.unwrapped.get_state()
    with pytest.raises(error, match="action"):
        env.step(action)
    np.testing.assert_array_equal(hand_over.unwrapped.get_state(), before)


# --- states ---------------------------------------------------------------------------------

ENV_ID = "EggCatchUnderarm-v0"


def _state_after(env_id: str, steps: int = 3, seed: int = 0) -> np.ndarray:
    env = gym.make(env_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(rng.uniform(-1, 1, env.action_space.shape))
    state = env.unwrapped.get_state()
    env.close()
    return state


@pytest.fixture(scope="module")
def catch() -> gym.Env:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    env.step(np.full(52, 0.2))
    return env


def _edit(state: np.ndarray, index: int | slice, value: Any) -> np.ndarray:
    out = state.copy()
    out[index] = value
    return out


def _bad_states(env: Any) -> list[tuple[str, Any, type[Exception], str]]:
    """(label, bad state, error, message part) for EggCatchUnderarm-v0."""
    from dexterous_gym.simulation import state_slices

    good = env.get_state()
    slices = state_slices(env.model)
    qpos0 = slices["qpos"].start
    obj = qpos0 + env.model.joint("object:joint").qposadr[0]
    tgt = qpos0 + env.model.joint("target:joint").qposadr[0]
    goal = env.state_layout.physics_size
    count = goal + env.state_layout.goal_size  # the step count; the model tag follows it
    ctrl = slices["ctrl"].start
    return [
        ("truncated by one (no model tag)", good[:-1], ValueError, "flat array of"),
        ("truncated by two", good[:-2], ValueError, "flat array of"),
        ("extended", np.append(good, 0.0), ValueError, "flat array of"),
        ("batched", good[None], ValueError, "flat array of"),
        ("empty", np.zeros(0), ValueError, "flat array of"),
        ("nan", _edit(good, 10, np.nan), ValueError, "finite"),
        ("inf", _edit(good, 10, np.inf), ValueError, "finite"),
        ("strings", good.astype(str), TypeError, "real numbers"),
        ("None", None, TypeError, "state"),
        ("complex", good.astype(complex), TypeError, "real numbers"),
        ("booleans", good > 0, TypeError, "real numbers"),
        ("ragged", [[1.0, 2.0], [3.0]], TypeError, "state"),
        ("a dict", {"state": good}, TypeError, "state"),
        (
            "same size, other family (Hard)",
            _state_after("BlockCatchUnderarmHard-v0"),
            ValueError,
            "a state of the two_hands/CatchUnderarmHard/block scene",
        ),
        (
            "same size, other family (Overarm)",
            _state_after("PenCatchOverarm-v0"),
            ValueError,
            "a state of the two_hands/CatchOverarm/pen scene",
        ),
        (
            "same family, other object (Block)",
            _state_after("BlockCatchUnderarm-v0"),
            ValueError,
            "a state of the two_hands/CatchUnderarm/block scene, not of EggCatchUnderarm-v0's",
        ),
        (
            "same family, other object (Pen, sparse)",
            _state_after("PenCatchUnderarmSparse-v0"),
            ValueError,
            "a state of the two_hands/CatchUnderarm/pen scene",
        ),
        (
            "unknown model tag",
            _edit(good, -1, 12345.0),
            ValueError,
            "not a state of any known scene",
        ),
        ("fractional model tag", _edit(good, -1, good[-1] + 0.5), ValueError, "any known scene"),
        ("other size (HandOver)", _state_after("EggHandOver-v0"), ValueError, "flat array of"),
        ("other size (PenSpin)", _state_after("PenSpin-v0"), ValueError, "flat array of"),
        (
            "object quaternion x2",
            _edit(good, slice(obj + 3, obj + 7), 2 * good[obj + 3 : obj + 7]),
            ValueError,
            "object:joint",
        ),
        (
            "target quaternion zero",
            _edit(good, slice(tgt + 3, tgt + 7), 0.0),
            ValueError,
            "target:joint",
        ),
        ("control out of range", _edit(good, ctrl, 10.0), ValueError, "control ranges"),
        ("negative step count", _edit(good, count, -1.0), ValueError, "step count"),
        ("fractional step count", _edit(good, count, 2.5), ValueError, "step count"),
        ("huge step count", _edit(good, count, 2.0**40), ValueError, "step count"),
        ("negative time", _edit(good, 0, -1.0), ValueError, "time"),
        (
            "goal outside the goal boxes",
            _edit(good, slice(goal, goal + 3), [5.0, 5.0, 5.0]),
            ValueError,
            "target_range_1",
        ),
        ("goal quaternion zero", _edit(good, slice(goal + 3, goal + 7), 0.0), ValueError, "goal 1"),
    ]


_LABELS = [
    "truncated by one (no model tag)",
    "truncated by two",
    "extended",
    "batched",
    "empty",
    "nan",
    "inf",
    "strings",
    "None",
    "complex",
    "booleans",
    "ragged",
    "a dict",
    "same size, other family (Hard)",
    "same size, other family (Overarm)",
    "same family, other object (Block)",
    "same family, other object (Pen, sparse)",
    "unknown model tag",
    "fractional model tag",
    "other size (HandOver)",
    "other size (PenSpin)",
    "object quaternion x2",
    "target quaternion zero",
    "control out of range",
    "negative step count",
    "fractional step count",
    "huge step count",
    "negative time",
    "goal outside the goal boxes",
    "goal quaternion zero",
]


@pytest.fixture(scope="module")
def bad_states(catch) -> dict[str, tuple[Any, type[Exception], str]]:
    return {
        label: (state, error, part) for label, state, error, part in _bad_states(catch.unwrapped)
    }


def test_the_bad_state_table_is_complete(bad_states) -> None:
    assert list(bad_states) == _LABELS


@bad_input
@pytest.mark.parametrize("label", _LABELS)
@pytest.mark.parametrize("entry", ["set_state", "reset(options)", "reset(keep_step_count)"])
def test_bad_states_raise_and_leave_env_and_random_stream_unchanged(
    catch, bad_states, label, entry
) -> None:
    state, error, part = bad_states[label]
    u = catch.unwrapped
    before, rng = u.get_state(), u.np_random.bit_generator.state
    with pytest.raises(error, match=part):
        if entry == "set_state":
            u.set_state(state)
        else:
            options = {"state": state, "keep_step_count": entry == "reset(keep_step_count)"}
            catch.reset(seed=5, options=options)
    np.testing.assert_array_equal(u.get_state(), before)
    assert u.np_random.bit_generator.state == rng


def test_states_of_the_same_scene_are_accepted_and_other_objects_refused() -> None:
    """Dense/sparse variants share their scene and states (demos rely on it); another object of
    the same family has the same layout and goal boxes but another model tag, so its state is
    refused, naming its scene, and the env is left as it was."""
    env = gym.make(ENV_ID).unwrapped
    env.set_state(_state_after("EggCatchUnderarmSparse-v0"))
    before = env.get_state()
    with pytest.raises(ValueError, match="two_hands/CatchUnderarm/block scene, not of EggCatchUnderarm-v0's two_hands/CatchUnderarm/egg scene"):  # fmt: skip
        env.set_state(_state_after("BlockCatchUnderarm-v0"))
    np.testing.assert_array_equal(env.get_state(), before)
    env.close()


@pytest.mark.parametrize("env_id", dexterous_gym.ENV_IDS)
def test_every_env_accepts_its_own_states(env_id: str) -> None:
    env = gym.make(env_id)
    u = env.unwrapped
    rng = np.random.default_rng(1)
    for seed in (0, 1):
        env.reset(seed=seed)
        u.check_state(u.get_state())
        for _ in range(2):
            env.step(rng.uniform(-1.5, 1.5, env.action_space.shape))
            u.check_state(u.get_state())
    env.close()


# --- reset options and seeds ------------------------------------------------------------------

BAD_RESETS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("seed -1", {"seed": -1}, ValueError, "seed"),
    ("seed 1.5", {"seed": 1.5}, TypeError, "seed"),
    ("seed '0'", {"seed": "0"}, TypeError, "seed"),
    ("seed True", {"seed": True}, TypeError, "seed"),
    ("options a list", {"options": ["state"]}, TypeError, "options"),
    ("options a string", {"options": "state"}, TypeError, "options"),
    ("unknown option", {"options": {"goal": [0.0]}}, ValueError, "unknown reset option"),
    (
        "keep_step_count 'yes'",
        {"options": {"state": None, "keep_step_count": "yes"}},
        ValueError,
        "keep_step_count",
    ),
]


@bad_input
@pytest.mark.parametrize("label,kwargs,error,part", BAD_RESETS, ids=[b[0] for b in BAD_RESETS])
def test_bad_reset_arguments_raise_before_anything_changes(
    catch, label, kwargs, error, part
) -> None:
    u = catch.unwrapped
    before, rng = u.get_state(), u.np_random.bit_generator.state
    with pytest.raises(error, match=part):
        catch.reset(**kwargs)
    np.testing.assert_array_equal(u.get_state(), before)
    assert u.np_random.bit_generator.state == rng


# --- goals ----------------------------------------------------------------------------------

BAD_GOALS: list[tuple[str, str, Any, Any, type[Exception], str]] = [
    (
        "two-object goals on a one-object env",
        "EggHandOver-v0",
        np.zeros((4, 14)),
        np.zeros((4, 14)),
        ValueError,
        "achieved_goal",
    ),
    (
        "one-object goals on a two-object env",
        "TwoEggCatchUnderArm-v0",
        np.zeros(7),
        np.zeros(7),
        ValueError,
        "achieved_goal",
    ),
    ("6-vectors", "EggHandOver-v0", np.zeros(6), np.zeros(6), ValueError, "achieved_goal"),
    (
        "desired of another size",
        "EggHandOver-v0",
        np.zeros(7),
        np.zeros(14),
        ValueError,
        "desired_goal",
    ),
    ("a scalar", "EggHandOver-v0", 0.0, np.zeros(7), ValueError, "achieved_goal"),
    ("strings", "EggHandOver-v0", np.array(["0"] * 7), np.zeros(7), TypeError, "achieved_goal"),
    ("None", "EggHandOver-v0", np.zeros(7), None, TypeError, "desired_goal"),
    (
        "complex",
        "EggHandOver-v0",
        np.zeros(7, dtype=complex),
        np.zeros(7),
        TypeError,
        "achieved_goal",
    ),
]


@bad_input
@pytest.mark.parametrize(
    "label,env_id,achieved,desired,error,part", BAD_GOALS, ids=[g[0] for g in BAD_GOALS]
)
@pytest.mark.parametrize("method", ["compute_reward", "compute_success"])
def test_goals_of_the_wrong_size_or_type_are_refused(
    label, env_id, achieved, desired, error, part, method
) -> None:
    env = gym.make(env_id).unwrapped
    with pytest.raises(error, match=part):
        if method == "compute_reward":
            env.compute_reward(achieved, desired, None)
        else:
            env.compute_success(achieved, desired)
    env.close()


# --- time limits follow restored states ----------------------------------------------------


def _truncation_step(env: gym.Env, limit: int = 300) -> int:
    for k in range(1, limit + 1):
        if env.step(np.zeros(env.action_space.shape))[3]:
            return k
    raise AssertionError("never truncated")


def test_time_limit_follows_set_state_earlier_and_later() -> None:
    env = gym.make("EggHandOver-v0")  # 75 steps
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.zeros(40))
    at_10 = env.unwrapped.get_state()
    for _ in range(50):
        env.step(np.zeros(40))
    at_60 = env.unwrapped.get_state()
    env.unwrapped.set_state(at_10)  # an earlier state: 65 steps remain, not 15
    assert _truncation_step(env) == 65
    env.reset(seed=1)
    env.unwrapped.set_state(at_60)  # a later state: 15 remain, not 75
    assert _truncation_step(env) == 15
    # an episode without restores truncates where it always did
    env.reset(seed=2)
    assert _truncation_step(env) == 75
    assert env.spec is not None and env.spec.max_episode_steps == 75
    env.close()


def test_time_limit_override_of_gym_make_follows_too_and_specs_are_unchanged() -> None:
    env = gym.make("PenSpin-v0", max_episode_steps=20)
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.zeros(20))
    state = env.unwrapped.get_state()
    env.reset(seed=1)
    for _ in range(12):
        env.step(np.zeros(20))
    env.unwrapped.set_state(state)
    assert _truncation_step(env) == 15
    env.close()
    for env_id in dexterous_gym.ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps == (250 if env_id == "PenSpin-v0" else 75)
    remade = gym.make(gym.make("EggHandOver-v0").spec)  # a spec round-trips through gym.make
    assert remade.spec is not None and remade.spec.max_episode_steps == 75


# --- pickling keeps every random stream --------------------------------------------------------


@pytest.mark.parametrize("env_id", ["PenSpin-v0", "TwoEggCatchUnderArm-v0"])
def test_pickle_and_deepcopy_keep_the_spaces_random_streams(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(11)
    env.observation_space.seed(12)
    env.action_space.sample()
    clones = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    actions = [env.action_space.sample() for _ in range(3)]
    observations = [env.observation_space.sample() for _ in range(3)]
    for clone in clones:
        for expected in actions:
            np.testing.assert_array_equal(clone.action_space.sample(), expected)
        for expected in observations:
            sample = clone.observation_space.sample()
            if isinstance(sample, dict):
                for key in sample:
                    np.testing.assert_array_equal(sample[key], expected[key])
            else:
                np.testing.assert_array_equal(sample, expected)
    env.close()


def test_two_hand_env_class_refuses_unknown_tasks_directly() -> None:
    with pytest.raises(TypeError, match="task"):
        TwoHandsEnv(task=None)  # type: ignore[arg-type]
