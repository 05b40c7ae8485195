"""PenSpin-v0: one Shadow hand spinning a pen about its own axis, horizontally. No goal.

:class:`OneHandPenEnv` is what PenSpin shares with PenReorientation-v0: the stock one-hand pen
scene's camera, indices and random start."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym.envs.base import (
    DEFAULT_SIZE,
    SETTLE_STEPS,
    DexterousMujocoEnv,
    Evaluation,
    ObsT,
    constructor_arguments,
)
from dexterous_gym.scenes import PEN_CAMERA, PEN_SPIN_SCENE, pen_spin_model
from dexterous_gym.tasks import PEN_SPIN_MAX_EPISODE_STEPS
from dexterous_gym.validation import check_real

POSITION_NOISE = 0.005  # std of the pen's initial x, y, z noise (m)
MIN_START_HEIGHT = 0.04  # a reset is retried until the pen's centre is above this z
TILT_PENALTY = 15.0


def pen_axis_z(quat: np.ndarray) -> np.ndarray:
    """World z component of the pen's local z axis (R_zz) for (..., 4) quaternions (w, x, y, z)."""
    x, y = quat[..., 1], quat[..., 2]
    return 1.0 - 2.0 * (x * x + y * y)


def pen_spin_terms(
    pen_qpos: ArrayLike, pen_qvel: ArrayLike, pen_half_length: float
) -> tuple[np.ndarray, np.ndarray]:
    """(spin, tilt) for any leading batch shape: spin = omega_x, the free joint's angular velocity
    about the pen's own x axis (body frame, rad/s); tilt = |z_bottom - z_top| (m). The ends sit at
    +-pen_half_length on the pen's z axis, so the tilt is 2 * pen_half_length * |R_zz|."""
    pen_qpos, pen_qvel = np.asarray(pen_qpos), np.asarray(pen_qvel)
    spin = pen_qvel[..., 3]
    tilt = 2.0 * pen_half_length * np.abs(pen_axis_z(pen_qpos[..., 3:7]))
    return spin, tilt


def pen_end_heights(pen_qpos: ArrayLike, pen_half_length: float) -> tuple[np.ndarray, np.ndarray]:
    """World z of the pen's ends (sites ``object:bottom`` and ``object:top``, at -+pen_half_length
    on the pen's z axis) for any leading batch shape."""
    pen_qpos = np.asarray(pen_qpos)
    offset = pen_half_length * pen_axis_z(pen_qpos[..., 3:7])
    return pen_qpos[..., 2] - offset, pen_qpos[..., 2] + offset


def spin_reward(spin: np.ndarray, tilt: np.ndarray, alpha: float, direction: float) -> np.ndarray:
    """alpha * direction * spin - 15 * tilt: the original PenSpin reward from its two terms."""
    return alpha * direction * spin - TILT_PENALTY * tilt


def pen_spin_reward(
    pen_qpos: ArrayLike,
    pen_qvel: ArrayLike,
    alpha: float,
    direction: float,
    pen_half_length: float,
) -> np.ndarray:
    """alpha * direction * omega_x - 15 * |z_bottom - z_top|, for any leading batch shape.

    See :func:`pen_spin_terms`. Evaluated on the post-step state (see CHANGELOG).
    """
    return spin_reward(*pen_spin_terms(pen_qpos, pen_qvel, pen_half_length), alpha, direction)


