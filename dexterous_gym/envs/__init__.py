"""Environment classes. Users normally go through ``gym.make`` with a registered ID."""

from dexterous_gym.envs.pen_spin import PenSpinEnv
from dexterous_gym.envs.two_hands import TwoHandsEnv

__all__ = ["PenSpinEnv", "TwoHandsEnv"]
