"""Goal sampling, distances, success and rewards, vectorised over any leading batch shape.

A goal is an object pose (x, y, z, qw, qx, qy, qz). Two-object tasks use flat 14-vectors:
object 1's pose then object 2's. Every function here accepts arrays of shape (..., 7 * n_objects)
so that Stable-Baselines3's HER (which relabels batches) and the batched rollouts share one
definition of each reward with ``env.step``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from dexterous_gym.tasks import Box3

GOAL_DIM = 7


def goal_distances(achieved: ArrayLike, desired: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Position and rotation distances per object: two arrays of shape (..., n_objects).

    d_rot = 2 * arccos(clip(w(q_a * conj(q_d)), -1, 1)), as the original; the real part of that
    product is the 4-d dot product. There is no absolute value, so q and -q are *not* treated as
    equal (d_rot in [0, 2 pi]); this is the original task's metric and is kept.
    """
    achieved = np.asarray(achieved, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    if achieved.shape[-1] % GOAL_DIM or desired.shape[-1] != achieved.shape[-1]:
        raise ValueError(
            f"goals must have a last dimension that is a multiple of {GOAL_DIM} and match; "
            f"got achieved {achieved.shape} and desired {desired.shape}"
        )
    n_objects = achieved.shape[-1] // GOAL_DIM
    a = achieved.reshape(*achieved.shape[:-1], n_objects, GOAL_DIM)
    d = desired.reshape(*desired.shape[:-1], n_objects, GOAL_DIM)
    d_pos = np.linalg.norm(a[..., :3] - d[..., :3], axis=-1)
    real_part = np.einsum("...i,...i->...", a[..., 3:], d[..., 3:])
    # clip to [-1, 1] as maximum then minimum: np.clip's values without its per-call wrapper
    d_rot = 2.0 * np.arccos(np.minimum(np.maximum(real_part, -1.0), 1.0))
    return d_pos, d_rot


def success(
    achieved: ArrayLike,
    desired: ArrayLike,
    distance_threshold: float,
    rotation_threshold: float,
    ignore_rotation: bool = False,
) -> np.ndarray:
    """1.0 where every object is within both thresholds, else 0.0; shape (...)."""
    d_pos, d_rot = goal_distances(achieved, desired)
    return success_from_distances(
        d_pos, d_rot, distance_threshold, rotation_threshold, ignore_rotation
    )


def dense_reward(
    achieved: ArrayLike,
    desired: ArrayLike,
    prefactor: float,
    dist_multiplier: float,
    ignore_rotation: bool = False,
) -> np.ndarray:
    """sum over objects of exp(-prefactor * (dist_multiplier * d_pos + d_rot)); shape (...)."""
    d_pos, d_rot = goal_distances(achieved, desired)
    return dense_reward_from_distances(d_pos, d_rot, prefactor, dist_multiplier, ignore_rotation)


def success_from_distances(
    d_pos: np.ndarray,
    d_rot: np.ndarray,
    distance_threshold: float,
    rotation_threshold: float,
    ignore_rotation: bool = False,
) -> np.ndarray:
    """:func:`success` from the per-object distances of :func:`goal_distances`."""
    ok = d_pos < distance_threshold
    if not ignore_rotation:
        ok &= d_rot < rotation_threshold
    return np.all(ok, axis=-1).astype(np.float64)


def dense_reward_from_distances(
    d_pos: np.ndarray,
    d_rot: np.ndarray,
    prefactor: float,
    dist_multiplier: float,
    ignore_rotation: bool = False,
) -> np.ndarray:
    """:func:`dense_reward` from the per-object distances of :func:`goal_distances`."""
    if ignore_rotation:
        d_rot = np.zeros_like(d_rot)
    return np.exp(-prefactor * (dist_multiplier * d_pos + d_rot)).sum(axis=-1)


def random_rotation(rng: np.random.Generator, mode: str) -> np.ndarray:
    """A target orientation as the original samples it.

    "xyz": angle ~ U(-pi, pi), axis ~ U([-1, 1]^3) normalised (not uniform on SO(3), as the
    original); "z": the same about the z axis; "ignore": the fixed (0.5, 0.5, 0.5, 0.5).
    """
    if mode == "ignore":
        return np.full(4, 0.5)
    angle = rng.uniform(-np.pi, np.pi)
    axis = np.array([0.0, 0.0, 1.0]) if mode == "z" else rng.uniform(-1.0, 1.0, size=3)
    axis = axis / np.linalg.norm(axis)
    quat = np.concatenate(([np.cos(angle / 2.0)], np.sin(angle / 2.0) * axis))
    return quat / np.linalg.norm(quat)


def quat_multiply(q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Hamilton product of (w, x, y, z) quaternions."""
    w0, x0, y0, z0 = q0
    w1, x1, y1, z1 = q1
    return np.array(
        [
            w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1,
            w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
            w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1,
            w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1,
        ]
    )


def box_centre(box: Box3) -> np.ndarray:
    """Per-axis midpoint of a goal box (lows, highs)."""
    lows, highs = box
    return (np.asarray(lows) + np.asarray(highs)) / 2.0
