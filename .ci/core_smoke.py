"""The env suite alone (`pip install .`, newest MuJoCo, no torch): make and step two envs."""

import importlib.util

import gymnasium as gym
import mujoco
import numpy as np

import dexterous_gym

assert importlib.util.find_spec("torch") is None, "torch must not come with the base install"
print(
    f"mujoco {mujoco.__version__}, gymnasium {gym.__version__}, dexterous_gym {dexterous_gym.__version__}"
)
for env_id in ("PenSpin-v0", "TwoEggCatchUnderArmSparse-v0"):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    flat = np.concatenate(list(obs.values())) if isinstance(obs, dict) else obs
    assert np.all(np.isfinite(flat)) and np.isfinite(reward) and not info["simulation_unstable"]
    state = env.unwrapped.get_state()
    env.unwrapped.set_state(state)
    print(f"{env_id}: ok, obs {flat.shape}, reward {reward:.3f}")
    env.close()
