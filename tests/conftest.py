"""Test-wide set-up: the same headless rendering choice a user's session makes by itself."""

import pytest

from dexterous_gym.startup import configure_headless_rendering

# before any test module imports mujoco (a test may import it before dexterous_gym)
configure_headless_rendering()


@pytest.fixture(scope="session")
def random_demos():
    """:func:`write_random_demos`, for tests that need demonstration folders."""
    return write_random_demos


def write_random_demos(folder, env_id, n_trajectories, steps, success=None):
    """``n_trajectories`` short "demonstrations" of ``env_id`` (seeded random actions) as
    trajectory files ``demo_K.npz`` in ``folder``, the format TOPDM writes; returns ``folder``."""
    import gymnasium as gym
    import numpy as np

    from baselines.common.trajectory import save_trajectory

    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    for k in range(n_trajectories):
        env.reset(seed=k)
        states, actions, rewards = [env.get_state()], [], []
        for _ in range(steps):
            action = rng.uniform(-1, 1, env.action_space.shape)
            _, reward, _, _, _ = env.step(action)
            states.append(env.get_state())
            actions.append(action)
            rewards.append(reward)
        arrays = {
            "start_state": states[0], "actions": np.array(actions), "rewards": np.array(rewards),
            "success": np.full(steps, np.nan) if success is None else np.full(steps, success),
            "states": np.array(states),
        }  # fmt: skip
        meta = {"env_id": env_id, "goal": [], "seed": k, "config": {}, "planner": "random"}
        save_trajectory(folder / f"demo_{k}.npz", arrays, meta)
    env.close()
    return folder
