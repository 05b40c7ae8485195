"""Environment classes. Users normally go through ``gym.make`` with a registered ID.

:class:`DexterousMujocoEnv` is the base class and the env contract the batched rollouts use;
:class:`Evaluation` is what its one reward function, ``evaluate``, returns.
:class:`PoseGoalEnv` is the shared base of the goal envs (goals are object poses), and
:class:`OneHandPenEnv` that of the one-hand pen envs (PenSpin-v0, PenReorientation-v0).
"""

from dexterous_gym.envs.base import DexterousMujocoEnv, Evaluation
from dexterous_gym.envs.pen_reorientation import PenReorientationEnv
from dexterous_gym.envs.pen_spin import OneHandPenEnv, PenSpinEnv
from dexterous_gym.envs.pose_goal import PoseGoalEnv
from dexterous_gym.envs.two_hands import TwoHandsEnv

__all__ = [
    "DexterousMujocoEnv",
    "Evaluation",
    "OneHandPenEnv",
    "PenReorientationEnv",
    "PenSpinEnv",
    "PoseGoalEnv",
    "TwoHandsEnv",
]
