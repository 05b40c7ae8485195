"""How envs are built and where their episodes end: keyword-only construction helpers, each scene's
camera from :mod:`dexterous_gym.scenes`, and the env's step count as the one episode clock
(``gym.make``'s time limit is a :class:`StepCountTimeLimit`, the raw env never truncates on its
own)."""

from __future__ import annotations

import inspect

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit
from gymnasium_robotics.envs.shadow_dexterous_hand.hand_env import DEFAULT_CAMERA_CONFIG

import dexterous_gym  # noqa: F401
from dexterous_gym.envs import DexterousMujocoEnv, OneHandPenEnv
from dexterous_gym.envs.time_limit import StepCountTimeLimit
from dexterous_gym.scenes import PEN_CAMERA, two_hand_camera
from dexterous_gym.tasks import FAMILIES


def _wrappers(env: gym.Env) -> list[gym.Wrapper]:
    stack = []
    while isinstance(env, gym.Wrapper):
        stack.append(env)
        env = env.env
    return stack


def _truncations(env: gym.Env, n_steps: int) -> list[bool]:
    return [bool(env.step(np.zeros(env.action_space.shape))[3]) for _ in range(n_steps)]


@pytest.mark.parametrize("helper", [DexterousMujocoEnv._init_simulation, OneHandPenEnv._init_pen])
def test_construction_helpers_take_keywords_only(helper) -> None:
    parameters = list(inspect.signature(helper).parameters.values())[1:]  # after self
    assert parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)


def test_each_scene_brings_its_camera() -> None:
    # the pen scenes: gymnasium-robotics' hand camera
    config = PEN_CAMERA.config()
    assert config.keys() == DEFAULT_CAMERA_CONFIG.keys()
    for key, value in DEFAULT_CAMERA_CONFIG.items():
        np.testing.assert_array_equal(config[key], value)
    spin = gym.make("PenSpin-v0").unwrapped
    assert spin._camera == PEN_CAMERA
    # the two-hand scenes: the family's look-at point, distance and elevation, seen along -x
    for name, family in FAMILIES.items():
        camera = two_hand_camera(name)
        assert (camera.lookat, camera.distance, camera.elevation, camera.azimuth) == (
            family.camera_lookat,
            family.camera_distance,
            family.camera_elevation,
            180.0,
        )
    egg = gym.make("EggCatchOverarm-v0").unwrapped
    assert egg._camera == two_hand_camera("CatchOverarm")
    with pytest.raises(ValueError, match=r"family must be one of .* got 'Juggle'"):
        two_hand_camera("Juggle")


def test_gym_make_stacks_one_time_limit_that_reads_the_env_step_count() -> None:
    env = gym.make("EggHandOver-v0")
    limits = [w for w in _wrappers(env) if isinstance(w, TimeLimit | StepCountTimeLimit)]
    assert len(limits) == 1 and isinstance(limits[0], StepCountTimeLimit)
    assert limits[0].max_episode_steps == 75
    assert env.spec is not None and env.spec.max_episode_steps == 75
    env.reset(seed=0)
    assert _truncations(env, 75) == [False] * 74 + [True]
    assert env.unwrapped.elapsed_steps == 75
    env.close()
    unlimited = gym.make("EggHandOver-v0", max_episode_steps=-1)
    assert not any(isinstance(w, TimeLimit | StepCountTimeLimit) for w in _wrappers(unlimited))
    unlimited.reset(seed=0)
    assert not any(_truncations(unlimited, 80))
    unlimited.close()


def test_the_raw_env_of_gym_make_ends_no_episode_by_itself() -> None:
    """Planners and TD3+demos step ``gym.make(ID).unwrapped`` past the episode length."""
    env = gym.make("EggHandOver-v0").unwrapped
    env.reset(seed=0)
    assert not any(_truncations(env, 80))
    env.reset(options={"state": env.get_state()})
    assert not any(_truncations(env, 80))
    env.close()


def test_truncate_episode_at_ends_the_episode_at_that_step_count() -> None:
    env = gym.make("PenSpin-v0").unwrapped
    env.reset(seed=0)
    env.truncate_episode_at(3)
    assert _truncations(env, 4) == [False, False, True, True]
    env.truncate_episode_at(None)
    assert not any(_truncations(env, 2))
    with pytest.raises(ValueError, match=r"step_count must be an integer >= 1, got 0"):
        env.truncate_episode_at(0)
    with pytest.raises(TypeError, match=r"step_count must be an integer >= 1, got 2.5"):
        env.truncate_episode_at(2.5)  # type: ignore[arg-type]
    env.close()


def test_the_time_limit_refuses_other_envs_and_bad_lengths() -> None:
    with pytest.raises(
        TypeError, match="StepCountTimeLimit needs a Dexterous Gym env, got CartPoleEnv"
    ):
        StepCountTimeLimit(gym.make("CartPole-v1").unwrapped, 10)
    env = gym.make("PenSpin-v0").unwrapped
    with pytest.raises(ValueError, match="max_episode_steps must be an integer >= 1, got 0"):
        StepCountTimeLimit(env, 0)
    env.close()