class OneHandPenEnv(DexterousMujocoEnv[ObsT]):
    """Base of the one-hand pen envs (the stock scene of gymnasium-robotics' pen task).

    :meth:`_init_pen` builds the simulation with the pen scene's camera and the pen's indices;
    :meth:`_reset_simulation` is the shared random start: the scene's initial state, N(0, 0.005^2)
    noise on the pen's x, y, z, 10 zero-action steps, retried until the pen's centre is above
    z = 0.04.
    """

    max_reset_tries = 100

    pen_half_length: float
    _pen_qpos: np.ndarray  # the pen's 7 free-joint qpos entries (position, quaternion)
    _pen_qvel: np.ndarray  # its 6 qvel entries (linear velocity, angular velocity in pen frame)
    _obs_index: np.ndarray  # into concat(qpos, qvel): hand qpos, hand qvel, pen qvel, pen qpos

    def _init_pen(
        self,
        *,
        model: mujoco.MjModel,
        scene: str,
        n_substeps: int,
        goal_size: int,
        render_mode: str | None,
        width: int,
        height: int,
        init_kwargs: dict[str, Any],
    ) -> None:
        """:meth:`_init_simulation` of a pen scene (camera :data:`~dexterous_gym.scenes.PEN_CAMERA`),
        then the pen's indices into qpos, qvel and the observation."""
        self._init_simulation(
            model=model,
            scene=scene,
            camera=PEN_CAMERA,
            n_substeps=n_substeps,
            goal_size=goal_size,
            render_mode=render_mode,
            width=width,
            height=height,
            init_kwargs=init_kwargs,
        )
        nq = model.nq
        pen = model.joint("object:joint")
        hand = np.arange(24)  # the 24 hand joints come first in qpos and qvel
        self._pen_qpos = np.arange(pen.qposadr[0], pen.qposadr[0] + 7)
        self._pen_qvel = np.arange(pen.dofadr[0], pen.dofadr[0] + 6)
        self._obs_index = np.concatenate((hand, nq + hand, nq + self._pen_qvel, self._pen_qpos))
        self.pen_half_length = float(model.site("object:top").pos[2])

    def _reset_simulation(self) -> bool:
        self.sim.reset()
        self.data.qpos[self._pen_qpos[:3]] += self.np_random.normal(0.0, POSITION_NOISE, size=3)
        self.sim.forward()
        settled = self._settle(SETTLE_STEPS)
        return settled and bool(self.data.qpos[self._pen_qpos[2]] > MIN_START_HEIGHT)


