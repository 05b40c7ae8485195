"""Environment classes. Users normally go through ``gym.make`` with a registered ID.

:class:`DexterousMujocoEnv` is the base class and the env contract the batched rollouts use;
:class:`Evaluation` is what its one reward function, ``evaluate``, returns.
"""

from dexterous_gym.envs.base import DexterousMujocoEnv, Evaluation
from dexterous_gym.envs.pen_spin import PenSpinEnv
from dexterous_gym.envs.two_hands import TwoHandsEnv

__all__ = ["DexterousMujocoEnv", "Evaluation", "PenSpinEnv", "TwoHandsEnv"]
