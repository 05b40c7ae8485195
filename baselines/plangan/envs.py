"""PlanGAN's Fetch observation layouts as Gymnasium wrappers over gymnasium-robotics' Fetch envs.

The original PlanGAN code (``henrycharlesworth/PlanGAN``) used its own variants of gym's Fetch
envs. Their ``observation`` vectors differ from gymnasium-robotics' 25-d one:

* FetchPush (24-d, gripper blocked): grip pos 3, object pos 3, object - grip 3, object Euler 3,
  *the same Euler angles again* 3 (the "sin/cos" slots were left untransformed), object linear
  velocity relative to the gripper 3, object angular velocity 3, gripper velocity 3; no finger
  state;
* FetchPickAndPlace (28-d): grip pos 3, object pos 3, object - grip 3, finger positions 2,
  sin(Euler) 3, cos(Euler) 3, object relative linear velocity 3, object angular velocity 3,
  gripper velocity 3, finger velocities 2.

The wrappers keep the goal-env Dict (``observation``, ``achieved_goal``, ``desired_goal``) and
``compute_reward``, so they are goal envs for HER too: the IDs ``PlanGANFetchPush-v4`` and
``PlanGANFetchPickAndPlace-v4`` (50-step TimeLimit) are registered when this module is imported,
and ``gym.make("baselines.plangan.envs:PlanGANFetchPush-v4")`` imports it by itself.

:meth:`PlanGANFetchObservation.canonicalise` is the planner's cube-symmetry step: of 13
symmetries of the cube it picks the one that makes the object's roll and pitch smallest and its
yaw closest to the previous choice, and writes it back into the simulator (object quaternion and
angular velocity), which leaves the physical state unchanged and keeps the Euler features
continuous.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from baselines.common.envs import register_env_packages

BASE_IDS = {"push": "FetchPush-v4", "pick_and_place": "FetchPickAndPlace-v4"}
PLANGAN_IDS = {"push": "PlanGANFetchPush-v4", "pick_and_place": "PlanGANFetchPickAndPlace-v4"}
STATE_DIMS = {"push": 24, "pick_and_place": 28}
OBJECT_POS = slice(3, 6)  # the planner reads the object position from state[3:6]
OBJECT_JOINT = "object0:joint"


def env_kind(env_id: str) -> str:
    """``push`` or ``pick_and_place`` for the IDs PlanGAN supports; ``ValueError`` otherwise."""
    name = env_id.split(":")[-1]
    for kind in BASE_IDS:
        if name in (BASE_IDS[kind], PLANGAN_IDS[kind]):
            return kind
    known = [*BASE_IDS.values(), *PLANGAN_IDS.values()]
    raise ValueError(f"--env must be one of {known} (PlanGAN's Fetch tasks), got {env_id!r}")


def _quat_axis(axis: int, degrees: float) -> np.ndarray:
    half = np.deg2rad(degrees) / 2
    q = np.zeros(4)
    q[0] = np.cos(half)
    q[1 + axis] = np.sin(half)
    return q


# identity, 90 degrees about +-x, +-y, +-z, and 180 degrees about +-x, +-y, +-z (13 quaternions)
CUBE_SYMMETRIES = np.array(
    [[1.0, 0.0, 0.0, 0.0]]
    + [_quat_axis(axis, sign * 90.0) for axis in range(3) for sign in (1, -1)]
    + [_quat_axis(axis, sign * 180.0) for axis in range(3) for sign in (1, -1)]
)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (w, x, y, z) quaternions (broadcasting)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)  # fmt: skip


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


class PlanGANFetchObservation(gym.ObservationWrapper[Any, Any, Any]):
    """FetchPush / FetchPickAndPlace with PlanGAN's observation layout (see the module doc)."""

    def __init__(self, env: gym.Env[Any, Any], kind: str | None = None) -> None:
        super().__init__(env)
        if kind is None:
            spec = env.spec or env.unwrapped.spec
            kind = env_kind(spec.id if spec is not None else "")
        if kind not in BASE_IDS:
            raise ValueError(f"kind must be one of {list(BASE_IDS)}, got {kind!r}")
        self.kind = kind
        dim = STATE_DIMS[kind]
        old = env.observation_space
        assert isinstance(old, spaces.Dict)
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float64),
            "achieved_goal": old["achieved_goal"], "desired_goal": old["desired_goal"],
        })  # fmt: skip
        self.previous_yaw = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.previous_yaw = 0.0  # the canonicalisation's previous yaw resets each episode
        return super().reset(**kwargs)

    def layout(self, stock: np.ndarray) -> np.ndarray:
        """PlanGAN's state vector from gymnasium-robotics' 25-d ``observation``."""
        grip, obj, rel = stock[0:3], stock[3:6], stock[6:9]
        fingers, euler = stock[9:11], stock[11:14]
        velp, velr, grip_velp, finger_vel = stock[14:17], stock[17:20], stock[20:23], stock[23:25]
        if self.kind == "push":
            return np.concatenate([grip, obj, rel, euler, euler, velp, velr, grip_velp])
        return np.concatenate([grip, obj, rel, fingers, np.sin(euler), np.cos(euler), velp,
                               velr, grip_velp, finger_vel])  # fmt: skip

    def observation(self, observation: Any) -> Any:
        return {**observation, "observation": self.layout(np.asarray(observation["observation"]))}

    def current_observation(self) -> dict[str, np.ndarray]:
        """The observation of the simulator's current state (after :meth:`canonicalise`)."""
        unwrapped: Any = self.env.unwrapped
        out: dict[str, np.ndarray] = self.observation(unwrapped._get_obs())
        return out

    @property
    def sim_model(self) -> Any:
        """The MuJoCo model of the wrapped Fetch env."""
        return self.env.unwrapped.model  # type: ignore[attr-defined]

    @property
    def sim_data(self) -> Any:
        """The MuJoCo data of the wrapped Fetch env."""
        return self.env.unwrapped.data  # type: ignore[attr-defined]

    def _object_addresses(self) -> tuple[int, int]:
        model = self.sim_model
        joint = model.joint(OBJECT_JOINT).id
        return int(model.jnt_qposadr[joint]), int(model.jnt_dofadr[joint])

    def canonicalise(self) -> dict[str, np.ndarray]:
        """Rotate the cube by the best of :data:`CUBE_SYMMETRIES`, in the simulator; new obs.

        The object's orientation ``q_obj`` becomes ``q_obj * q``; MuJoCo's free-joint angular
        velocity is in the body frame, so it is rotated by ``q^-1``. World-frame positions and
        velocities of every point of the cube are unchanged.
        """
        import mujoco
        from gymnasium_robotics.utils import rotations

        data = self.sim_data
        qadr, vadr = self._object_addresses()
        quat = data.qpos[qadr + 3 : qadr + 7].copy()
        candidates = quat_mul(quat[None, :], CUBE_SYMMETRIES)
        eulers = rotations.quat2euler(candidates)
        cost = np.linalg.norm(eulers[:, :2], axis=1) + np.abs(eulers[:, 2] - self.previous_yaw)
        best = int(np.argmin(cost))
        self.previous_yaw = float(eulers[best, 2])
        if best != 0:
            data.qpos[qadr + 3 : qadr + 7] = candidates[best]
            rotation = quat_to_mat(CUBE_SYMMETRIES[best])
            data.qvel[vadr + 3 : vadr + 6] = rotation.T @ data.qvel[vadr + 3 : vadr + 6]
            mujoco.mj_forward(self.sim_model, data)
        return self.current_observation()


def trajectory_kept(kind: str, achieved: np.ndarray, moved: float = 0.05, fell: float = 0.1) -> bool:  # fmt: skip
    """``filter_rand_trajs``: the object moved more than ``moved`` between the first and the last
    achieved goal (and, for pick-and-place, did not drop more than ``fell`` in z: off the table)."""
    first, last = achieved[0], achieved[-1]
    if np.linalg.norm(first - last) <= moved:
        return False
    return not (kind == "pick_and_place" and first[2] - last[2] > fell)


def make_plangan_fetch(kind: str, **kwargs: Any) -> PlanGANFetchObservation:
    """The stock Fetch env of ``kind`` (no TimeLimit) under :class:`PlanGANFetchObservation`."""
    register_env_packages()
    return PlanGANFetchObservation(gym.make(BASE_IDS[kind], **kwargs).unwrapped, kind)


def register_plangan_envs() -> None:
    """Register ``PlanGANFetchPush-v4`` and ``PlanGANFetchPickAndPlace-v4`` (50-step episodes)."""
    for kind, env_id in PLANGAN_IDS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="baselines.plangan.envs:make_plangan_fetch", max_episode_steps=50, kwargs={"kind": kind})  # fmt: skip


register_plangan_envs()
