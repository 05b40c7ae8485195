"""What the goal envs share: goals that are object poses, gymnasium-robotics' GoalEnv API, the
Dict observation, the ghost targets that show the goal, and the goal checks of ``check_state``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium_robotics.core import GoalEnv
from numpy.typing import ArrayLike

from dexterous_gym.envs.base import DexterousMujocoEnv, Evaluation
from dexterous_gym.simulation import QUAT_NORM_TOLERANCE, StateProblem
from dexterous_gym.tasks import Box3
from dexterous_gym.validation import real_array

BOX_TOLERANCE = 1e-9  # goal positions this far outside a goal box still count as inside


class PoseGoalEnv(DexterousMujocoEnv[dict[str, Any]], GoalEnv):
    """Base of the envs whose goal is the pose (position, then quaternion w x y z) of one or more
    free objects.

    Subclasses set ``_obs_index`` (indices into concat(qpos, qvel) giving the ``observation``),
    ``_object_qpos`` (the qpos entries of the achieved goal), ``_target_qpos`` and
    ``_target_qvel`` (the ghost targets' free joints, which :meth:`_show_goal` puts at the goal),
    and implement :meth:`evaluate_goals`, the env's one reward function.
    """

    has_goal = True

    _obs_index: np.ndarray
    _object_qpos: np.ndarray
    _target_qpos: Sequence[int] | np.ndarray
    _target_qvel: Sequence[int] | np.ndarray

    # --- the reward function --------------------------------------------------------------------

    def evaluate_goals(self, achieved_goal: ArrayLike, desired_goal: ArrayLike) -> Evaluation:
        """Reward, success and named terms for achieved/desired goals of any (equal) batch shape:
        ``step``, :meth:`compute_reward`, :meth:`compute_success` and the batched rollouts (through
        :meth:`evaluate`) all use it."""
        raise NotImplementedError

    def evaluate(self, qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> Evaluation:
        """:meth:`evaluate_goals` of the object poses in ``qpos`` against ``goal``."""
        achieved = self.achieved_goal_from_qpos(qpos)
        if goal.shape != achieved.shape:  # a batch of states: one goal per state
            goal = np.broadcast_to(goal, achieved.shape)
        return self.evaluate_goals(achieved, goal)

    def achieved_goal_from_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """Object pose(s) from qpos of any leading batch shape."""
        return qpos[..., self._object_qpos]

    def _goal_arrays(
        self, achieved_goal: ArrayLike, desired_goal: ArrayLike, layout: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both goals as float64 arrays whose last dimension is the goal size (``layout`` says
        what it holds); ValueError for another size, TypeError for values that are not reals."""
        size = self.goal.shape[0]
        expected = f"an array of goals of shape (..., {size})"
        achieved_goal = real_array(achieved_goal, "achieved_goal", expected)
        desired_goal = real_array(desired_goal, "desired_goal", expected)
        for name, value in (("achieved_goal", achieved_goal), ("desired_goal", desired_goal)):
            if value.ndim == 0 or value.shape[-1] != size:
                raise ValueError(
                    f"{name} must have a last dimension of {size} ({layout}) for "
                    f"{self.env_label}, got shape {value.shape}"
                )
            if not np.isfinite(value).all():
                # a NaN distance compares False with every threshold: a NaN goal would score as
                # a plain failure (-1 sparse) instead of being noticed
                raise ValueError(f"{name} must be finite, got NaN or inf")
        try:
            if achieved_goal.shape != desired_goal.shape:
                np.broadcast_shapes(achieved_goal.shape[:-1], desired_goal.shape[:-1])
        except ValueError:
            raise ValueError(
                f"achieved_goal and desired_goal must have broadcastable batch shapes, got "
                f"{achieved_goal.shape} and {desired_goal.shape}"
            ) from None
        return achieved_goal, desired_goal

    # --- GoalEnv API ----------------------------------------------------------------------------

    def compute_reward(
        self, achieved_goal: ArrayLike, desired_goal: ArrayLike, info: Any = None
    ) -> np.ndarray:
        """The step reward for goals of any leading batch shape (``info`` is not used)."""
        return self.evaluate_goals(achieved_goal, desired_goal).reward

    def compute_success(self, achieved_goal: ArrayLike, desired_goal: ArrayLike) -> np.ndarray:
        """1.0 where every object is within the distance and rotation thresholds of its goal."""
        success = self.evaluate_goals(achieved_goal, desired_goal).success
        assert success is not None  # goal envs always score success
        return success

    def compute_terminated(
        self, achieved_goal: ArrayLike, desired_goal: ArrayLike, info: Any = None
    ) -> bool:
        """Always False: the original never terminates; TimeLimit truncates the episode."""
        return False

    def compute_truncated(
        self, achieved_goal: ArrayLike, desired_goal: ArrayLike, info: Any = None
    ) -> bool:
        """Always False: truncation comes from TimeLimit (and from simulation instability)."""
        return False

    # --- observation and goal display -----------------------------------------------------------

    def _get_obs(self) -> dict[str, np.ndarray]:
        data = self.data
        return {
            "observation": np.concatenate((data.qpos, data.qvel))[self._obs_index],
            "achieved_goal": data.qpos[self._object_qpos],
            "desired_goal": self.goal.copy(),
        }

    def _show_goal(self) -> None:
        """The ghost target bodies (gravity-compensated) sit at the goal poses."""
        self.data.qpos[self._target_qpos] = self.goal
        self.data.qvel[self._target_qvel] = 0.0
        self.sim.forward()


def pose_goal_problems(
    pose: np.ndarray, label: str, boxes: Sequence[Box3], where: str
) -> list[StateProblem]:
    """``check_state``'s checks of one goal pose per row of ``pose`` (n, 7): a unit quaternion
    and a position inside one of ``boxes`` (``where`` names them in the message)."""
    norm = np.linalg.norm(pose[:, 3:], axis=-1)
    inside = np.zeros(pose.shape[0], dtype=bool)
    for lows, highs in boxes:
        inside |= np.all(
            (pose[:, :3] >= np.asarray(lows) - BOX_TOLERANCE)
            & (pose[:, :3] <= np.asarray(highs) + BOX_TOLERANCE),
            axis=-1,
        )
    return [
        (np.abs(norm - 1.0) > QUAT_NORM_TOLERANCE, f"the quaternion of {label} must have norm 1"),
        (~inside, f"the position of {label} must lie inside {where}"),
    ]
