"""Every registered ID against Gymnasium's and Stable-Baselines3's checkers, vector envs, HER."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dexterous_gym

ALL_IDS = list(dexterous_gym.ENV_IDS)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    # Unbounded observations are intended (as in Gymnasium's own MuJoCo envs); any other checker
    # warning (dtype mismatch, non-determinism under a seed, ...) fails the test.
    problems = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning) and "infinity" not in str(w.message)
    ]
    assert not problems, problems
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_stable_baselines3_check_env(env_id):
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id).unwrapped  # SB3 calls env.compute_reward directly
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_env_checker.check_env(env, warn=True)
    problems = [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning) and "infinity" not in str(w.message).lower()
    ]
    assert not problems, problems
    env.close()


@pytest.mark.parametrize("env_id", ["BlockCatchOverarm-v0", "TwoPenCatchUnderArm-v0", "PenSpin-v0"])
def test_returned_dtypes_match_spaces(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    obs, *_ = env.step(env.action_space.sample())
    assert obs in env.observation_space
    if isinstance(obs, dict):
        for key, value in obs.items():
            assert value.dtype == env.observation_space[key].dtype == np.float64
    env.close()


def test_achieved_goal_is_a_copy():
    env = gym.make("EggHandOver-v0")
    obs, _ = env.reset(seed=0)
    stored = obs["achieved_goal"].copy()
    env.step(np.ones(40))
    np.testing.assert_array_equal(obs["achieved_goal"], stored)
    env.close()


def test_seeded_resets_are_deterministic():
    a, b = gym.make("TwoEggCatchUnderArm-v0"), gym.make("TwoEggCatchUnderArm-v0")
    for seed in (0, 42):
        oa, _ = a.reset(seed=seed)
        ob, _ = b.reset(seed=seed)
        for key in oa:
            np.testing.assert_array_equal(oa[key], ob[key])
    a.close()
    b.close()


@pytest.mark.parametrize("vector_cls", [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv])
def test_vector_envs(vector_cls):
    envs = vector_cls([lambda: gym.make("EggCatchUnderarmSparse-v0")] * 2)
    obs, _ = envs.reset(seed=[0, 1])
    assert obs["observation"].shape == (2, 133)
    assert not np.array_equal(obs["desired_goal"][0], obs["desired_goal"][1])
    for _ in range(3):
        obs, reward, _terminated, _truncated, info = envs.step(envs.action_space.sample())
    assert reward.shape == (2,) and set(reward) <= {-1.0, 0.0}
    assert "is_success" in info
    envs.close()


@pytest.mark.parametrize("env_id", ["EggHandOverSparse-v0", "TwoEggCatchUnderArmSparse-v0"])
def test_sb3_her_sac_trains(env_id):
    pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.her import HerReplayBuffer

    env = gym.make(env_id)
    model = sb3.SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        learning_starts=160,
        batch_size=32,
        policy_kwargs={"net_arch": [32, 32]},
        seed=0,
    )
    model.learn(total_timesteps=300)
    assert model.num_timesteps == 300
    assert model.replay_buffer.size() > 0
    batch = model.replay_buffer.sample(16)
    assert batch.observations["desired_goal"].shape == (
        16,
        env.observation_space["desired_goal"].shape[0],
    )
    assert set(np.unique(batch.rewards)) <= {-1.0, 0.0}
    env.close()


@pytest.mark.parametrize(
    "env_id,mode,shape",
    [
        ("EggHandOver-v0", "rgb_array", (120, 160, 3)),
        ("TwoBlockCatchUnderArm-v0", "rgb_array", (120, 160, 3)),
        ("PenSpin-v0", "depth_array", (120, 160)),
    ],
)
def test_rendering(env_id, mode, shape):
    env = gym.make(env_id, render_mode=mode, width=160, height=120)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == shape
    if mode == "rgb_array":
        assert frame.dtype == np.uint8 and frame.std() > 1.0  # a picture, not a blank frame
        target = env.unwrapped.data.body("target").xpos
        np.testing.assert_allclose(target, env.unwrapped.goal[:3], atol=1e-9)  # target at goal
    env.step(env.action_space.sample())
    assert env.render().shape == shape
    env.close()


RENDER_AFTER = """
import {first}
import gymnasium as gym, dexterous_gym
env = gym.make("PenSpin-v0", render_mode="rgb_array")
env.reset(seed=0)
try:
    print(env.render().shape, env.render().shape)
except RuntimeError as err:
    print("RuntimeError:", err)
"""


@pytest.mark.parametrize(
    ("first", "prints"),
    [
        ("mujoco", "(500, 500, 3) (500, 500, 3)"),
        ("gymnasium_robotics", "(500, 500, 3) (500, 500, 3)"),
        # PyOpenGL's platform is fixed at its import: a clear error, never MuJoCo's abort
        ("OpenGL.GL", "RuntimeError: rendering needs a display or a headless OpenGL backend"),
    ],
)
def test_headless_rendering_in_any_import_order(first, prints, tmp_path):
    import os
    import subprocess
    import sys

    if sys.platform != "linux":
        pytest.skip("the headless backends (EGL, OSMesa) are chosen on Linux")
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", RENDER_AFTER.format(first=first)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith(prints), proc.stdout
