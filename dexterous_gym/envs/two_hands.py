"""The goal-conditioned two-hand env behind all 30 HandOver / Catch IDs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium_robotics.core import GoalEnv

from dexterous_gym import goals
from dexterous_gym.envs.base import DEFAULT_SIZE, DexterousMujocoEnv
from dexterous_gym.scenes import two_hand_model
from dexterous_gym.tasks import (
    FAMILIES,
    OBJECTS,
    OVERARM_HAND_QPOS,
    OVERARM_OBJECT_POS,
    OVERARM_PEN_QUAT,
    TASKS_BY_ID,
    Task,
)

TARGET_ROTATIONS = ("xyz", "z", "ignore")
REWARD_TYPES = ("dense", "sparse")
SETTLE_STEPS = 10  # zero-action env steps after every standard reset
MAX_RESET_TRIES = 10


def _check_box(value, name: str) -> tuple:
    array = np.asarray(value, dtype=np.float64)
    if array.shape == (3, 2):  # the original's [[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]]
        array = array.T
    if array.shape != (2, 3) or not np.all(np.isfinite(array)) or np.any(array[0] > array[1]):
        raise ValueError(
            f"{name} must be [[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]] with lo <= hi, got {value!r}"
        )
    return tuple(map(tuple, array))


class TwoHandsEnv(DexterousMujocoEnv, GoalEnv):
    """Two Shadow hands passing or throwing an egg, block or pen to a goal pose.

    One class serves every two-hand ID: ``task`` names a row of :mod:`dexterous_gym.tasks` (an env
    ID such as ``"EggCatchUnderarm-v0"``, or a :class:`Task`), and the keyword arguments are the
    original's constructor arguments (defaults as in the original).

    Observation: Dict of float64 Boxes. ``observation`` is hand-1 qpos, hand-1 qvel, hand-2 qpos,
    hand-2 qvel (the six mount DoFs first in catch families), then per object its position,
    quaternion, linear velocity (world) and angular velocity (body frame): 109 (HandOver), 133
    (one object) or 146 (two objects) numbers. ``achieved_goal``/``desired_goal`` are object
    poses, flat 14-vectors for two objects. Action: Box(-1, 1, (40 or 52,)); indices 40-45 move
    hand 2's mount and 46-51 hand 1's, as in the original.
    """

    def __init__(
        self,
        task: str | Task = "EggHandOver-v0",
        reward_type: str | None = None,
        target_rotation: str = "xyz",
        target_range_1=None,
        target_range_2=None,
        distance_threshold: float = 0.01,
        rotation_threshold: float = 0.1,
        dist_multiplier: float | None = None,
        randomise_initial_rotation: bool | None = None,
        n_substeps: int = 20,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
    ):
        init_kwargs = dict(locals())
        init_kwargs.pop("self")
        init_kwargs.pop("__class__", None)
        if isinstance(task, str):
            if task not in TASKS_BY_ID:
                raise ValueError(
                    f"task must be a two-hand env ID such as 'EggHandOver-v0', got {task!r}; see dexterous_gym.tasks.TASKS_BY_ID"
                )
            task = TASKS_BY_ID[task]
        if task.family not in FAMILIES or task.object not in OBJECTS:
            raise ValueError(f"task has an unknown family or object: {task!r}")
        reward_type = task.reward_type if reward_type is None else reward_type
        if reward_type not in REWARD_TYPES:
            raise ValueError(f"reward_type must be one of {REWARD_TYPES}, got {reward_type!r}")
        if target_rotation not in TARGET_ROTATIONS:
            raise ValueError(
                f"target_rotation must be one of {TARGET_ROTATIONS}, got {target_rotation!r}"
            )
        for name, value in (
            ("distance_threshold", distance_threshold),
            ("rotation_threshold", rotation_threshold),
        ):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")

        self.task = task
        self.family = family = FAMILIES[task.family]
        self.reward_type = reward_type
        self.target_rotation = target_rotation
        self.target_range_1 = _check_box(
            target_range_1 if target_range_1 is not None else family.target_range_1,
            "target_range_1",
        )
        self.target_range_2 = _check_box(
            target_range_2 if target_range_2 is not None else family.target_range_2,
            "target_range_2",
        )
        self.distance_threshold = float(distance_threshold)
        self.rotation_threshold = float(rotation_threshold)
        self.dist_multiplier = float(
            family.dist_multiplier if dist_multiplier is None else dist_multiplier
        )
        self.reward_prefactor = family.reward_prefactor
        self.randomise_initial_rotation = (
            task.randomise_initial_rotation
            if randomise_initial_rotation is None
            else bool(randomise_initial_rotation)
        ) and not family.fixed_start  # the Overarm reset ignores the flag, as the original
        self.n_objects = 2 if family.two_objects else 1

        self._init_simulation(
            two_hand_model(task.family, task.object),
            n_substeps,
            render_mode,
            width,
            height,
            camera={
                "distance": family.camera_distance,
                "azimuth": 180.0,
                "elevation": family.camera_elevation,
                "lookat": np.array(family.camera_lookat),
            },
            init_kwargs=init_kwargs,
        )
        self._build_indices()
        self.goal = np.zeros(goals.GOAL_DIM * self.n_objects)
        obs = self._get_obs()
        box = lambda n: gym.spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float64)  # noqa: E731
        self.observation_space = gym.spaces.Dict(
            {
                "observation": box(obs["observation"].shape[0]),
                "achieved_goal": box(self.goal.shape[0]),
                "desired_goal": box(self.goal.shape[0]),
            }
        )

    def _build_indices(self) -> None:
        """Index arrays into concat(qpos, qvel) that give the observation in one gather."""
        model, nq = self.model, self.model.nq
        hand_joints = [j for j in range(model.njnt) if model.joint(j).name.startswith("robot")]
        hands = [
            [j for j in hand_joints if not model.joint(j).name.endswith("_2")],
            [j for j in hand_joints if model.joint(j).name.endswith("_2")],
        ]
        index = []
        for joints in hands:  # every hand joint is a 1-DoF joint: one qpos, one qvel each
            index += [model.jnt_qposadr[j] for j in joints]
            index += [nq + model.jnt_dofadr[j] for j in joints]
        self._object_qpos = []
        self._target_qpos = []
        self._target_qvel = []
        for suffix in ("", "_2")[: self.n_objects]:
            q = model.joint(f"object{suffix}:joint").qposadr[0]
            v = model.joint(f"object{suffix}:joint").dofadr[0]
            index += list(range(q, q + 7)) + list(range(nq + v, nq + v + 6))
            self._object_qpos += list(range(q, q + 7))
            tq = model.joint(f"target{suffix}:joint").qposadr[0]
            tv = model.joint(f"target{suffix}:joint").dofadr[0]
            self._target_qpos += list(range(tq, tq + 7))
            self._target_qvel += list(range(tv, tv + 6))
        self._obs_index = np.array(index)
        self._object_qpos = np.array(self._object_qpos)
        self._hand_qpos = np.arange(len(hand_joints))  # hands come first in qpos

    # --- GoalEnv API ----------------------------------------------------------------------------

    def compute_reward(self, achieved_goal, desired_goal, info=None):
        """Reward for any leading batch shape: dense exp(-k(m d_pos + d_rot)) summed over objects,
        or sparse success - 1."""
        ignore = self.target_rotation == "ignore"
        if self.reward_type == "sparse":
            return self.compute_success(achieved_goal, desired_goal) - 1.0
        return goals.dense_reward(
            achieved_goal, desired_goal, self.reward_prefactor, self.dist_multiplier, ignore
        )

    def compute_success(self, achieved_goal, desired_goal) -> np.ndarray:
        """1.0 where every object is within 0.01 m and 0.1 rad of its goal (any batch shape)."""
        ignore = self.target_rotation == "ignore"
        return goals.success(
            achieved_goal, desired_goal, self.distance_threshold, self.rotation_threshold, ignore
        )

    def compute_terminated(self, achieved_goal, desired_goal, info=None) -> bool:
        return False  # the original never terminates; TimeLimit truncates at 75 steps

    def compute_truncated(self, achieved_goal, desired_goal, info=None) -> bool:
        return False

    # --- observation, reward --------------------------------------------------------------------

    def achieved_goal_from_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """Object pose(s) from qpos of any leading batch shape (used by the batched rollouts)."""
        return qpos[..., self._object_qpos]

    def _get_obs(self) -> dict[str, np.ndarray]:
        data = self.data
        return {
            "observation": np.concatenate((data.qpos, data.qvel))[self._obs_index],
            "achieved_goal": data.qpos[self._object_qpos],
            "desired_goal": self.goal.copy(),
        }

    def _reward_and_info(self, obs) -> tuple[float, dict[str, Any]]:
        is_success = float(self.compute_success(obs["achieved_goal"], self.goal))
        if self.reward_type == "sparse":
            reward = is_success - 1.0
        else:
            reward = float(self.compute_reward(obs["achieved_goal"], self.goal))
        return reward, {"is_success": is_success}

    # --- reset and goals ------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(MAX_RESET_TRIES):
            if self._reset_sim():
                break
        else:
            raise RuntimeError(
                f"{self.task.env_id}: the simulation diverged in {MAX_RESET_TRIES} resets in a row"
            )
        self._elapsed_steps = 0
        self.goal = self._sample_goal()
        self._place_targets()
        obs = self._get_obs()
        if self.render_mode == "human":
            self.render()
        return obs, {"is_success": float(self.compute_success(obs["achieved_goal"], self.goal))}

    def _reset_sim(self) -> bool:
        self.sim.reset()
        qpos = self.data.qpos
        if self.family.fixed_start:
            qpos[: OVERARM_HAND_QPOS.shape[0]] = OVERARM_HAND_QPOS
            quat = OVERARM_PEN_QUAT if self.task.object == "pen" else (1.0, 0.0, 0.0, 0.0)
            qpos[self._object_qpos[:7]] = (*OVERARM_OBJECT_POS, *quat)
            self.sim.forward()
            return True
        if self.randomise_initial_rotation:
            for k in range(self.n_objects):
                quat_index = self._object_qpos[7 * k + 3 : 7 * k + 7]
                offset = goals.random_rotation(self.np_random, "xyz")
                quat = goals.quat_multiply(qpos[quat_index], offset)
                qpos[quat_index] = quat / np.linalg.norm(quat)
        return self._settle(SETTLE_STEPS)

    def _sample_goal(self) -> np.ndarray:
        """Goal position(s) from the range on the far side of object 1; rotation(s) per
        target_rotation. Draw order as the original: positions first, then rotations."""
        rng = self.np_random
        position = self.data.qpos[self._object_qpos[:3]]
        far_first = np.linalg.norm(
            position - goals.box_centre(self.target_range_1)
        ) > np.linalg.norm(position - goals.box_centre(self.target_range_2))
        boxes = (self.target_range_1, self.target_range_2)
        if not far_first:
            boxes = boxes[::-1]
        positions = [rng.uniform(*boxes[k]) for k in range(self.n_objects)]
        quats = [goals.random_rotation(rng, self.target_rotation) for _ in range(self.n_objects)]
        return np.concatenate([np.concatenate(pq) for pq in zip(positions, quats, strict=True)])

    def _place_targets(self) -> None:
        """Show the goal: the ghost target bodies (gravity-compensated) sit at the goal poses."""
        self.data.qpos[self._target_qpos] = self.goal
        self.data.qvel[self._target_qvel] = 0.0
        self.sim.forward()

    # --- state API: the goal is part of the state -----------------------------------------------

    def _task_state(self) -> np.ndarray:
        return self.goal.copy()

    def _set_task_state(self, task_state: np.ndarray) -> None:
        self.goal = task_state.copy()
