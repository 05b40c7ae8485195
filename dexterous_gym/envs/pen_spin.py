"""PenSpin-v0: one Shadow hand spinning a pen about its own axis, horizontally. No goal."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from dexterous_gym.envs.base import DEFAULT_SIZE, DexterousMujocoEnv
from dexterous_gym.scenes import pen_spin_model

SETTLE_STEPS = 10
POSITION_NOISE = 0.005  # std of the pen's initial x, y, z noise (m)
MIN_START_HEIGHT = 0.04  # a reset is retried until the pen's centre is above this z
TILT_PENALTY = 15.0
MAX_RESET_TRIES = 100


def pen_axis_z(quat: np.ndarray) -> np.ndarray:
    """World z component of the pen's local z axis (R_zz) for (..., 4) quaternions (w, x, y, z)."""
    x, y = quat[..., 1], quat[..., 2]
    return 1.0 - 2.0 * (x * x + y * y)


def pen_spin_reward(pen_qpos, pen_qvel, alpha: float, direction: float, pen_half_length: float):
    """alpha * direction * omega_x - 15 * |z_bottom - z_top|, for any leading batch shape.

    omega_x is the free joint's angular velocity about the pen's own x axis (body frame); the
    ends sit at +-pen_half_length on the pen's z axis, so |z_bottom - z_top| is
    2 * pen_half_length * |R_zz|. Evaluated on the post-step state (see CHANGELOG).
    """
    pen_qpos, pen_qvel = np.asarray(pen_qpos), np.asarray(pen_qvel)
    spin = pen_qvel[..., 3]
    tilt = 2.0 * pen_half_length * np.abs(pen_axis_z(pen_qpos[..., 3:7]))
    return alpha * direction * spin - TILT_PENALTY * tilt


class PenSpinEnv(DexterousMujocoEnv):
    """Spin a pen like a helicopter blade in one stock Shadow hand (250 steps, 10 s).

    Observation (61, float64): 24 hand joint angles, 24 joint velocities, the pen's free-joint
    velocity (linear world, angular body) and its pose (position, quaternion). Action: Box(-1, 1,
    (20,)). Reward: ``alpha * direction * omega_x - 15 * |z_bottom - z_top|``; ``direction`` (+1
    or -1) and ``alpha`` can be passed to ``gym.make``.
    """

    def __init__(
        self,
        direction: float = 1.0,
        alpha: float = 1.0,
        n_substeps: int = 20,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
    ):
        init_kwargs = dict(locals())
        init_kwargs.pop("self")
        init_kwargs.pop("__class__", None)
        if direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {direction!r}")
        if not np.isfinite(alpha):
            raise ValueError(f"alpha must be a finite number, got {alpha!r}")
        self.direction = float(direction)
        self.alpha = float(alpha)
        model = pen_spin_model()
        self._init_simulation(
            model,
            n_substeps,
            render_mode,
            width,
            height,
            # gym's HandEnv camera: looking at the palm
            camera={
                "distance": 0.5,
                "azimuth": 55.0,
                "elevation": -25.0,
                "lookat": np.array([1.0, 0.96, 0.14]),
            },
            init_kwargs=init_kwargs,
        )
        nq = model.nq
        pen = model.joint("object:joint")
        hand = np.arange(24)  # the 24 hand joints come first in qpos and qvel
        self._pen_qpos = np.arange(pen.qposadr[0], pen.qposadr[0] + 7)
        self._pen_qvel = np.arange(pen.dofadr[0], pen.dofadr[0] + 6)
        self._obs_index = np.concatenate((hand, nq + hand, nq + self._pen_qvel, self._pen_qpos))
        self.pen_half_length = float(model.site("object:top").pos[2])
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(61,), dtype=np.float64)

    def _get_obs(self) -> np.ndarray:
        return np.concatenate((self.data.qpos, self.data.qvel))[self._obs_index]

    def compute_reward_from_state(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The step reward for qpos/qvel of any leading batch shape (used by batched rollouts)."""
        return pen_spin_reward(
            qpos[..., self._pen_qpos],
            qvel[..., self._pen_qvel],
            self.alpha,
            self.direction,
            self.pen_half_length,
        )

    def _reward_and_info(self, obs) -> tuple[float, dict]:
        return float(self.compute_reward_from_state(self.data.qpos, self.data.qvel)), {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(MAX_RESET_TRIES):
            self.sim.reset()
            self.data.qpos[self._pen_qpos[:3]] += self.np_random.normal(0.0, POSITION_NOISE, size=3)
            self.sim.forward()
            if self._settle(SETTLE_STEPS) and self.data.qpos[self._pen_qpos[2]] > MIN_START_HEIGHT:
                break
        else:
            raise RuntimeError(f"PenSpin: no valid start state in {MAX_RESET_TRIES} resets")
        self._elapsed_steps = 0
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), {}
