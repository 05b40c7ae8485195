"""PenReorientation-v0: one Shadow hand turning a pen to a random goal pose (SCDM's pen task)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym import goals
from dexterous_gym.envs.base import DEFAULT_SIZE, Evaluation, constructor_arguments
from dexterous_gym.envs.pen_spin import MIN_START_HEIGHT, OneHandPenEnv, PenSpinEnv
from dexterous_gym.envs.pose_goal import PoseGoalEnv, pose_goal_problems
from dexterous_gym.scenes import PEN_REORIENTATION_SCENE, pen_reorientation_model
from dexterous_gym.simulation import StateProblem
from dexterous_gym.tasks import (
    PEN_REORIENTATION_MAX_EPISODE_STEPS,
    PEN_REORIENTATION_TARGET_RANGE,
    Box3,
    Vec3,
)
from dexterous_gym.validation import check_real

_ACTION_TABLE = "    <the action table of PenSpinEnv>\n"  # replaced below the class


def _vec3(values: np.ndarray) -> Vec3:
    return round(float(values[0]), 12), round(float(values[1]), 12), round(float(values[2]), 12)


class PenReorientationEnv(OneHandPenEnv[dict[str, Any]], PoseGoalEnv):
    """Turn a pen in one Shadow hand to a random goal position and 3-D orientation (100 steps, 4 s).

    ## Description

    The one-hand pen reorientation task of Charlesworth & Montana, "Solving Challenging Dexterous
    Manipulation Tasks With Trajectory Optimisation and Reinforcement Learning" (ICML 2021), as
    their SCDM code modifies gym's stock HandManipulatePen task (the TOPDM experiments select it
    as ``HandPenMod``): the stock Shadow Dexterous Hand scene of gymnasium-robotics' pen
    manipulation task (the scene of PenSpin-v0), with a pen lying across the palm. The pen must
    reach a goal pose, shown by the translucent target pen: a position near its start and a random
    orientation, scored in full 3-D (rotation about the pen's own axis included). Success needs
    the pen within 0.01 m (not the stock pen task's 0.05 m) and 0.1 rad of the goal. The reward is
    dense and drops to 0 once the pen has fallen below z = 0.

    ## Action Space

    ``Box(-1, 1, (20,), float32)``: the hand's 20 position servos, as PenSpin-v0. Each action is
    clipped to [-1, 1] and mapped to ctrl = centre + a * half-range of the actuator's control
    range, as the original's absolute control.

    <the action table of PenSpinEnv>

    ## Observation Space

    A ``Dict`` of float64 ``Box(-inf, inf)`` spaces:

    * ``observation``: 61 numbers, PenSpin-v0's observation, indexed as below. Hand joints are in
      the stock order WRJ1, WRJ0, FFJ3, FFJ2, FFJ1, FFJ0, MFJ3 ... MFJ0, RFJ3 ... RFJ0, LFJ4 ...
      LFJ0, THJ4 ... THJ0.
    * ``achieved_goal``: the pen pose, position (3, m, world) then quaternion (4, w x y z).
    * ``desired_goal``: the goal pose, in the same layout.

    | Num | Observation | Unit |
    |---|---|---|
    | 0-23 | hand joint positions | rad |
    | 24-47 | hand joint velocities | rad/s |
    | 48-50 | pen linear velocity (world frame) | m/s |
    | 51-53 | pen angular velocity (pen frame) | rad/s |
    | 54-56 | pen position (world) | m |
    | 57-60 | pen orientation, quaternion w, x, y, z | - |

    ## Rewards

    With d_pos the distance between achieved and desired position (m) and d_rot =
    2 arccos(clip(<q_achieved, q_desired>, -1, 1)) the rotation angle between the quaternions
    (rad; q and -q are not identified, as the original),

    r = P exp(-alpha (dist_fact d_pos + d_rot)), in [0, 1],

    on the state after the step, where P = 0 if the pen has fallen (its centre below
    ``death_tol``, z = 0 by default: below the hand) and 1 otherwise. Success (``is_success``)
    means d_pos < ``distance_threshold`` (0.01 m) and d_rot < ``rotation_threshold`` (0.1 rad).
    :meth:`compute_reward` gives the same reward for any batch of goals (for HER relabelling);
    ``step``, :meth:`compute_reward` and the batched rollouts all take it from
    :meth:`evaluate_goals`. ``info`` holds ``is_success``, ``d_pos``, ``d_rot``, ``is_dead``
    (1.0 if the pen has fallen, else 0.0) and ``simulation_unstable``.

    ## Starting State

    PenSpin-v0's: the scene's initial state (hand joints 0, the pen across the palm at
    (1, 0.87, 0.2)) with N(0, 0.005^2) noise on each coordinate of the pen's position and no
    rotation, then 10 zero-action steps (0.4 s); a start is retried (up to 100 times) until the
    pen's centre lies above z = 0.04 and MuJoCo did not diverge. The goal position is the pen's
    position after these steps plus an offset drawn uniformly from x [-0.04, 0.04],
    y [-0.06, 0.02], z [0, 0.06] (m, the stock pen task's range); its orientation is a rotation by
    an angle U(-pi, pi) about an axis drawn from U([-1, 1]^3), normalised (not uniform on SO(3),
    as the original); positions are drawn before rotations. Reset info holds ``is_success``.

    ``reset(options={"state": s})`` starts from a :meth:`get_state` vector instead (see
    :meth:`reset`); its goal must lie in :attr:`goal_box`, the box of possible goals (the nominal
    start plus the goal range, widened by 0.16 m, the most a start may sink and still be accepted).

    ## Episode End

    The episode never terminates (a fallen pen only zeroes the reward, as the original). It is
    truncated after 100 steps (4 s, the stock pen task's episode length) by gym.make's TimeLimit,
    and at once if MuJoCo diverges (``info["simulation_unstable"]``).

    ## Arguments

    | Argument | Default | Meaning |
    |---|---|---|
    | `distance_threshold` | 0.01 | success distance (m) |
    | `rotation_threshold` | 0.1 | success angle (rad) |
    | `dist_fact` | 10.0 | weight of d_pos in the reward |
    | `alpha` | 1.0 | the reward's decay rate |
    | `death_tol` | 0.0 | the pen's centre below this z (m) zeroes the reward |
    | `n_substeps` | 20 | physics steps of 2 ms per env step |
    | `render_mode`, `width`, `height` | None, 500, 500 | `"human"`, `"rgb_array"` or `"depth_array"` and the frame size |

    ## Version History

    * v0: SCDM's modified pen task (gym 0.15 and mujoco-py), rebuilt on Gymnasium and the
      ``mujoco`` bindings; not one of the original suite's 31 IDs (see
      ``dexterous_gym.EXTRA_ENV_IDS``). The target pen is gravity-compensated instead of being
      reset to the goal at every render.
    """

    def __init__(
        self,
        distance_threshold: float = 0.01,
        rotation_threshold: float = 0.1,
        dist_fact: float = 10.0,
        alpha: float = 1.0,
        death_tol: float = 0.0,
        n_substeps: int = 20,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
    ) -> None:
        init_kwargs = constructor_arguments(locals())
        self.distance_threshold = check_real(
            distance_threshold, "distance_threshold", positive=True
        )
        self.rotation_threshold = check_real(
            rotation_threshold, "rotation_threshold", positive=True
        )
        # negative weights would reward moving away and leave [0, 1]
        self.dist_fact = check_real(dist_fact, "dist_fact", minimum=0.0)
        self.alpha = check_real(alpha, "alpha", minimum=0.0)
        self.death_tol = check_real(death_tol, "death_tol")
        self.max_episode_steps = PEN_REORIENTATION_MAX_EPISODE_STEPS
        model = pen_reorientation_model()
        self._init_pen(
            model=model,
            scene=PEN_REORIENTATION_SCENE,
            n_substeps=n_substeps,
            goal_size=goals.GOAL_DIM,
            render_mode=render_mode,
            width=width,
            height=height,
            init_kwargs=init_kwargs,
        )
        self._object_qpos = self._pen_qpos
        target = model.joint("target:joint")
        self._target_qpos = np.arange(target.qposadr[0], target.qposadr[0] + 7)
        self._target_qvel = np.arange(target.dofadr[0], target.dofadr[0] + 6)
        # every goal lies in the goal range around a start; starts are accepted down to z = 0.04
        nominal = model.qpos0[self._pen_qpos[:3]]
        margin = float(nominal[2]) - MIN_START_HEIGHT
        lows, highs = (np.asarray(bound) for bound in PEN_REORIENTATION_TARGET_RANGE)
        self.goal_box: Box3 = (_vec3(nominal + lows - margin), _vec3(nominal + highs + margin))
        box = lambda n: gym.spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float64)  # noqa: E731
        self.observation_space = gym.spaces.Dict(
            {
                "observation": box(self._obs_index.shape[0]),
                "achieved_goal": box(goals.GOAL_DIM),
                "desired_goal": box(goals.GOAL_DIM),
            }
        )

    # --- the reward function --------------------------------------------------------------------

    def evaluate_goals(self, achieved_goal: ArrayLike, desired_goal: ArrayLike) -> Evaluation:
        """Reward, success and the terms ``d_pos``, ``d_rot`` and ``is_dead`` for pen poses of any
        (broadcastable) batch shape. Goals whose last dimension is not 7 raise ValueError; values
        that are not real numbers TypeError."""
        achieved_goal, desired_goal = self._goal_arrays(
            achieved_goal, desired_goal, "the pen's pose"
        )
        d_pos, d_rot = goals.goal_distances(achieved_goal, desired_goal)  # (..., 1): one object
        success = goals.success_from_distances(
            d_pos, d_rot, self.distance_threshold, self.rotation_threshold
        )
        alive = goals.dense_reward_from_distances(d_pos, d_rot, self.alpha, self.dist_fact)
        is_dead = (achieved_goal[..., 2] < self.death_tol).astype(np.float64)
        reward = np.where(is_dead > 0.0, 0.0, alive)
        terms = {"d_pos": d_pos[..., 0], "d_rot": d_rot[..., 0], "is_dead": is_dead}
        return Evaluation(reward, reward, success, achieved_goal, terms)

    def _goal_problems(self, goal_batch: np.ndarray) -> list[StateProblem]:
        """The goal: a unit quaternion and a position inside :attr:`goal_box`."""
        at = self.state_layout.physics_size
        return pose_goal_problems(
            goal_batch,
            f"the goal (entries {at}-{at + 6})",
            (self.goal_box,),
            f"the goal box (lows, highs) {self.goal_box}",
        )

    # --- goals ----------------------------------------------------------------------------------

    def _sample_goal(self) -> np.ndarray:
        """The pen's position plus a uniform offset from the goal range, then an "xyz" rotation
        (drawn in this order, as the original)."""
        rng = self.np_random
        position = self.data.qpos[self._pen_qpos[:3]] + rng.uniform(*PEN_REORIENTATION_TARGET_RANGE)
        return np.concatenate((position, goals.random_rotation(rng, "xyz")))


if PenReorientationEnv.__doc__ is not None and PenSpinEnv.__doc__ is not None:  # None under -OO
    # the action table, from PenSpin's card: the same hand and actuators
    _spin_card = PenSpinEnv.__doc__
    _start = _spin_card.index("    | Num | Action")
    _end = _spin_card.index("\n\n", _start) + 1
    PenReorientationEnv.__doc__ = PenReorientationEnv.__doc__.replace(
        _ACTION_TABLE, _spin_card[_start:_end]
    )