class PenSpinEnv(OneHandPenEnv[np.ndarray]):
    """Spin a pen like a helicopter blade in one Shadow hand (250 steps, 10 s).

    ## Description

    The PenSpin task of Charlesworth & Montana, "Solving Challenging Dexterous Manipulation
    Tasks With Trajectory Optimisation and Reinforcement Learning" (ICML 2021), with the numbers
    of the original Dexterous Gym code: the stock Shadow Dexterous Hand scene of
    gymnasium-robotics' pen manipulation task, with a pen lying across the palm. The hand should
    spin the pen about the pen's own x axis while keeping it horizontal. There is no goal (the
    scene's target pen is parked, invisible).

    ## Action Space

    ``Box(-1, 1, (20,), float32)``: the hand's 20 position servos. Each action is clipped to
    [-1, 1] and mapped to ctrl = centre + a * half-range of the actuator's control range, as the
    original's absolute control.

    | Num | Action (a = -1 ... 1 maps linearly onto ctrl min ... max) | Ctrl Min | Ctrl Max | Actuator |
    |---|---|---|---|---|
    | 0 | wrist, radial/ulnar deviation (rad) | -0.489 | 0.14 | `robot0:A_WRJ1` |
    | 1 | wrist, flexion/extension (rad) | -0.698 | 0.489 | `robot0:A_WRJ0` |
    | 2 | first finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_FFJ3` |
    | 3 | first finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_FFJ2` |
    | 4 | first finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_FFJ1` |
    | 5 | middle finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_MFJ3` |
    | 6 | middle finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_MFJ2` |
    | 7 | middle finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_MFJ1` |
    | 8 | ring finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_RFJ3` |
    | 9 | ring finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_RFJ2` |
    | 10 | ring finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_RFJ1` |
    | 11 | little finger CMC (rad) | 0 | 0.785 | `robot0:A_LFJ4` |
    | 12 | little finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_LFJ3` |
    | 13 | little finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_LFJ2` |
    | 14 | little finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_LFJ1` |
    | 15 | thumb CMC, horizontal (rad) | -1.047 | 1.047 | `robot0:A_THJ4` |
    | 16 | thumb CMC, vertical (rad) | 0 | 1.222 | `robot0:A_THJ3` |
    | 17 | thumb MCP, abduction (rad) | -0.209 | 0.209 | `robot0:A_THJ2` |
    | 18 | thumb MCP, flexion (rad) | -0.524 | 0.524 | `robot0:A_THJ1` |
    | 19 | thumb IP, flexion (rad) | -1.571 | 0 | `robot0:A_THJ0` |

    ## Observation Space

    ``Box(-inf, inf, (61,), float64)``. Hand joints are in the stock order WRJ1, WRJ0, FFJ3,
    FFJ2, FFJ1, FFJ0, MFJ3 ... MFJ0, RFJ3 ... RFJ0, LFJ4 ... LFJ0, THJ4 ... THJ0.

    | Num | Observation | Unit |
    |---|---|---|
    | 0-23 | hand joint positions | rad |
    | 24-47 | hand joint velocities | rad/s |
    | 48-50 | pen linear velocity (world frame) | m/s |
    | 51-53 | pen angular velocity (pen frame; 51 is omega_x, the spin) | rad/s |
    | 54-56 | pen position (world) | m |
    | 57-60 | pen orientation, quaternion w, x, y, z | - |

    ## Rewards

    r = alpha * direction * spin - 15 * tilt, on the state after the step, where spin = omega_x
    is the pen's angular velocity about its own x axis (rad/s) and tilt = |z_bottom - z_top| is
    the height difference of the pen's ends (m; 0.2 |R_zz| for the 0.2 m pen). ``info`` holds
    both terms, ``spin`` and ``tilt``, the world z of the pen's ends, ``z_bottom`` and ``z_top``
    (m; not in the reward: a planner can see a dropped pen from them), and
    ``simulation_unstable``; there is no ``is_success``.
    The batched rollouts take the same reward from :meth:`evaluate`.

    ## Starting State

    The scene's initial state (hand joints 0, the pen across the palm at (1, 0.87, 0.2)) with
    N(0, 0.005^2) noise on each coordinate of the pen's position, then 10 zero-action steps
    (0.4 s); a start is retried (up to 100 times) until the pen's centre lies above z = 0.04 and
    MuJoCo did not diverge. Reset info is empty. ``reset(options={"state": s})`` starts from a
    :meth:`get_state` vector instead (see :meth:`reset`).

    ## Episode End

    The episode never terminates. It is truncated after 250 steps (10 s) by gym.make's
    TimeLimit, and at once if MuJoCo diverges (``info["simulation_unstable"]``).

    ## Arguments

    | Argument | Default | Meaning |
    |---|---|---|
    | `direction` | 1 | +1 or -1: the rewarded spin sense |
    | `alpha` | 1.0 | weight of the spin term |
    | `n_substeps` | 20 | physics steps of 2 ms per env step |
    | `render_mode`, `width`, `height` | None, 500, 500 | `"human"`, `"rgb_array"` or `"depth_array"` and the frame size |

    ## Version History

    * v0: the ID, episode length and reward of the original Dexterous Gym code (gym 0.15 and
      mujoco-py), rebuilt on Gymnasium and the ``mujoco`` bindings; ``direction`` and ``alpha``
      can be passed to ``gym.make``. The differences are listed in CHANGELOG.md.
    """

    def __init__(
        self,
        direction: float = 1.0,
        alpha: float = 1.0,
        n_substeps: int = 20,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
    ) -> None:
        init_kwargs = constructor_arguments(locals())
        if check_real(direction, "direction") not in (1.0, -1.0):
            raise ValueError(f"direction must be +1 or -1, got {direction!r}")
        self.direction = float(direction)
        self.alpha = check_real(alpha, "alpha")
        self.max_episode_steps = PEN_SPIN_MAX_EPISODE_STEPS
        self._init_pen(
            model=pen_spin_model(),
            scene=PEN_SPIN_SCENE,
            n_substeps=n_substeps,
            goal_size=0,  # PenSpin has no goal
            render_mode=render_mode,
            width=width,
            height=height,
            init_kwargs=init_kwargs,
        )
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, shape=self._obs_index.shape, dtype=np.float64
        )

    def evaluate(self, qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray) -> Evaluation:
        """The step reward and its terms ``spin`` and ``tilt`` for qpos/qvel of any leading
        batch shape (``goal`` is empty: PenSpin has none)."""
        pen_qpos = qpos[..., self._pen_qpos]
        spin, tilt = pen_spin_terms(pen_qpos, qvel[..., self._pen_qvel], self.pen_half_length)
        reward = spin_reward(spin, tilt, self.alpha, self.direction)
        # the ends' heights are not in the reward; planners use them to see a dropped pen
        z_bottom, z_top = pen_end_heights(pen_qpos, self.pen_half_length)
        terms = {"spin": spin, "tilt": tilt, "z_bottom": z_bottom, "z_top": z_top}
        return Evaluation(reward, reward, None, None, terms)

    def _get_obs(self) -> np.ndarray:
        return np.concatenate((self.data.qpos, self.data.qvel))[self._obs_index]
