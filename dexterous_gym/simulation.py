"""The MuJoCo side every env shares: action mapping, stepping, the state vector, rendering.

Kept apart from the Gymnasium classes so that the env classes hold only task logic, and so that
the batched rollouts (:mod:`dexterous_gym.rollout`) use the very same action mapping and state
layout as ``env.step``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import NamedTuple

import mujoco
import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym.validation import real_array

# Everything mj_step reads: time, qpos, qvel, act, warm-start accelerations, ctrl, applied forces,
# mocap poses, user data. Restoring it makes replay bitwise identical.
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
# mj_step resets the data and bumps one of these when the simulation diverges. They are adjacent
# in mjtWarning, so one slice of the counters holds them (cheaper than an index array per step).
_BAD_STATE_WARNINGS = tuple(
    int(w)
    for w in (
        mujoco.mjtWarning.mjWARN_BADQPOS,
        mujoco.mjtWarning.mjWARN_BADQVEL,
        mujoco.mjtWarning.mjWARN_BADQACC,
    )
)
if max(_BAD_STATE_WARNINGS) - min(_BAD_STATE_WARNINGS) != len(_BAD_STATE_WARNINGS) - 1:
    raise RuntimeError("unexpected mjtWarning order in this MuJoCo version")  # pragma: no cover
_DIVERGENCE_WARNINGS = slice(min(_BAD_STATE_WARNINGS), max(_BAD_STATE_WARNINGS) + 1)


# The components of an mjtState vector, in the order MuJoCo lays them out (by bit).
_STATE_COMPONENTS = (
    ("time", mujoco.mjtState.mjSTATE_TIME),
    ("qpos", mujoco.mjtState.mjSTATE_QPOS),
    ("qvel", mujoco.mjtState.mjSTATE_QVEL),
    ("act", mujoco.mjtState.mjSTATE_ACT),
    ("warmstart", mujoco.mjtState.mjSTATE_WARMSTART),
    ("ctrl", mujoco.mjtState.mjSTATE_CTRL),
    ("qfrc_applied", mujoco.mjtState.mjSTATE_QFRC_APPLIED),
    ("xfrc_applied", mujoco.mjtState.mjSTATE_XFRC_APPLIED),
    ("eq_active", mujoco.mjtState.mjSTATE_EQ_ACTIVE),
    ("mocap_pos", mujoco.mjtState.mjSTATE_MOCAP_POS),
    ("mocap_quat", mujoco.mjtState.mjSTATE_MOCAP_QUAT),
    ("userdata", mujoco.mjtState.mjSTATE_USERDATA),
    ("plugin", mujoco.mjtState.mjSTATE_PLUGIN),
)


def state_slices(model: mujoco.MjModel, spec: int = STATE_SPEC) -> dict[str, slice]:
    """Where each component (``time``, ``qpos``, ``ctrl`` ...) lies in an ``mj_getState`` vector."""
    slices: dict[str, slice] = {}
    start = 0
    for name, bit in _STATE_COMPONENTS:
        if int(spec) & int(bit):
            size = mujoco.mj_stateSize(model, bit)
            slices[name] = slice(start, start + size)
            start += size
    if start != mujoco.mj_stateSize(model, spec):  # pragma: no cover - a new MuJoCo layout
        raise RuntimeError("unexpected mjtState layout in this MuJoCo version")
    return slices


class Simulation:
    """A compiled model, its data, and the original's action-to-ctrl mapping.

    ctrl_i = clip(c_i + a_i * h_i, lo_i, hi_i) with c, h the centre and half-width of actuator i's
    ctrlrange, after clipping the action to [-1, 1] (the original's "absolute" control).
    """

    def __init__(self, model: mujoco.MjModel, n_substeps: int) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.n_substeps = int(n_substeps)
        low, high = model.actuator_ctrlrange.T.copy()
        self.ctrl_low, self.ctrl_high = low, high
        self.ctrl_centre = (low + high) / 2.0
        self.ctrl_half_range = (high - low) / 2.0
        self.physics_state_size = mujoco.mj_stateSize(model, STATE_SPEC)
        self._warnings = self.data.warning.number  # a live view

    @property
    def n_actions(self) -> int:
        return self.model.nu

    def validate_action(self, action: ArrayLike) -> np.ndarray:
        """The action as float64, or ValueError naming the expected shape (TypeError for values that
        are not real numbers); the sim is untouched."""
        array = real_array(action, "action", f"an array of {self.model.nu} floats")
        if array.shape != (self.model.nu,):
            raise ValueError(
                f"action must have shape ({self.model.nu},), got {array.shape} "
                f"(from {type(action).__name__})"
            )
        if not np.isfinite(array).all():
            raise ValueError(
                f"action must be finite, got NaN or inf at {np.flatnonzero(~np.isfinite(array)).tolist()}"
            )
        return array

    def ctrl_from_actions(self, actions: np.ndarray) -> np.ndarray:
        """Map actions of shape (..., nu) to ctrl; vectorised for the batched rollouts.

        Clipping is written as maximum then minimum: the same values as ``np.clip`` for the
        finite actions and ranges used here, without its Python-level wrapper on every step."""
        clipped = np.minimum(np.maximum(actions, -1.0), 1.0)
        ctrl = self.ctrl_centre + clipped * self.ctrl_half_range
        return np.minimum(np.maximum(ctrl, self.ctrl_low), self.ctrl_high)

    def step(self, action: np.ndarray) -> bool:
        """Advance one env step (n_substeps physics steps). Returns True if MuJoCo diverged.

        The divergence counters are cleared first: MuJoCo's reset after a divergence clears them
        and then counts 1, so comparing counts before and after would miss every divergence after
        the first on the same data.
        """
        self._warnings[_DIVERGENCE_WARNINGS] = 0
        self.data.ctrl[:] = self.ctrl_from_actions(action)
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        return bool(self._warnings[_DIVERGENCE_WARNINGS].any())

    def reset(self) -> None:
        """Back to the model's initial state (qpos0, zero velocities, cleared warm start)."""
        mujoco.mj_resetData(self.model, self.data)

    def forward(self) -> None:
        """Recompute derived quantities (positions, contacts) after editing qpos/qvel."""
        mujoco.mj_forward(self.model, self.data)

    def physics_state(self) -> np.ndarray:
        """MuJoCo's integration state (``mjSTATE_INTEGRATION``) as a new float64 vector."""
        state = np.empty(self.physics_state_size)
        mujoco.mj_getState(self.model, self.data, state, STATE_SPEC)
        return state

    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a vector from :meth:`physics_state` and recompute derived quantities."""
        mujoco.mj_setState(self.model, self.data, state, STATE_SPEC)
        self.forward()

    def is_finite(self) -> bool:
        """Whether qpos and qvel hold no NaN or inf."""
        return bool(np.isfinite(self.data.qpos).all() and np.isfinite(self.data.qvel).all())


MODEL_TAG_LIMIT = 2**31  # a model tag is an integer in [0, MODEL_TAG_LIMIT)


def model_tag(scene: str) -> int:
    """The model tag of a scene: an integer in [0, 2**31) from the scene's name, such as
    ``"two_hands/HandOver/egg"`` (see :mod:`dexterous_gym.scenes`).

    Computed from the name alone (CRC-32, top bit cleared), never from the compiled model, so it
    is the same on every machine and every MuJoCo version. Held exactly by a float64.
    """
    return zlib.crc32(scene.encode("utf-8")) & (MODEL_TAG_LIMIT - 1)


class StateParts(NamedTuple):
    """The four parts of ``get_state()`` vectors (views, with the vectors' leading batch shape)."""

    physics: np.ndarray  # (..., physics_size): MuJoCo's integration state
    goal: np.ndarray  # (..., goal_size): the desired goal; empty for envs without a goal
    step_count: np.ndarray  # (...): env steps taken this episode, as float64
    model_tag: np.ndarray  # (...): the model tag of the scene the state is from, as float64


@dataclass(frozen=True)
class StateLayout:
    """Where each part lies in a ``get_state()`` vector: physics, then goal, then step count,
    then the model tag of the env's scene (:func:`model_tag` of ``scene``).

    The one place that knows the layout: envs, batched rollouts, planners and the baselines'
    files split and join state vectors with it instead of slicing by hand.
    """

    physics_size: int
    goal_size: int
    scene: str  # the scene's stable name, e.g. "two_hands/HandOver/egg"

    @property
    def size(self) -> int:
        """Length of one state vector."""
        return self.physics_size + self.goal_size + 2

    @property
    def model_tag(self) -> int:
        """The tag that the last entry of this layout's state vectors holds."""
        return model_tag(self.scene)

    def split(self, states: ArrayLike) -> StateParts:
        """The parts of one state vector or of a batch of shape (..., size), as views."""
        states = np.asarray(states)
        if states.ndim == 0 or states.shape[-1] != self.size:
            raise ValueError(
                f"states must have a last dimension of {self.size} (from get_state()), "
                f"got shape {states.shape}"
            )
        goal_end = self.physics_size + self.goal_size
        return StateParts(
            states[..., : self.physics_size],
            states[..., self.physics_size : goal_end],
            states[..., goal_end],
            states[..., goal_end + 1],
        )

    def join(self, physics: ArrayLike, goal: ArrayLike, step_count: ArrayLike) -> np.ndarray:
        """One state vector, or a batch: the parts broadcast against each other's batch shape;
        the model tag is this layout's."""
        physics, goal = np.asarray(physics, dtype=np.float64), np.asarray(goal, dtype=np.float64)
        step_count = np.asarray(step_count, dtype=np.float64)
        batch = np.broadcast_shapes(physics.shape[:-1], goal.shape[:-1], step_count.shape)
        parts = (
            np.broadcast_to(physics, (*batch, self.physics_size)),
            np.broadcast_to(goal, (*batch, self.goal_size)),
            np.broadcast_to(step_count[..., None], (*batch, 1)),
            np.full((*batch, 1), float(self.model_tag)),
        )
        return np.concatenate(parts, axis=-1)


# --- validating state vectors: what every get_state() vector of a model satisfies ---------------

MAX_STEP_COUNT = 2**31  # a state's step count is an integer in [0, MAX_STEP_COUNT]
QUAT_NORM_TOLERANCE = 1e-6  # |norm - 1| of a free joint's quaternion (MuJoCo keeps ~1e-15)
CTRL_TOLERANCE = 1e-9  # relative to an actuator's control range: ctrl read back from MuJoCo


def check_state_vector(state: ArrayLike, layout: StateLayout, name: str = "state") -> np.ndarray:
    """A flat finite float64 vector of ``layout.size``, or ValueError saying what was wrong
    (TypeError for values that are not real numbers)."""
    expected_size = layout.size
    dtype = getattr(state, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8:
        # float32 rounds the model tag (an integer near 2**30) and the physics: refuse it plainly
        raise ValueError(
            f"{name} must be float64, as get_state() returns it; got a {dtype} copy, which has "
            "lost precision"
        )
    array = real_array(state, name, f"a flat array of {expected_size} floats (from get_state())")
    if array.ndim != 1 or array.shape[0] != expected_size:
        raise ValueError(
            f"{name} must be a flat array of {expected_size} floats (from get_state()), "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return array


StateProblem = tuple[np.ndarray, str]  # (bad: a bool mask over the batch, what must hold)


@dataclass(frozen=True)
class PhysicsBounds:
    """Where the checked entries of one model's state vectors lie and the control ranges they
    must respect: :func:`state_problems` reads them for every batch it checks."""

    time_at: int  # the time's entry
    free_joint_quats: tuple[tuple[str, int], ...]  # (joint name, entry of its quaternion's w)
    ctrl: slice  # the controls' entries
    ctrl_low: np.ndarray
    ctrl_high: np.ndarray

    @classmethod
    def of_model(cls, model: mujoco.MjModel) -> PhysicsBounds:
        slices = state_slices(model)
        qpos_at = slices["qpos"].start
        free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        low, high = model.actuator_ctrlrange.T.copy()
        return cls(
            time_at=slices["time"].start,
            free_joint_quats=tuple(
                (model.joint(j).name, qpos_at + int(model.jnt_qposadr[j]) + 3) for j in free
            ),
            ctrl=slices["ctrl"],
            ctrl_low=low,
            ctrl_high=high,
        )


def state_problems(parts: StateParts, layout: StateLayout, bounds: PhysicsBounds) -> list[StateProblem]:  # fmt: skip
    """What a batch of states (``layout.split`` of shape (n, size)) must satisfy apart from its
    model tag and its goal: a step count that is an integer in [0, 2**31], a time >= 0, unit
    quaternions (to 1e-6) in every free joint, and controls inside the actuators' ranges."""
    count, physics = parts.step_count, parts.physics
    count_at = layout.physics_size + layout.goal_size
    problems: list[StateProblem] = [
        (
            (count < 0) | (count > MAX_STEP_COUNT) | (count != np.floor(count)),
            f"its step count (entry {count_at}) must be an integer in [0, {MAX_STEP_COUNT}]",
        ),
        (physics[:, bounds.time_at] < 0, "its time (entry 0) must be >= 0"),
    ]
    for joint, at in bounds.free_joint_quats:
        norm = np.linalg.norm(physics[:, at : at + 4], axis=-1)
        problems.append(
            (
                np.abs(norm - 1.0) > QUAT_NORM_TOLERANCE,
                f"the quaternion of free joint {joint!r} (entries {at}-{at + 3}) must have norm 1",
            )
        )
    ctrl = physics[:, bounds.ctrl]
    tol = CTRL_TOLERANCE * (1.0 + np.abs(bounds.ctrl_high - bounds.ctrl_low))
    outside = (ctrl < bounds.ctrl_low - tol) | (ctrl > bounds.ctrl_high + tol)
    problems.append(
        (
            np.any(outside, axis=-1),
            f"its controls (entries {bounds.ctrl.start}-{bounds.ctrl.stop - 1}) must lie in the "
            "actuators' control ranges",
        )
    )
    return problems
