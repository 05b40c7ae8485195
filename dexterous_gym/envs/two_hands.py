"""The goal-conditioned two-hand env behind all 30 HandOver / Catch IDs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym import goals
from dexterous_gym.envs.base import DEFAULT_SIZE, SETTLE_STEPS, Evaluation, constructor_arguments
from dexterous_gym.envs.pose_goal import PoseGoalEnv, pose_goal_problems
from dexterous_gym.scenes import two_hand_camera, two_hand_model, two_hand_scene
from dexterous_gym.simulation import StateProblem
from dexterous_gym.tasks import (
    FAMILIES,
    OBJECTS,
    OVERARM_HAND_QPOS,
    OVERARM_OBJECT_POS,
    OVERARM_PEN_QUAT,
    TASKS_BY_ID,
    Box3,
    Task,
)
from dexterous_gym.validation import check_bool, check_choice, check_real, describe, real_array

TARGET_ROTATIONS = ("xyz", "z", "ignore")
REWARD_TYPES = ("dense", "sparse")


def _check_box(value: ArrayLike, name: str) -> Box3:
    expected = "[[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]]"
    array = real_array(value, name, expected)
    if array.shape == (3, 2):  # the original's [[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]]
        array = array.T
    if array.shape != (2, 3) or not np.all(np.isfinite(array)) or np.any(array[0] > array[1]):
        raise ValueError(
            f"{name} must be [[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]] with lo <= hi, got {value!r}"
        )
    lows, highs = (tuple(float(v) for v in row) for row in array)
    return (lows[0], lows[1], lows[2]), (highs[0], highs[1], highs[2])


class TwoHandsEnv(PoseGoalEnv):
    """Two Shadow hands passing or throwing an egg, block or pen to a goal pose.

    ## Description

    The two-hand tasks of Charlesworth & Montana, "Solving Challenging Dexterous Manipulation Tasks
    With Trajectory Optimisation and Reinforcement Learning" (ICML 2021), with the numbers of the
    original Dexterous Gym code. Two Shadow Dexterous Hands face each other; one of them holds an
    object (egg, block or pen), which must reach a goal pose (position and orientation) next to
    the other hand: handed over between fixed hands (HandOver), or thrown and caught by hands that
    can also move their bases (the Catch families). In TwoCatchUnderarm each hand holds one object
    and both must swap hands at once.

    One class serves all 30 two-hand IDs: ``task`` names a row of :mod:`dexterous_gym.tasks`, and
    the rows differ only in the numbers below (``{Object}`` is Egg, Block or Pen; k and m are the
    dense reward's prefactor and distance multiplier; the sizes are those of the spaces). The
    table is :func:`dexterous_gym.tasks.family_table`:

    | Family | IDs (dense / sparse) | Hands | Objects | Actions | Observation | Start | `target_range_1` (m) | `target_range_2` (m) | k | m |
    |---|---|---|---|---|---|---|---|---|---|---|
    | HandOver | `{Object}HandOver-v0` / `{Object}HandOverSparse-v0` | fixed | 1 | 40 | 109 | settled | x [0.96, 1.04], y [0.81, 0.89], z [0.2, 0.26] | x [0.96, 1.04], y [0.6, 0.68], z [0.2, 0.26] | 1 | 20 |
    | CatchUnderarm | `{Object}CatchUnderarm-v0` / `{Object}CatchUnderarmSparse-v0` | moving | 1 | 52 | 133 | settled | x [0.9, 1.1], y [0.33, 0.5], z [0.1, 0.4] | x [0.9, 1.1], y [0.85, 1.02], z [0.1, 0.4] | 0.2 | 50 |
    | CatchUnderarmHard | `{Object}CatchUnderarmHard-v0` / `{Object}CatchUnderarmHardSparse-v0` | moving | 1 | 52 | 133 | settled | x [0.97, 1.03], y [0.08, 0.15], z [0.15, 0.35] | x [0.97, 1.03], y [1.2, 1.27], z [0.15, 0.35] | 0.2 | 50 |
    | CatchOverarm | `{Object}CatchOverarm-v0` / `{Object}CatchOverarmSparse-v0` | moving | 1 | 52 | 133 | recorded | x [0.9, 1.1], y [-0.05, 0.05], z [0.4, 0.5] | x [0.9, 1.1], y [1.25, 1.35], z [0.4, 0.5] | 0.2 | 50 |
    | TwoCatchUnderarm | `Two{Object}CatchUnderArm-v0` / `Two{Object}CatchUnderArmSparse-v0` | moving | 2 | 52 | 146 | settled | x [0.97, 1.03], y [0.38, 0.45], z [0.15, 0.35] | x [0.97, 1.03], y [0.9, 0.97], z [0.15, 0.35] | 0.2 | 50 |

    "Moving" hands have six actuated, unlimited DoFs at their base (slides along and hinges about
    the mount's x, y and z axes, driven by spring-like actuators); fixed hands do not. The two
    hands do not collide with each other (as the original).

    ## Action Space

    ``Box(-1, 1, (40,), float32)`` for HandOver, ``Box(-1, 1, (52,), float32)`` otherwise. Each
    action is clipped to [-1, 1] and mapped to ctrl = centre + a * half-range of the actuator's
    control range (then clipped to it), as the original's absolute control. The finger and wrist
    actuators are position servos (ctrl is a target joint angle in rad); the mount actuators are
    springs (force 100 u - 500 q for slides x and y, 40 u - 500 q for slide z, 500 u - 700 q,
    200 u - 1000 q and 200 u - 1000 q for hinges x, y, z), so at rest a mount joint sits near
    (gain / stiffness) * u, minus the sag under the hand's weight.

    | Num | Action (a = -1 ... 1 maps linearly onto ctrl min ... max) | Ctrl Min | Ctrl Max | Actuator |
    |---|---|---|---|---|
    | 0 | hand 1 wrist, radial/ulnar deviation (rad) | -0.489 | 0.14 | `robot0:A_WRJ1` |
    | 1 | hand 1 wrist, flexion/extension (rad) | -0.698 | 0.489 | `robot0:A_WRJ0` |
    | 2 | hand 1 first finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_FFJ3` |
    | 3 | hand 1 first finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_FFJ2` |
    | 4 | hand 1 first finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_FFJ1` |
    | 5 | hand 1 middle finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_MFJ3` |
    | 6 | hand 1 middle finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_MFJ2` |
    | 7 | hand 1 middle finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_MFJ1` |
    | 8 | hand 1 ring finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_RFJ3` |
    | 9 | hand 1 ring finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_RFJ2` |
    | 10 | hand 1 ring finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_RFJ1` |
    | 11 | hand 1 little finger CMC (rad) | 0 | 0.785 | `robot0:A_LFJ4` |
    | 12 | hand 1 little finger MCP, abduction (rad) | -0.349 | 0.349 | `robot0:A_LFJ3` |
    | 13 | hand 1 little finger MCP, flexion (rad) | 0 | 1.571 | `robot0:A_LFJ2` |
    | 14 | hand 1 little finger PIP flexion, DIP coupled (rad) | 0 | 1.571 | `robot0:A_LFJ1` |
    | 15 | hand 1 thumb CMC, horizontal (rad) | -1.047 | 1.047 | `robot0:A_THJ4` |
    | 16 | hand 1 thumb CMC, vertical (rad) | 0 | 1.222 | `robot0:A_THJ3` |
    | 17 | hand 1 thumb MCP, abduction (rad) | -0.209 | 0.209 | `robot0:A_THJ2` |
    | 18 | hand 1 thumb MCP, flexion (rad) | -0.524 | 0.524 | `robot0:A_THJ1` |
    | 19 | hand 1 thumb IP, flexion (rad) | -1.571 | 0 | `robot0:A_THJ0` |
    | 20-39 | hand 2: the same 20, in the same order | | | `robot0:A_WRJ1_2` ... `robot0:A_THJ0_2` |
    | 40-45 | hand 2 mount: slide x, y, z, hinge x, y, z (moving hands only) | -1 | 1 | `A_Translation_x_2` ... `A_Rotation_z_2` |
    | 46-51 | hand 1 mount: slide x, y, z, hinge x, y, z (moving hands only) | -1 | 1 | `A_Translation_x` ... `A_Rotation_z` |

    Hand 2's mount comes before hand 1's, as the original orders its actuators.

    ## Observation Space

    A ``Dict`` of float64 ``Box(-inf, inf)`` spaces:

    * ``observation``: 109 (HandOver), 133 (one object, moving hands) or 146 (two objects)
      numbers, indexed as below. Hand joints are in the stock order WRJ1, WRJ0, FFJ3, FFJ2,
      FFJ1, FFJ0, MFJ3 ... MFJ0, RFJ3 ... RFJ0, LFJ4 ... LFJ0, THJ4 ... THJ0 (24 joints); with
      moving hands the six mount DoFs (slide x, y, z in m, hinge x, y, z in rad) come first.
    * ``achieved_goal``: the object pose, position (3, m, world) then quaternion (4, w x y z);
      two objects: object 1's pose then object 2's (14).
    * ``desired_goal``: the goal pose(s), in the same layout.

    | Num (HandOver) | Num (moving, 1 object) | Num (2 objects) | Observation | Unit |
    |---|---|---|---|---|
    | 0-23 | 0-29 | 0-29 | hand 1 joint positions (mount first) | rad (slides: m) |
    | 24-47 | 30-59 | 30-59 | hand 1 joint velocities | rad/s (slides: m/s) |
    | 48-71 | 60-89 | 60-89 | hand 2 joint positions (names with `_2`) | rad (slides: m) |
    | 72-95 | 90-119 | 90-119 | hand 2 joint velocities | rad/s (slides: m/s) |
    | 96-98 | 120-122 | 120-122 | object position (world) | m |
    | 99-102 | 123-126 | 123-126 | object orientation, quaternion w, x, y, z | - |
    | 103-105 | 127-129 | 127-129 | object linear velocity (world frame) | m/s |
    | 106-108 | 130-132 | 130-132 | object angular velocity (object frame) | rad/s |
    | | | 133-145 | object 2: position, quaternion, linear and angular velocity | as above |

    ## Rewards

    With d_pos the distance between achieved and desired position (m) and d_rot =
    2 arccos(clip(<q_achieved, q_desired>, -1, 1)) the rotation angle between the quaternions
    (rad; q and -q are not identified, as the original), per object:

    * dense (IDs without ``Sparse``): sum over objects of exp(-k (m d_pos + d_rot)), with k and
      m (``dist_multiplier``) from the table; in (0, 1] per object.
    * sparse: is_success - 1, in {-1, 0}; success means every object is within
      ``distance_threshold`` (0.01 m) and ``rotation_threshold`` (0.1 rad) of its goal.

    With ``target_rotation="ignore"`` d_rot enters neither. :meth:`compute_reward` gives the same
    reward for any batch of goals (for HER relabelling); ``step``, :meth:`compute_reward` and the
    batched rollouts all take it from :meth:`evaluate_goals`. ``info`` holds ``is_success``, the
    distances the reward is made of, ``d_pos`` and ``d_rot`` (two objects: ``d_pos_1``,
    ``d_rot_1``, ``d_pos_2``, ``d_rot_2``; d_rot is reported even when ignored), and
    ``simulation_unstable``.

    ## Starting State

    "Settled" families start from the scene's initial state (all hand joints 0, the object
    resting above hand 1's palm in HandOver and hand 2's in the catch families, object 2 above
    hand 1's), give eggs and blocks a random initial rotation (angle U(-pi, pi) about an axis
    drawn from U([-1, 1]^3), normalised: not uniform on SO(3), as the original; pens are not
    rotated), then run 10 zero-action steps (0.4 s) to let the object settle; a start where
    MuJoCo diverges is retried. CatchOverarm starts from a recorded snapshot of hand 2 cradling
    the object (:data:`dexterous_gym.tasks.OVERARM_HAND_QPOS`), without settling or rotation.

    The goal position is drawn uniformly from the goal box farther from object 1 (in every
    task: ``target_range_2`` for object 1, next to the other hand; with two objects object 2's
    goal is drawn from ``target_range_1``, so the objects swap hands). Its orientation follows
    ``target_rotation``: "xyz" as the random rotation above, "z" about the vertical only,
    "ignore" the fixed quaternion (0.5, 0.5, 0.5, 0.5). Reset info holds ``is_success``.

    ``reset(options={"state": s})`` starts from a :meth:`get_state` vector instead (see
    :meth:`reset`).

    ## Episode End

    The episode never terminates (a dropped object is not detected, as the original). It is
    truncated after 75 steps (3 s) by gym.make's TimeLimit, and at once if MuJoCo diverges
    (``info["simulation_unstable"]``).

    ## Arguments

    | Argument | Default | Meaning |
    |---|---|---|
    | `task` | `"EggHandOver-v0"` | an env ID from the table or a :class:`~dexterous_gym.tasks.Task` |
    | `reward_type` | the ID's | `"dense"` or `"sparse"` |
    | `target_rotation` | `"xyz"` | `"xyz"`, `"z"` or `"ignore"`: how goal orientations are drawn and scored |
    | `target_range_1`, `target_range_2` | the family's | goal boxes, `[[x_lo, x_hi], [y_lo, y_hi], [z_lo, z_hi]]` |
    | `distance_threshold` | 0.01 | success distance (m) |
    | `rotation_threshold` | 0.1 | success angle (rad) |
    | `dist_multiplier` | the family's m | weight of d_pos in the dense reward |
    | `randomise_initial_rotation` | True for eggs and blocks | random initial object rotation (ignored by CatchOverarm) |
    | `n_substeps` | 20 | physics steps of 2 ms per env step |
    | `render_mode`, `width`, `height` | None, 500, 500 | `"human"`, `"rgb_array"` or `"depth_array"` and the frame size |

    ## Version History

    * v0: the IDs, episode lengths and defaults of the original Dexterous Gym code (gym 0.15
      and mujoco-py), rebuilt on Gymnasium and the ``mujoco`` bindings; the differences are
      listed in CHANGELOG.md.
    """

    def __init__(
        self,
        task: str | Task = "EggHandOver-v0",
        reward_type: str | None = None,
        target_rotation: str = "xyz",
        target_range_1: ArrayLike | None = None,
        target_range_2: ArrayLike | None = None,
        distance_threshold: float = 0.01,
        rotation_threshold: float = 0.1,
        dist_multiplier: float | None = None,
        randomise_initial_rotation: bool | None = None,
        n_substeps: int = 20,
        render_mode: str | None = None,
        width: int = DEFAULT_SIZE,
        height: int = DEFAULT_SIZE,
    ) -> None:
        init_kwargs = constructor_arguments(locals())
        if not isinstance(task, str | Task):
            raise TypeError(f"task must be a two-hand env ID or a Task, got {describe(task)}")
        if isinstance(task, str):
            if task not in TASKS_BY_ID:
                raise ValueError(
                    f"task must be a two-hand env ID such as 'EggHandOver-v0', got {task!r}; see dexterous_gym.tasks.TASKS_BY_ID"
                )
            task = TASKS_BY_ID[task]
        if task.family not in FAMILIES or task.object not in OBJECTS:
            raise ValueError(f"task has an unknown family or object: {task!r}")
        reward_type = task.reward_type if reward_type is None else reward_type
        check_choice(reward_type, "reward_type", REWARD_TYPES)
        check_choice(target_rotation, "target_rotation", TARGET_ROTATIONS)
        distance_threshold = check_real(distance_threshold, "distance_threshold", positive=True)
        rotation_threshold = check_real(rotation_threshold, "rotation_threshold", positive=True)
        if dist_multiplier is not None:  # a negative weight would reward moving away
            dist_multiplier = check_real(dist_multiplier, "dist_multiplier", minimum=0.0)
        if randomise_initial_rotation is not None:
            check_bool(randomise_initial_rotation, "randomise_initial_rotation")

        self.task = task
        self.family = family = FAMILIES[task.family]
        self.max_episode_steps = family.max_episode_steps
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
            model=two_hand_model(task.family, task.object),
            scene=two_hand_scene(task.family, task.object),
            camera=two_hand_camera(task.family),
            n_substeps=n_substeps,
            goal_size=goals.GOAL_DIM * self.n_objects,
            render_mode=render_mode,
            width=width,
            height=height,
            init_kwargs=init_kwargs,
        )
        self._build_indices()
        n_obs = self._obs_index.shape[0]
        box = lambda n: gym.spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float64)  # noqa: E731
        self.observation_space = gym.spaces.Dict(
            {
                "observation": box(n_obs),
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
        index: list[int] = []
        for joints in hands:  # every hand joint is a 1-DoF joint: one qpos, one qvel each
            index += [model.jnt_qposadr[j] for j in joints]
            index += [nq + model.jnt_dofadr[j] for j in joints]
        object_qpos: list[int] = []
        target_qpos: list[int] = []
        target_qvel: list[int] = []
        for suffix in ("", "_2")[: self.n_objects]:
            q = model.joint(f"object{suffix}:joint").qposadr[0]
            v = model.joint(f"object{suffix}:joint").dofadr[0]
            index += list(range(q, q + 7)) + list(range(nq + v, nq + v + 6))
            object_qpos += list(range(q, q + 7))
            tq = model.joint(f"target{suffix}:joint").qposadr[0]
            tv = model.joint(f"target{suffix}:joint").dofadr[0]
            target_qpos += list(range(tq, tq + 7))
            target_qvel += list(range(tv, tv + 6))
        self._obs_index = np.array(index)
        self._object_qpos = np.array(object_qpos)
        self._target_qpos = target_qpos
        self._target_qvel = target_qvel

    # --- the reward function --------------------------------------------------------------------

    def evaluate_goals(self, achieved_goal: ArrayLike, desired_goal: ArrayLike) -> Evaluation:
        """Reward, success and distances for achieved/desired goals of any (equal) batch shape.

        The env's one reward function: ``step``, :meth:`compute_reward`, :meth:`compute_success`
        and the batched rollouts (through :meth:`evaluate`) all use it. Goals whose last
        dimension is not this env's goal size (7 per object) raise ValueError; values that are not
        real numbers TypeError.
        """
        plural = "s" if self.n_objects > 1 else ""
        achieved_goal, desired_goal = self._goal_arrays(
            achieved_goal, desired_goal, f"{self.n_objects} object{plural} x 7"
        )
        d_pos, d_rot = goals.goal_distances(achieved_goal, desired_goal)
        ignore = self.target_rotation == "ignore"
        success = goals.success_from_distances(
            d_pos, d_rot, self.distance_threshold, self.rotation_threshold, ignore
        )
        dense = goals.dense_reward_from_distances(
            d_pos, d_rot, self.reward_prefactor, self.dist_multiplier, ignore
        )
        reward = success - 1.0 if self.reward_type == "sparse" else dense
        if self.n_objects == 1:
            terms = {"d_pos": d_pos[..., 0], "d_rot": d_rot[..., 0]}
        else:
            terms = {}
            for k in range(self.n_objects):
                terms[f"d_pos_{k + 1}"] = d_pos[..., k]
                terms[f"d_rot_{k + 1}"] = d_rot[..., k]
        return Evaluation(reward, dense, success, np.asarray(achieved_goal), terms)

    def _goal_problems(self, goal_batch: np.ndarray) -> list[StateProblem]:
        """Each object's goal: a unit quaternion and a position inside one of the goal boxes."""
        problems = []
        boxes = (self.target_range_1, self.target_range_2)
        for k in range(self.n_objects):
            pose = goal_batch[:, 7 * k : 7 * k + 7]
            label = f"goal {k + 1} (entries {self.state_layout.physics_size + 7 * k}-"
            label += f"{self.state_layout.physics_size + 7 * k + 6})"
            where = f"target_range_1 {self.target_range_1} or target_range_2 {self.target_range_2}"
            problems += pose_goal_problems(pose, label, boxes, where)
        return problems

    # --- random starts and goals ----------------------------------------------------------------

    def _reset_simulation(self) -> bool:
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
                rotated = goals.quat_multiply(qpos[quat_index], offset)
                qpos[quat_index] = rotated / np.linalg.norm(rotated)
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
