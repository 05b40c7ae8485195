"""The task table: every Dexterous Gym environment is a row of data.

Numbers are those of the original Dexterous Gym code (dexterous-gym 0.1.7, the suite of Charlesworth
& Montana, "Solving Challenging Dexterous Manipulation Tasks With Trajectory Optimisation and
Reinforcement Learning", ICML 2021). Families differ in hand placement, goal ranges and reward
shaping; objects differ in geometry; dense and sparse variants differ only in the reward. Nothing
here builds a model or an env: :mod:`dexterous_gym.scenes` and :mod:`dexterous_gym.envs` read these
rows, and :func:`family_table` writes them as the Markdown table of the env documentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Vec3 = tuple[float, float, float]
Box3 = tuple[Vec3, Vec3]  # per-axis (lo, hi): ((x_lo, y_lo, z_lo), (x_hi, y_hi, z_hi))

OBJECTS = ("egg", "block", "pen")


def _box(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float]) -> Box3:
    """A goal-position box from per-axis (lo, hi) pairs, stored as (lows, highs)."""
    return (x[0], y[0], z[0]), (x[1], y[1], z[1])


@dataclass(frozen=True)
class Family:
    """One scene family: where the hands sit, where goals go, how the dense reward is shaped."""

    name: str
    id_template: str  # "{Object}" is replaced by Egg / Block / Pen
    moving_hands: bool  # six actuated mount DoFs per hand
    two_objects: bool
    hand1_mount: tuple[Vec3, Vec3]  # (pos, euler xyz)
    hand2_mount: tuple[Vec3, Vec3]
    floor_z: float
    object_pos: Vec3
    object2_pos: Vec3 | None
    target_pos: Vec3
    target2_pos: Vec3 | None
    target_range_1: Box3
    target_range_2: Box3
    reward_prefactor: float  # dense r = exp(-prefactor * (dist_multiplier * d_pos + d_rot))
    dist_multiplier: float
    fixed_start: bool  # Overarm: start from a recorded state, no settle, no random rotation
    camera_lookat: Vec3  # the invisible `centre-point` site
    camera_distance: float
    camera_elevation: float
    max_episode_steps: int = 75


_HAND1_UNDERARM = ((1.0, 1.35, 0.35), (1.5708, 0.0, 3.14159))
_HAND2_UNDERARM = ((1.0, 0.00, 0.35), (1.5708, 3.14159, 3.14159))

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="HandOver",
            id_template="{Object}HandOver",
            moving_hands=False,
            two_objects=False,
            hand1_mount=((1.0, 1.25, 0.15), (1.5708, 0.0, 3.14159)),
            hand2_mount=((1.0, 0.25, 0.15), (1.5708, 3.14159, 3.14159)),
            floor_z=0.0,
            object_pos=(1.0, 0.87, 0.2),
            object2_pos=None,
            target_pos=(1.04, 0.89, 0.2),
            target2_pos=None,
            target_range_1=_box((0.96, 1.04), (0.81, 0.89), (0.2, 0.26)),
            target_range_2=_box((0.96, 1.04), (0.60, 0.68), (0.2, 0.26)),
            reward_prefactor=1.0,
            dist_multiplier=20.0,
            fixed_start=False,
            camera_lookat=(1.0, 0.75, 0.2),
            camera_distance=1.2,
            camera_elevation=-55.0,
        ),
        Family(
            name="CatchUnderarm",
            id_template="{Object}CatchUnderarm",
            moving_hands=True,
            two_objects=False,
            hand1_mount=_HAND1_UNDERARM,
            hand2_mount=_HAND2_UNDERARM,
            floor_z=-1.0,
            object_pos=(1.0, 0.35, 0.4),
            object2_pos=None,
            target_pos=(1.0, 0.7, 0.2),
            target2_pos=None,
            target_range_1=_box((0.9, 1.1), (0.33, 0.5), (0.1, 0.4)),
            target_range_2=_box((0.9, 1.1), (0.85, 1.02), (0.1, 0.4)),
            reward_prefactor=0.2,
            dist_multiplier=50.0,
            fixed_start=False,
            camera_lookat=(1.0, 0.7, 0.3),
            camera_distance=1.5,
            camera_elevation=-55.0,
        ),
        Family(
            name="CatchUnderarmHard",
            id_template="{Object}CatchUnderarmHard",
            moving_hands=True,
            two_objects=False,
            hand1_mount=((1.0, 1.65, 0.35), _HAND1_UNDERARM[1]),
            hand2_mount=((1.0, -0.30, 0.35), _HAND2_UNDERARM[1]),
            floor_z=-1.0,
            object_pos=(1.0, 0.05, 0.4),
            object2_pos=None,
            target_pos=(1.0, 0.7, 0.2),
            target2_pos=None,
            target_range_1=_box((0.97, 1.03), (0.08, 0.15), (0.15, 0.35)),
            target_range_2=_box((0.97, 1.03), (1.20, 1.27), (0.15, 0.35)),
            reward_prefactor=0.2,
            dist_multiplier=50.0,
            fixed_start=False,
            camera_lookat=(1.0, 0.7, 0.3),
            camera_distance=2.0,
            camera_elevation=-55.0,
        ),
        Family(
            name="CatchOverarm",
            id_template="{Object}CatchOverarm",
            moving_hands=True,
            two_objects=False,
            hand1_mount=((1.0, 1.35, 0.15), (0.0, 0.0, 0.0)),
            # Yaw 3.14, not pi: the original's 0.0016 rad asymmetry is kept (it is the task).
            hand2_mount=((1.0, 0.00, 0.15), (0.0, 0.0, 3.14)),
            floor_z=-1.0,
            object_pos=(1.0, 1.30, 0.45),
            object2_pos=None,
            target_pos=(1.0, 0.7, 0.2),
            target2_pos=None,
            target_range_1=_box((0.9, 1.1), (-0.05, 0.05), (0.4, 0.5)),
            target_range_2=_box((0.9, 1.1), (1.25, 1.35), (0.4, 0.5)),
            reward_prefactor=0.2,
            dist_multiplier=50.0,
            fixed_start=True,
            camera_lookat=(1.0, 0.7, 0.4),
            camera_distance=1.5,
            camera_elevation=-15.0,
        ),
        Family(
            name="TwoCatchUnderarm",
            id_template="Two{Object}CatchUnderArm",  # capital A: the original registry's spelling
            moving_hands=True,
            two_objects=True,
            hand1_mount=_HAND1_UNDERARM,
            hand2_mount=_HAND2_UNDERARM,
            floor_z=-1.0,
            object_pos=(1.0, 0.35, 0.4),
            object2_pos=(1.0, 1.0, 0.4),
            target_pos=(1.0, 0.7, 0.2),
            target2_pos=(1.0, 0.7, 0.4),
            target_range_1=_box((0.97, 1.03), (0.38, 0.45), (0.15, 0.35)),
            target_range_2=_box((0.97, 1.03), (0.90, 0.97), (0.15, 0.35)),
            reward_prefactor=0.2,
            dist_multiplier=50.0,
            fixed_start=False,
            camera_lookat=(1.0, 0.7, 0.3),
            camera_distance=1.5,
            camera_elevation=-55.0,
        ),
    )
}


@dataclass(frozen=True)
class Task:
    """One registered environment: a family, an object and a reward type."""

    env_id: str
    family: str
    object: str
    reward_type: str

    @property
    def randomise_initial_rotation(self) -> bool:
        """Eggs and blocks start randomly rotated; pens never do; Overarm ignores the flag."""
        return self.object != "pen" and not FAMILIES[self.family].fixed_start


def _two_hand_tasks() -> list[Task]:
    tasks = []
    # Registration order of the original: families, then dense before sparse, then objects.
    for family in FAMILIES.values():
        for reward_type in ("dense", "sparse"):
            for obj in OBJECTS:
                base = family.id_template.format(Object=obj.capitalize())
                suffix = "Sparse" if reward_type == "sparse" else ""
                tasks.append(Task(f"{base}{suffix}-v0", family.name, obj, reward_type))
    return tasks


TWO_HAND_TASKS: tuple[Task, ...] = tuple(_two_hand_tasks())
TASKS_BY_ID: dict[str, Task] = {t.env_id: t for t in TWO_HAND_TASKS}

PEN_SPIN_ID = "PenSpin-v0"
PEN_SPIN_MAX_EPISODE_STEPS = 250

ALL_ENV_IDS: tuple[str, ...] = (*TASKS_BY_ID, PEN_SPIN_ID)  # the 31 IDs of the original suite

# SCDM's one-hand pen reorientation (gym's HandManipulatePen, modified; the paper's experiments
# name it HandPenMod): not part of the original suite, registered with it.
PEN_REORIENTATION_ID = "PenReorientation-v0"
PEN_REORIENTATION_MAX_EPISODE_STEPS = 100  # gymnasium-robotics' HandManipulatePen episode length
# stock HandManipulatePen goal offsets from the pen's start position, per axis (lo, hi), in m
PEN_REORIENTATION_TARGET_RANGE: Box3 = _box((-0.04, 0.04), (-0.06, 0.02), (0.0, 0.06))

EXTRA_ENV_IDS: tuple[str, ...] = (PEN_REORIENTATION_ID,)  # registered IDs beyond the original 31


def _box_text(box: Box3) -> str:
    lows, highs = box
    return ", ".join(
        f"{axis} [{lo:g}, {hi:g}]" for axis, lo, hi in zip("xyz", lows, highs, strict=True)
    )


def family_table() -> str:
    """The families as the Markdown table of the env documentation (``TwoHandsEnv``'s docstring
    and docs/dexterous_gym.md hold this text; a test keeps them equal to it)."""
    rows = [
        "| Family | IDs (dense / sparse) | Hands | Objects | Actions | Observation | Start "
        "| `target_range_1` (m) | `target_range_2` (m) | k | m |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family in FAMILIES.values():
        pattern = family.id_template.format(Object="{Object}")
        hand_dofs = 24 + (6 if family.moving_hands else 0)  # the mount DoFs come with the hand
        n_objects = 2 if family.two_objects else 1
        rows.append(
            f"| {family.name} | `{pattern}-v0` / `{pattern}Sparse-v0` "
            f"| {'moving' if family.moving_hands else 'fixed'} | {n_objects} "
            f"| {40 + (12 if family.moving_hands else 0)} | {4 * hand_dofs + 13 * n_objects} "
            f"| {'recorded' if family.fixed_start else 'settled'} "
            f"| {_box_text(family.target_range_1)} | {_box_text(family.target_range_2)} "
            f"| {family.reward_prefactor:g} | {family.dist_multiplier:g} |"
        )
    return "\n".join(rows)


# The Overarm start state (hand 1 mount 6, hand 1 joints 24, hand 2 mount 6, hand 2 joints 24):
# a recorded snapshot of hand 2 cradling the object, kept verbatim. Object and target poses are
# set separately (see OVERARM_OBJECT_POS).
OVERARM_HAND_QPOS = np.array(
    [
        # hand 1 mount Tx, Ty, Tz, Rx, Ry, Rz
        -1.69092e-16,
        1.28969e-13,
        -0.0983158,
        0.00671436,
        8.81387e-05,
        -6.18241e-07,
        # hand 1 WRJ1 ... THJ0
        0.00953895,
        0.00197672,
        0.000177327,
        0.00967983,
        0.00965064,
        0.0203301,
        0.000178503,
        0.0096801,
        0.00965076,
        0.0203529,
        0.000178503,
        0.00968019,
        0.00965077,
        0.0203259,
        0.00969491,
        0.000176805,
        0.00967987,
        0.00965127,
        0.021756,
        -0.000176283,
        0.00969183,
        0.000157871,
        0.00720181,
        -0.00959593,
        # hand 2 mount
        1.52536e-12,
        2.07967e-12,
        -0.0983158,
        -0.438026,
        6.86275e-06,
        3.1689e-06,
        # hand 2 WRJ1_2 ... THJ0_2
        -0.111061,
        -0.688919,
        -0.00154806,
        0.0115532,
        0.746703,
        0.994549,
        -0.0971119,
        0.201292,
        0.777997,
        0.885088,
        -0.0269409,
        0.0686252,
        0.903907,
        1.11351,
        0.00921815,
        -0.00116265,
        0.00948305,
        1.32187,
        1.56106,
        -0.322045,
        0.199435,
        0.0400855,
        -0.51436,
        -1.41563,
    ]
)
OVERARM_OBJECT_POS = (1.0, -0.2, 0.40267)
# The original starts the pen at the unnormalised quaternion (1, 1, 1, 1); we store its
# normalisation, which MuJoCo would reach after one step anyway (see CHANGELOG).
OVERARM_PEN_QUAT = (0.5, 0.5, 0.5, 0.5)


@dataclass(frozen=True)
class MountJoint:
    """One of the six actuated DoFs that let a catch-family hand move."""

    name: str
    kind: str  # "slide" or "hinge"
    axis: Vec3
    damping: float
    gain: float  # actuator gainprm[0]
    stiffness: float  # actuator biasprm[1] = -stiffness


MOUNT_JOINTS: tuple[MountJoint, ...] = (
    MountJoint("Translation_x", "slide", (1, 0, 0), 400.0, 100.0, 500.0),
    MountJoint("Translation_y", "slide", (0, 1, 0), 400.0, 100.0, 500.0),
    MountJoint("Translation_z", "slide", (0, 0, 1), 400.0, 40.0, 500.0),
    MountJoint("Rotation_x", "hinge", (1, 0, 0), 100.0, 500.0, 700.0),
    MountJoint("Rotation_y", "hinge", (0, 1, 0), 100.0, 200.0, 1000.0),
    MountJoint("Rotation_z", "hinge", (0, 0, 1), 100.0, 200.0, 1000.0),
)
